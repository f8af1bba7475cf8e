"""Why a run failed, in one line, from an exception or a crashed process's output.

The reason is shown on the run page, in listings and through the API. A native
library's message (a source position, a C++ backtrace) and a Python traceback are cut
to the one line that says what happened, without paths; a full disk says so in words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from modellab.diskfull import is_disk_full, text_says_disk_full
from modellab.errors import ModelLabError

#: longest reason kept; the run's logs.txt has the rest
MAX_CHARS = 300

_TIMESTAMP = re.compile(r"^\[\d{1,2}:\d{2}:\d{2}\]\s*")
# The source position native messages start with: "/__w/xgboost/src/io.cc:37: "
_SOURCE = re.compile(r"^\S+\.(?:c|cc|cpp|cxx|cu|cuh|h|hpp|rs):\d+:\s*")
_WHAT = re.compile(r"^what\(\):\s*")
# An absolute path; only its last part is kept. Not inside a URL, nor after "<...>": a
# placeholder modellab.redact put there already says where the file is.
_PATH = re.compile(r"(?<![\w.~<>:/-])/(?:[^\s/'\"`:;,()\[\]<>]+/)+([^\s/'\"`:;,()\[\]<>]*)")
# Lines of a backtrace or traceback that say where, not what.
_NOISE = (
    "stack trace",
    "[bt]",
    "traceback (most recent call last)",
    "during handling of the above exception",
    "the above exception was the direct cause",
    "current thread",
    "thread 0x",
    "extension modules:",
)


def _is_noise(line: str) -> bool:
    return line.strip().lower().startswith(_NOISE)


def _clean(line: str) -> str:
    line = _WHAT.sub("", line.strip())
    line = _TIMESTAMP.sub("", line)
    line = _SOURCE.sub("", line)
    line = _PATH.sub(r"\1", line).strip()
    return line if len(line) <= MAX_CHARS else line[: MAX_CHARS - 3].rstrip() + "..."


def first_line(message: str) -> str:
    """The first line of an error message that says what failed, without paths.

    Native messages put the point first and a backtrace after it.
    """
    for line in message.splitlines():
        if _is_noise(line):
            break
        if line.strip():
            return _clean(line)
    return ""


def _disk_full(detail: str) -> str:
    said = f" ({detail})" if detail else ""
    return (
        f"the disk is full: the run could not write its files{said}; free space in the "
        "artifact root and run it again"
    )


def _saying_disk_full(line: str) -> str:
    """The part of ``line`` that says the disk is full ("...: FileStream.Write incomplete")."""
    return next((part for part in line.split(": ") if text_says_disk_full(part)), "")


def failure_reason(exc: BaseException) -> str:
    """One line saying why a run failed with ``exc``."""
    kind = type(exc).__name__
    if kind == "LeakageError":
        return f"leakage check failed: {exc}"
    if isinstance(exc, ModelLabError):
        return str(exc)
    if is_disk_full(exc):
        if isinstance(exc, OSError) and exc.strerror:
            return _disk_full(f"{kind}: {exc.strerror}")
        said = _saying_disk_full(first_line(str(exc)))
        return _disk_full(f"{kind}: {said}" if said else kind)
    said = first_line(str(exc))
    return f"{kind}: {said}" if said else kind


def reason_from_output(lines: Iterable[str]) -> str:
    """The line of a crashed process's last output lines that says why it stopped.

    A Python traceback ends with the exception; a native abort says it on its
    ``what():`` line, before the backtrace. Empty when no line says anything.
    """
    kept = list(lines)
    said = ""
    for line in reversed(kept):
        stripped = line.strip()
        if not stripped or _is_noise(line):
            continue
        # Indented lines are traceback frames and source lines, except a C++ what().
        if line[:1].isspace() and not _WHAT.match(stripped):
            continue
        said = _clean(stripped)
        break
    if text_says_disk_full("\n".join(kept)):
        return _disk_full(_saying_disk_full(said))
    return said
