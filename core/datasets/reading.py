"""Reading a dataset's files: copy + checksum in one pass, then a strict parse.

Every refusal names the file and, where it can, the line and column, and says what
was assumed (the encoding, the delimiter). The checks that cost a second pass over
the bytes run only when the cheap ones cannot rule a problem out.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from modellab.errors import InvalidInputError, TooLargeError

CHUNK_BYTES = 8 * 1024 * 1024
ENCODING = "utf-8"
# The spellings of "missing" that pandas and R write; an empty field is missing too.
NULL_VALUES = ["", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "#N/A", "<NA>"]
DATA_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet"}
PARQUET_MAGIC = b"PAR1"
INFER_SCHEMA_ROWS = 10_000

Progress = Callable[[str], None]


def no_progress(_: str) -> None:
    """The progress callback that reports nothing."""
    return None


@dataclass
class ScanResult:
    """What one streaming pass over a file learned."""

    sha256: str
    size: int


def file_kind(path: Path) -> str:
    """``"csv"`` or ``"parquet"`` by the file's suffix (a Parquet magic number wins)."""
    kind = DATA_SUFFIXES.get(path.suffix.lower())
    try:
        with path.open("rb") as fh:
            if fh.read(4) == PARQUET_MAGIC:
                return "parquet"
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read: {exc.strerror}") from None
    return kind or "csv"


#: the delimiters a CSV file may use, in the order that breaks a tie between them
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SNIFF_BYTES = 65536
SNIFF_RECORDS = 50


def delimiter_for(path: Path) -> str:
    """Tab for ``.tsv`` files; otherwise the delimiter detected from the first lines."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES + 1)
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read: {exc.strerror}") from None
    return sniff_delimiter(head[:SNIFF_BYTES], truncated=len(head) > SNIFF_BYTES)


def sniff_delimiter(head: bytes, truncated: bool = False) -> str:
    """The delimiter of a CSV sample: comma, semicolon, tab or pipe (comma by default).

    Each candidate splits the sampled records (quotes respected, as the csv module
    reads them); the first candidate, in the order of :data:`DELIMITERS`, that gives
    every record the same number of fields, more than one, wins. When none does (a
    ragged row), the one that splits the header into the most fields is used, so that
    the parse names the row at fault. A ``truncated`` sample's last record is ignored.
    """
    text = head.decode(ENCODING, errors="replace").removeprefix("\ufeff")
    best, best_fields = ",", 1
    for candidate in DELIMITERS:
        counts = _field_counts(text, candidate, truncated)
        if not counts:
            continue
        if counts[0] > 1 and all(c == counts[0] for c in counts):
            return candidate
        if counts[0] > best_fields:
            best, best_fields = candidate, counts[0]
    return best


def _field_counts(text: str, delimiter: str, truncated: bool) -> list[int]:
    """Fields per non-blank record of ``text`` split by ``delimiter``."""
    counts: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for record in reader:
            if record:
                counts.append(len(record))
            if len(counts) > SNIFF_RECORDS:
                break
    except csv.Error:
        pass  # an odd line far in: judge by the records before it
    else:
        if truncated and len(counts) > 1 and len(counts) <= SNIFF_RECORDS:
            counts.pop()  # the sample cut the last record short
    return counts[:SNIFF_RECORDS]


def delimiter_label(delimiter: str) -> str:
    """``';' (semicolon)``: a delimiter as people read it."""
    name = DELIMITER_NAMES.get(delimiter)
    shown = "\\t" if delimiter == "\t" else delimiter
    return f"'{shown}' ({name})" if name else repr(delimiter)


def one_column_reason(name: str) -> str:
    """Why a file read as the single column ``name`` is refused, and what to check."""
    found = [DELIMITER_NAMES[d] for d in DELIMITERS[1:] if d in name]
    if found:
        why = (
            f"its header holds a {' and a '.join(found)}, so the delimiter was probably "
            "not detected (comma, semicolon, tab and pipe are tried, counting only those "
            "outside quotes, and the first lines must agree on one)"
        )
    else:
        why = "no comma, semicolon, tab or pipe separates its fields"
    return (
        f"only one column was read ({name!r}), which leaves no feature column besides "
        f"a target; {why}"
    )


def check_size(path: Path, max_bytes: int) -> int:
    """Refuse a missing, empty or oversized file; return its size in bytes."""
    if not path.exists():
        raise InvalidInputError(f"{path}: no such file or folder")
    size = path.stat().st_size
    if size == 0:
        raise InvalidInputError(f"{path}: the file is empty")
    if size > max_bytes:
        raise TooLargeError(
            f"{path}: {size / 2**20:.1f} MB is over the upload limit of "
            f"{max_bytes / 2**20:.0f} MB (set MODELLAB_MAX_UPLOAD_MB to raise it)"
        )
    return size


def copy_and_scan(src: Path, dst: Path, delimiter: str = ",", text: bool = True) -> ScanResult:
    """Copy ``src`` to ``dst`` while hashing it.

    A NUL byte in a text file means binary content (or UTF-16) and is refused.
    """
    digest = hashlib.sha256()
    result = ScanResult(sha256="", size=0)
    with src.open("rb") as fin, dst.open("wb") as fout:
        while chunk := fin.read(CHUNK_BYTES):
            if text:
                nul = chunk.find(b"\x00")
                if nul >= 0:
                    raise InvalidInputError(
                        f"{src}: not a CSV text file: NUL byte at byte offset "
                        f"{result.size + nul} (a binary file, or text saved as UTF-16; "
                        "save it as UTF-8 CSV)"
                    )
            digest.update(chunk)
            fout.write(chunk)
            result.size += len(chunk)
    result.sha256 = digest.hexdigest()
    return result


def _locate_bad_utf8(path: Path) -> str:
    """Where the first undecodable byte is, as ``line L, byte B (0xNN)``."""
    decoder = codecs.getincrementaldecoder(ENCODING)()
    offset = 0
    line = 1
    line_start = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = exc.start
                before = chunk[:bad]
                nl = before.count(b"\n")
                line += nl
                line_start = offset + before.rfind(b"\n") + 1 if nl else line_start
                column = offset + bad - line_start + 1
                return f"line {line}, byte {column} (0x{chunk[bad]:02x})"
            line += chunk.count(b"\n")
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                line_start = offset + idx + 1
            offset += len(chunk)
    return "the end of the file (a truncated multi-byte character)"


def parse_header(path: Path, head: bytes, delimiter: str) -> list[str]:
    """Parse the header row with the csv module; refuse duplicate or missing names."""
    try:
        text = head.decode(ENCODING)
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut by the 64 KiB window
            raise InvalidInputError(
                f"{path}: not valid {ENCODING} (the encoding assumed) at "
                f"{_locate_bad_utf8(path)}; re-save the file as UTF-8"
            ) from None
        text = head[: exc.start].decode(ENCODING)
    text = text.removeprefix("\ufeff")
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next((r for r in rows if r), None)
    if not header:
        raise InvalidInputError(f"{path}: no header row (the file holds only blank lines)")
    seen: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        if name and name in seen:
            raise InvalidInputError(
                f"{path}: duplicate column name {name!r} in the header "
                f"(columns {seen[name]} and {i}); column names must be unique"
            )
        seen[name] = i
    return header


def generated_names(header: list[str]) -> tuple[list[str], list[int]]:
    """Give each empty header cell a name (``unnamed_<position>``), as pandas' index does."""
    names = list(header)
    generated: list[int] = []
    taken = set(header)
    for i, name in enumerate(header):
        if name.strip() == "":
            candidate = f"unnamed_{i}"
            while candidate in taken:
                candidate += "_"
            names[i] = candidate
            taken.add(candidate)
            generated.append(i)
    return names, generated


