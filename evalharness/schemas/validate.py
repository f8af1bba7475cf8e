"""Check an eval/ folder against the contract and name every violation."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from evalharness.schemas.files import (
    FILE_TYPES,
    TASK_FILE_TYPES,
    EvalSummaryFile,
    FailureExamplesFile,
)

TEXT_FILES = ("takeaway.txt", "repro.md", "failure_modes.md")
TAKEAWAY_SENTENCES = 5
# Wall-clock timestamps and absolute machine paths would break byte-for-byte reproduction.
_TIMESTAMP = re.compile(rb"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?")
_ABS_PATH = re.compile(rb"(?<![\w.])(/(home|tmp|Users|root|var|private|mnt)/|[A-Z]:\\\\)")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


# Values that come from the evaluated data (a date feature, a slice on it) are content,
# not clocks: they are the same on every re-run, so they are not checked.
_DATA_KEYS = frozenset({"input_summary", "prediction", "truth", "definition", "features", "id"})
_CLOCK_WORDS = re.compile(
    rb"(generated|created|written|timestamp|evaluated|run) (at|on)\b|\bdate:", re.I
)


def _json_strings(value: object) -> list[str]:
    if isinstance(value, dict):
        out: list[str] = []
        for key, item in value.items():
            if key not in _DATA_KEYS:
                out += [str(key), *_json_strings(item)]
        return out
    if isinstance(value, list):
        return [s for item in value for s in _json_strings(item)]
    return [value] if isinstance(value, str) else []


def _has_clock_time(path: Path, data: bytes) -> bool:
    """A date-and-time that is not part of the evaluated data (JSON) or is labelled as
    a time of writing (text files)."""
    if path.suffix == ".json":
        try:
            decoded = msgspec.json.decode(data)
        except msgspec.DecodeError:
            return bool(_TIMESTAMP.search(data))
        return any(_TIMESTAMP.search(s.encode()) for s in _json_strings(decoded))
    return any(_TIMESTAMP.search(line) and _CLOCK_WORDS.search(line) for line in data.splitlines())


def count_sentences(text: str) -> int:
    """Sentence terminators followed by whitespace or the end (decimals don't count)."""
    return len(_SENTENCE_END.findall(text.strip()))


def _failure_problems(f: FailureExamplesFile) -> list[str]:
    """Each example listed once, and category_counts counting exactly those examples."""
    problems = []
    seen: set[str] = set()
    for e in f.examples:
        if e.example_id in seen:
            problems.append(f"failure_examples.json: example {e.example_id!r} is listed twice")
        seen.add(e.example_id)
    counts: dict[str, int] = {}
    for e in f.examples:
        counts[e.category] = counts.get(e.category, 0) + 1
    if counts != f.category_counts:
        problems.append(
            f"failure_examples.json: category_counts {f.category_counts} do not match the "
            f"examples {dict(sorted(counts.items()))}"
        )
    return problems


def validate_folder(folder: Path) -> list[str]:
    """Return a list of violations (empty when the folder satisfies the contract)."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder}: not a directory"]
    problems: list[str] = []
    decoded: dict[str, object] = {}
    for name, typ in sorted(FILE_TYPES.items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: missing")
            continue
        data = path.read_bytes()
        try:
            decoded[name] = msgspec.json.decode(data, type=typ)
        except msgspec.ValidationError as exc:
            problems.append(f"{name}: schema violation: {exc}")
        except msgspec.DecodeError as exc:
            problems.append(f"{name}: not valid JSON: {exc}")
        if not data.endswith(b"\n"):
            problems.append(f"{name}: no trailing newline")
    for name, typ in sorted(TASK_FILE_TYPES.items()):
        path = folder / name
        if path.is_file():
            try:
                msgspec.json.decode(path.read_bytes(), type=typ)
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                problems.append(f"{name}: schema violation: {exc}")
    for name in TEXT_FILES:
        if not (folder / name).is_file():
            problems.append(f"{name}: missing")
    takeaway = folder / "takeaway.txt"
    if takeaway.is_file():
        k = count_sentences(takeaway.read_text())
        if k != TAKEAWAY_SENTENCES:
            problems.append(f"takeaway.txt: {k} sentences, expected exactly {TAKEAWAY_SENTENCES}")
    if not (folder / "plots").is_dir():
        problems.append("plots/: missing")
    failures = decoded.get("failure_examples.json")
    if isinstance(failures, FailureExamplesFile):
        problems += _failure_problems(failures)
    summary = decoded.get("eval_summary.json")
    if isinstance(summary, EvalSummaryFile):
        for key, rel in sorted({**summary.plots, **summary.files}.items()):
            if Path(rel).is_absolute() or ".." in Path(rel).parts:
                problems.append(f"eval_summary.json: {key} points outside the folder: {rel}")
            elif not (folder / rel).is_file():
                problems.append(f"eval_summary.json: {key} points to missing file {rel}")
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".json", ".txt", ".md"):
            data = path.read_bytes()
            rel = path.relative_to(folder).as_posix()
            if _has_clock_time(path, data):
                problems.append(f"{rel}: contains a wall-clock timestamp")
            if _ABS_PATH.search(data):
                problems.append(f"{rel}: contains an absolute machine path")
    return problems
