"""Check an eval/ folder against the contract and name every violation."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from evalharness.schemas.files import FILE_TYPES, EvalSummaryFile

TEXT_FILES = ("takeaway.txt", "repro.md", "failure_modes.md")
TAKEAWAY_SENTENCES = 5
# Wall-clock timestamps and absolute machine paths would break byte-for-byte reproduction.
_TIMESTAMP = re.compile(rb"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?")
_ABS_PATH = re.compile(rb"(?<![\w.])(/(home|tmp|Users|root|var|private|mnt)/|[A-Z]:\\\\)")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def count_sentences(text: str) -> int:
    """Sentence terminators followed by whitespace or the end (decimals don't count)."""
    return len(_SENTENCE_END.findall(text.strip()))


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
            if _TIMESTAMP.search(data):
                problems.append(f"{rel}: contains a wall-clock timestamp")
            if _ABS_PATH.search(data):
                problems.append(f"{rel}: contains an absolute machine path")
    return problems