_MORE_FIELDS = re.compile(r"more fields than defined", re.IGNORECASE)
_BAD_VALUE = re.compile(r"could not parse", re.IGNORECASE)


def _find_ragged_row(path: Path, delimiter: str, expected: int) -> str | None:
    """The first record whose field count differs from the header's, described."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        for record in reader:
            if not record:  # a blank line: no fields at all, skipped as an empty row
                continue
            if len(record) != expected:
                return (
                    f"line {reader.line_num} has {len(record)} fields, expected {expected} "
                    "(as many as the header)"
                )
    return None


@dataclass
class ParsedTable:
    """A parsed file with the notes the parse made."""

    frame: pl.DataFrame
    warnings: list[str] = field(default_factory=list)
    generated_columns: list[str] = field(default_factory=list)


def read_csv_strict(path: Path, delimiter: str = ",") -> ParsedTable:
    """Parse a CSV file with polars, refusing ragged rows and undecodable bytes."""
    with path.open("rb") as fh:
        head = fh.read(65536)
    nul = head.find(b"\x00")
    if nul >= 0:
        raise InvalidInputError(
            f"{path}: not a CSV text file: NUL byte at byte offset {nul} (a binary file, "
            "or text saved as UTF-16; save it as UTF-8 CSV)"
        )
    header = parse_header(path, head, delimiter)
    names, generated = generated_names(header)
    try:
        frame = _polars_read(path, delimiter, INFER_SCHEMA_ROWS)
    except pl.exceptions.ComputeError as exc:
        message = str(exc)
        if _BAD_VALUE.search(message):
            # A value late in the file does not fit the type guessed from the first
            # rows: read again, inferring from every row.
            try:
                frame = _polars_read(path, delimiter, None)
            except pl.exceptions.PolarsError as exc2:
                raise _translate(path, delimiter, len(header), exc2) from None
        else:
            raise _translate(path, delimiter, len(header), exc) from None
    except pl.exceptions.PolarsError as exc:
        raise _translate(path, delimiter, len(header), exc) from None
    if frame.width != len(header):
        raise InvalidInputError(
            f"{path}: the header has {len(header)} columns but the rows have {frame.width}"
        )
    frame.columns = names
    if frame.height == 0:
        raise InvalidInputError(f"{path}: the file has a header but no data rows")
    warnings: list[str] = []
    last = frame.columns[-1]
    # polars pads a row that is short of fields with nulls, so only a null in the last
    # column can hide one; counting delimiters proves there is none when no quotes
    # could have hidden a delimiter.
    if frame[last].null_count() > 0:
        if not _delimiters_match(path, delimiter, len(header)):
            problem = _find_ragged_row(path, delimiter, len(header))
            if problem:
                raise InvalidInputError(f"{path}: {problem}")
        blank = frame.select(pl.all_horizontal(pl.all().is_null())).to_series()
        n_blank = int(blank.sum())
        if n_blank:
            frame = frame.filter(~blank)
            warnings.append(
                f"skipped {n_blank} empty rows (blank lines or rows of only missing values)"
            )
            if frame.height == 0:
                raise InvalidInputError(f"{path}: the file has a header but no data rows")
    return ParsedTable(frame, warnings, [names[i] for i in generated])


def _delimiters_match(path: Path, delimiter: str, n_columns: int) -> bool:
    """True when every line holds exactly ``n_columns - 1`` delimiters, by counting.

    False when a quote could hide a delimiter or line break, or a blank line or a short
    row makes the totals differ; the caller then checks record by record.
    """
    newlines = delimiters = 0
    last = b""
    delim = delimiter.encode()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            if b'"' in chunk:
                return False
            newlines += chunk.count(b"\n")
            delimiters += chunk.count(delim)
            last = chunk
    records = newlines + (0 if last.endswith(b"\n") else 1)
    return delimiters == records * (n_columns - 1)


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")
_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$"
)


def _refine_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """Read missing-value spellings as missing, then numbers and ISO dates as such.

    polars reads an empty field as missing; pandas and R also write NA, NaN, NULL, ...
    Doing this after the parse, on string columns only, costs far less than asking the
    parser to compare every field against every spelling.
    """
    updates: list[pl.Series] = []
    floats = [c for c, t in frame.schema.items() if t.is_float()]
    if floats:
        has_nan = frame.select(pl.col(floats).is_nan().any()).row(0)
        updates += [frame[c].fill_nan(None) for c, nan in zip(floats, has_nan, strict=True) if nan]
    for name in [c for c, t in frame.schema.items() if t == pl.String]:
        s = original = frame[name]
        tokens = s.is_in(NULL_VALUES[1:])
        if tokens.any():
            s = s.set(tokens, None)
            for dtype in (pl.Int64, pl.Float64):
                try:
                    s = s.cast(dtype, strict=True)
                    break
                except pl.exceptions.InvalidOperationError:
                    continue
        if s.dtype == pl.String:
            head = s.drop_nulls().head(100).to_list()
            try:
                if head and all(_ISO_DATE.match(v) for v in head):
                    s = s.str.to_date("%Y-%m-%d", strict=True)
                elif head and all(_ISO_DATETIME.match(v) for v in head):
                    s = s.str.to_datetime(strict=True)
            except pl.exceptions.PolarsError:
                pass  # not dates after all: keep the strings
        if s is not original:
            updates.append(s)
    return frame.with_columns(updates) if updates else frame


def _polars_read(path: Path, delimiter: str, infer_rows: int | None) -> pl.DataFrame:
    frame = pl.read_csv(
        path,
        separator=delimiter,
        infer_schema_length=infer_rows,
        encoding="utf8",
        raise_if_empty=True,
    )
    return _refine_strings(frame)


def _translate(path: Path, delimiter: str, n_columns: int, exc: Exception) -> InvalidInputError:
    """Turn a polars parse error into one line that names the problem and where."""
    message = str(exc)
    lowered = message.lower()
    if "utf-8" in lowered or "utf8" in lowered:
        return InvalidInputError(
            f"{path}: not valid {ENCODING} (the encoding assumed) at "
            f"{_locate_bad_utf8(path)}; re-save the file as UTF-8"
        )
    if _MORE_FIELDS.search(message):
        problem = _find_ragged_row(path, delimiter, n_columns)
        if problem:
            return InvalidInputError(f"{path}: {problem}")
    if isinstance(exc, pl.exceptions.NoDataError):
        return InvalidInputError(f"{path}: the file is empty")
    first = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    return InvalidInputError(f"{path}: cannot parse as CSV: {first}")


def read_parquet_strict(path: Path) -> ParsedTable:
    """Read a Parquet file, refusing one that is unreadable or has no rows."""
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(f"{path}: not a readable Parquet file: {first}") from None
    if frame.width == 0:
        raise InvalidInputError(f"{path}: the Parquet file has no columns")
    if frame.height == 0:
        raise InvalidInputError(f"{path}: the Parquet file has no rows")
    names, generated = generated_names(frame.columns)
    frame.columns = names
    return ParsedTable(frame, [], [names[i] for i in generated])
