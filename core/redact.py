"""Server paths taken out of messages that people elsewhere read.

An error a remote user reads (an API problem document, a run's failure reason) names
things as they sent them, never where this server keeps them: a path under the artifact
root, ``MODELLAB_HOME``, the temp folder or the account's home folder is shown relative
to a placeholder (``<artifact root>/p/datasets/...``).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from functools import lru_cache
from pathlib import Path

from modellab.settings import Settings

#: what a root folder's path becomes, most specific first
_LABELS = ("<artifact root>", "<MODELLAB_HOME>", "<temp>", "~")


def server_roots(settings: Settings | None) -> tuple[tuple[str, str], ...]:
    """``(path, placeholder)`` of every folder whose paths are the server's business."""
    folders: list[tuple[Path, str]] = []
    if settings is not None:
        folders += [(settings.artifact_root, _LABELS[0]), (settings.home, _LABELS[1])]
    folders += [(Path(tempfile.gettempdir()), _LABELS[2])]
    with contextlib.suppress(RuntimeError):  # no home folder known for this account
        folders.append((Path.home(), _LABELS[3]))
    return _spellings(tuple((str(path), label) for path, label in folders))


@lru_cache(maxsize=64)
def _spellings(folders: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    seen: dict[str, str] = {}
    for raw, label in folders:
        path = Path(raw)
        # The path as configured and with its symlinks resolved: messages hold either.
        for spelling in (str(path.absolute()), str(path.resolve())):
            # "/" (or a drive) is a prefix of every path: it would redact everything.
            if len(Path(spelling).parts) > 1:
                seen.setdefault(spelling.rstrip("/"), label)
    # The longest first, so a folder inside another gets its own, nearer name.
    return tuple(sorted(seen.items(), key=lambda item: -len(item[0])))


@lru_cache(maxsize=64)
def _pattern(roots: tuple[tuple[str, str], ...]) -> re.Pattern[str] | None:
    if not roots:
        return None
    # A root counts only as a whole path part: /srv/data is no prefix of /srv/database.
    alternatives = "|".join(re.escape(path) for path, _ in roots)
    return re.compile(rf"(?:{alternatives})(?![^/\\\s'\"`:;,)\]}}>])")


def redact_paths(text: str, roots: tuple[tuple[str, str], ...]) -> str:
    """``text`` with every path under one of ``roots`` relative to its placeholder."""
    pattern = _pattern(roots)
    if pattern is None or not text:
        return text
    labels = dict(roots)
    return pattern.sub(lambda m: labels[m.group(0)], text)


def redact_for(settings: Settings | None, text: str) -> str:
    """``text`` without the server paths of ``settings`` (see :func:`server_roots`)."""
    return redact_paths(text, server_roots(settings))
