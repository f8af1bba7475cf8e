"""Sliding-window request limits per key (an email, a client address)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds for each key, in this process.

    Limits live in memory: a server restart forgets them, which errs on the side of
    letting a person sign in.
    """

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> int:
        """Count a hit; 0 when allowed, else the seconds to wait before retrying."""
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1, math.ceil(hits[0] + self.window - now))
        hits.append(now)
        if len(self._hits) > 100_000:  # bound memory under a flood of distinct keys
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
        return 0


@dataclass
class SignInLimits:
    """The limits on asking for sign-in links, one set per server process.

    The tight limit is per client *and* email, so that a stranger asking for links for
    someone else's address uses up only their own allowance, never that person's. The
    per-email limit is loose: it only caps the mail one address receives when requests
    come from many clients.
    """

    per_client_email: RateLimiter = field(default_factory=lambda: RateLimiter(5, 15 * 60))
    per_client: RateLimiter = field(default_factory=lambda: RateLimiter(30, 15 * 60))
    per_email: RateLimiter = field(default_factory=lambda: RateLimiter(50, 15 * 60))
