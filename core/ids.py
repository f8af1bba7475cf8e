"""Time-ordered identifiers (UUID version 7, RFC 9562).

Python 3.11 has no ``uuid.uuid7``; ids sort by creation time, which keeps keyset
pagination and index locality cheap.
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> str:
    """Return a new UUIDv7 as its canonical string."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b, 62 bits
    return str(uuid.UUID(int=value))
