"""TREC qrels and run files, read strictly: a bad line is refused naming file and line.

``qrels``: ``qid iter docno rel`` (four fields; ``iter`` is ignored, ``rel`` an integer,
negative for "pooled but not judged"). ``run``: ``qid Q0 docno rank score tag`` (six
fields, and trec_eval's room for more after them; the rank column is ignored, as
trec_eval ignores it). Blank lines are skipped.
trec_eval reads a qrels line with three fields as garbage and a run that lists a document
twice for a query as an error; both are refused here with the line that breaks the rule,
so a bad file never becomes a silently different number.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray


class TrecFormatError(ValueError):
    """A qrels or run file breaks its format; the message names the file and line."""


def _lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TrecFormatError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if fields:
            yield number, fields


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Judgments by query id, then document id: ``{qid: {docno: label}}``.

    :raises TrecFormatError: a line without four fields, a label that is not an integer,
        or a document judged twice for one query.
    """
    qrels: dict[str, dict[str, int]] = {}
    for number, fields in _lines(path):
        where = f"{path}, line {number}"
        if len(fields) != 4:
            raise TrecFormatError(
                f"{where}: a qrels line has 4 fields (qid iter docno rel), this one has "
                f"{len(fields)}: {' '.join(fields)!r}"
            )
        qid, _, doc, raw = fields
        try:
            label = int(raw)
        except ValueError:
            raise TrecFormatError(
                f"{where}: relevance {raw!r} of query {qid} document {doc} is not an integer"
            ) from None
        judged = qrels.setdefault(qid, {})
        if doc in judged:
            raise TrecFormatError(f"{where}: query {qid} judges document {doc} a second time")
        judged[doc] = label
    return qrels


def read_run(path: Path) -> dict[str, dict[str, float]]:
    """Scores by query id, then document id: ``{qid: {docno: score}}``.

    :raises TrecFormatError: a line with fewer than six fields, a score that is not a
        finite number, or a document listed twice for one query.
    """
    run: dict[str, dict[str, float]] = {}
    for number, fields in _lines(path):
        where = f"{path}, line {number}"
        if len(fields) < 6:
            raise TrecFormatError(
                f"{where}: a run line has 6 fields (qid Q0 docno rank score tag), this one "
                f"has {len(fields)}: {' '.join(fields)!r}"
            )
        qid, _, doc, _, raw = fields[:5]
        try:
            score = float(raw)
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise TrecFormatError(
                f"{where}: score {raw!r} of query {qid} document {doc} is not a finite number"
            )
        scored = run.setdefault(qid, {})
        if doc in scored:
            raise TrecFormatError(
                f"{where}: query {qid} lists document {doc} twice (trec_eval refuses it too)"
            )
        scored[doc] = score
    return run


# --- the same files as flat arrays -------------------------------------------------------
#
# A file of ASCII lines with one space between fields (tabs, runs of blanks, CR line ends
# and blank lines are normalized to that first) is parsed with NumPy, no Python object
# per line: each field is read as 8-byte words at its offset. A score of up to 16
# characters ([+-]digits[.digits]) is its digits over a power of ten, one correctly
# rounded division, so the double Python's float() gives; a label likewise; any other
# spelling goes through float() or int(). Any other file, and any line outside that
# grammar, goes to read_run / read_qrels above, which accept the same files and refuse
# a bad one naming its line.


@dataclass(frozen=True)
class RunArrays:
    """A run file's lines as arrays, one entry per line (the order means nothing).

    Ids are UTF-8 bytes (``np.bytes_``; ``.astype(str)`` gives text), as
    :func:`evalharness.metrics.ranking.evaluate_arrays` takes them."""

    queries: NDArray[np.bytes_]
    docs: NDArray[np.bytes_]
    scores: NDArray[np.float64]


@dataclass(frozen=True)
class QrelsArrays:
    """A qrels file's lines as arrays, one entry per line (the order means nothing)."""

    queries: NDArray[np.bytes_]
    docs: NDArray[np.bytes_]
    labels: NDArray[np.int64]


def read_run_arrays(path: Path) -> RunArrays:
    """:func:`read_run`, as arrays: the same files, the same checks, the same errors.

    :raises TrecFormatError: as :func:`read_run`.
    """
    fast = _read_fields(path, 6, (0, 2, 4))
    if fast is not None and fast.values is not None and not fast.repeats():
        return RunArrays(fast.queries, fast.docs, fast.values)
    run = read_run(path)  # raises with the line, or reads what the fast path declined
    qids = list(run)
    return RunArrays(
        _utf8(np.repeat(np.array(qids, dtype=str), [len(run[q]) for q in qids])),
        _utf8(np.array([d for q in qids for d in run[q]], dtype=str)),
        np.array([s for q in qids for s in run[q].values()], dtype=np.float64),
    )


def read_qrels_arrays(path: Path) -> QrelsArrays:
    """:func:`read_qrels`, as arrays: the same files, the same checks, the same errors.

    :raises TrecFormatError: as :func:`read_qrels`, and for a label beyond 64 bits.
    """
    fast = _read_fields(path, 4, (0, 2, 3))
    if fast is not None and fast.values is not None and not fast.repeats():
        return QrelsArrays(fast.queries, fast.docs, fast.values)
    qrels = read_qrels(path)
    qids = list(qrels)
    values = [v for q in qids for v in qrels[q].values()]
    if any(not -(2**63) <= v < 2**63 for v in values):
        raise TrecFormatError(f"{path}: a relevance label does not fit in 64 bits")
    return QrelsArrays(
        _utf8(np.repeat(np.array(qids, dtype=str), [len(qrels[q]) for q in qids])),
        _utf8(np.array([d for q in qids for d in qrels[q]], dtype=str)),
        np.array(values, dtype=np.int64),
    )


def _utf8(texts: NDArray[np.str_]) -> NDArray[np.bytes_]:
    out: NDArray[np.bytes_] = np.char.encode(texts, "utf-8") if texts.size else texts.astype("S1")
    return out


_CHUNK = 1 << 20  # bytes parsed at a time: the per-line arrays stay in cache
#: per length 0..8: the mask keeping that many first bytes of an 8-byte word
_KEEP = np.frombuffer(b"".join(b"\xff" * r + b"\0" * (8 - r) for r in range(9)), np.uint64)
#: per length 0..8: the mask keeping that many leading bytes of a big-endian word
_KEEP_BE = np.array([(2**64 - 1) ^ (2 ** (64 - 8 * r) - 1) for r in range(9)], np.uint64)
#: exact powers of ten
_POW10 = np.array([float(10**k) for k in range(17)])
#: str.split() whitespace within a line, and str.splitlines() line ends besides \n
_BLANKS, _BREAKS = b"\t\x1f", b"\r\x0b\x0c\x1c\x1d\x1e"
_NORMAL = bytes.maketrans(_BLANKS + _BREAKS, b" " * len(_BLANKS) + b"\n" * len(_BREAKS))
_U = np.uint64
_ONES, _HIGH, _ZEROS = _U(0x0101010101010101), _U(0x8080808080808080), _U(0x3030303030303030)


@dataclass(frozen=True)
class _Fields:
    """What the fast path read: ids as bytes and as 8-byte words, and the values (None
    if one is not a number of its kind: read_run / read_qrels then decide)."""

    queries: NDArray[np.bytes_]
    query_words: NDArray[np.uint64]
    docs: NDArray[np.bytes_]
    doc_words: NDArray[np.uint64]
    values: NDArray[Any] | None

    def repeats(self) -> bool:
        """Whether some (query, document) pair may repeat: a 64-bit hash of each pair,
        sorted (a collision only sends the file to the line-by-line reader)."""
        queries, docs = self.query_words, self.doc_words
        n = queries.shape[0]
        # Each run of equal query ids is hashed once (a file lists a query's lines together).
        change = np.ones(n, bool)
        change[1:] = (queries[1:] != queries[:-1]).any(axis=1)
        starts = np.flatnonzero(change)
        h = np.zeros(starts.size, np.uint64)
        for col in queries[starts].T:
            h = _mix(h ^ col)
        h = np.repeat(h, np.diff(np.append(starts, n)))
        for col in docs.T[:-1]:
            h = _mix(h ^ col)
        h ^= docs[:, -1]
        h.sort()
        return bool((h[1:] == h[:-1]).any())


def _read_fields(path: Path, n_fields: int, wanted: tuple[int, int, int]) -> _Fields | None:
    """Query ids, document ids and values of every line (the fields ``wanted``), or None
    when the file is not in the fast path's grammar."""
    try:
        with path.open("rb") as f:
            parsed = _parse(_pieces(f), n_fields, wanted)
            if parsed is not None:
                return parsed
        raw = path.read_bytes()
    except OSError:
        return None  # read_run / read_qrels raise the error
    if not raw.isascii():
        return None  # Unicode has more blanks: the reader above splits such lines
    text = _normalized(raw)
    return None if text is None else _parse(_pieces(io.BytesIO(text)), n_fields, wanted)


def _pieces(f: BinaryIO) -> Iterator[NDArray[np.uint8]]:
    """The file in pieces of whole lines (the last line ended if it was not), each with
    8 zero bytes after it, so that 8 bytes can be read at any of its offsets."""
    rest = b""
    while block := f.read(_CHUNK):
        data = rest + block
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        if cut:
            yield _padded(data, cut)
    if rest:
        yield _padded(rest + b"\n", len(rest) + 1)


def _padded(data: bytes, size: int) -> NDArray[np.uint8]:
    out = np.zeros(size + 8, np.uint8)
    out[:size] = np.frombuffer(data, np.uint8, count=size)
    return out


def _normalized(text: bytes) -> bytes | None:
    """One space between fields, one \\n after each line, no blank line; or None if the
    text already was so (it is outside the grammar for another reason)."""
    out = text.translate(_NORMAL)
    while b"  " in out:
        out = out.replace(b"  ", b" ")
    out = out.replace(b"\n ", b"\n").replace(b" \n", b"\n")
    while b"\n\n" in out:
        out = out.replace(b"\n\n", b"\n")
    out = out.lstrip(b" \n")
    return None if out == text else out


def _parse(
    pieces: Iterable[NDArray[np.uint8]], n_fields: int, wanted: tuple[int, int, int]
) -> _Fields | None:
    """The fast path proper: ASCII lines of ``n_fields`` non-empty fields, one space
    between them, each line ending in \\n; ``pieces`` of whole lines (see _pieces)."""
    pattern = np.array([32] * (n_fields - 1) + [10], np.uint8)
    ids: tuple[list[NDArray[np.uint64]], list[NDArray[np.uint64]]] = ([], [])
    values: list[NDArray[Any] | None] = []
    for buf in pieces:
        chunk = buf[:-8]
        if int(chunk.max()) >= 0x80:
            return None
        # Every 8-byte window of the piece as a word.
        windows = np.lib.stride_tricks.as_strided(
            buf, shape=(chunk.size + 1, 8), strides=(1, 1), writeable=False
        ).view(np.uint64)[:, 0]
        seps = np.flatnonzero(chunk <= 32)
        lines = seps.size // n_fields
        if seps.size != n_fields * lines:
            return None
        if not (chunk[seps].reshape(lines, n_fields) == pattern).all():
            return None
        if seps[0] == 0 or not (seps[1:] - seps[:-1] > 1).all():
            return None  # an empty field: two blanks in a row, or a blank line
        grid = seps.reshape(lines, n_fields)  # each line's spaces, then its \n
        first = np.empty(lines, np.int64)
        first[0], first[1:] = 0, grid[:-1, -1] + 1
        for i, j in enumerate(wanted):
            start = first if j == 0 else grid[:, j - 1] + 1
            length = grid[:, j] - start
            words = _field_words(windows, start, length)
            if i < 2:
                ids[i].append(words)
            else:
                values.append(_numbers(words, length, integer=n_fields == 4))
    texts, keys = [], []
    for parts in ids:
        width = max((w.shape[1] for w in parts), default=1)
        words = np.concatenate(
            [w if w.shape[1] == width else _widened(w, width) for w in parts]
            or [np.zeros((0, 1), np.uint64)]
        )
        parts.clear()
        texts.append(words.view(f"S{8 * width}")[:, 0])
        keys.append(words)
    numbers: NDArray[Any] | None = None
    if all(v is not None for v in values):
        empty = np.zeros(0, np.int64 if n_fields == 4 else np.float64)
        numbers = np.concatenate([v for v in values if v is not None] or [empty])
    return _Fields(texts[0], keys[0], texts[1], keys[1], numbers)


def _widened(words: NDArray[np.uint64], width: int) -> NDArray[np.uint64]:
    out = np.zeros((words.shape[0], width), np.uint64)
    out[:, : words.shape[1]] = words
    return out


def _field_words(
    windows: NDArray[Any], start: NDArray[np.int64], length: NDArray[np.int64]
) -> NDArray[np.uint64]:
    """Each field's bytes as 8-byte words in memory order, zero after its end."""
    k = max(1, -(-int(length.max(initial=0)) // 8))
    if k == 1:
        return (windows[start] & _KEEP[np.minimum(length, 8)])[:, None]
    out = np.empty((start.size, k), np.uint64)
    for j in range(k):
        at = np.minimum(start + 8 * j, windows.size - 1)  # past the end: masked to 0
        out[:, j] = windows[at] & _KEEP[np.clip(length - 8 * j, 0, 8)]
    return out


def _numbers(
    words: NDArray[np.uint64], length: NDArray[np.int64], *, integer: bool
) -> NDArray[Any] | None:
    """The number (an integer if ``integer``) each field spells, or None if one spells
    none, or none that fits in 64 bits, or an infinite or NaN score (read_run /
    read_qrels then name the line). Plain decimals of up to 16 characters are read
    here, any other spelling (an exponent, more digits) by Python's float() or int()."""
    big_endian = np.ascontiguousarray(words[:, :2]).view(">u8").astype(np.uint64)
    low = big_endian[:, 1] if words.shape[1] > 1 else None
    value, plain = _decimals(big_endian[:, 0], low, length, integer=integer)
    others = np.flatnonzero(~plain | (length > 16))
    if others.size:
        spelled = words[others].view(f"S{8 * words.shape[1]}")[:, 0].tolist()
        try:
            if integer:
                parsed = np.array([int(b) for b in spelled], dtype=np.int64)
            else:
                parsed = np.array([float(b) for b in spelled], dtype=np.float64)
        except (ValueError, OverflowError):
            return None
        if not integer and not np.isfinite(parsed).all():
            return None
        value[others] = parsed
    return value


def _decimals(
    high: NDArray[np.uint64],
    low: NDArray[np.uint64] | None,
    length: NDArray[np.int64],
    *,
    integer: bool,
) -> tuple[NDArray[Any], NDArray[np.bool_]]:
    """Fields of at most 8 characters (16 with ``low``) spelling ``[+-]digits[.digits]``
    (no dot if ``integer``), 8 bytes at a time (big-endian, zero after the field): each
    value, and which fields are so spelled. A decimal is its digits over a power of ten,
    one correctly rounded division: the double Python's float() gives."""
    top = high >> _U(56)
    negative = top == ord("-")
    signed = negative | (top == ord("+"))
    high = high ^ ((top ^ _U(ord("0"))) << _U(56)) & _mask(signed)  # the sign reads as 0
    chars = length
    if not integer:
        # 0x80 in the byte of each '.'; the characters after it move up over it (from the
        # low word into the high one if need be).
        dot_high = _dots(high)
        bit = dot_high >> _U(7)  # 1 << 8 * (bytes after the dot in its word)
        in_high = dot_high != 0
        moved = (high & ~((bit << _U(8)) - _U(1))) | ((high & (bit - _U(1))) << _U(8))
        one_dot = (dot_high & (dot_high - _U(1))) == 0
        if low is None:
            high = _pick(in_high, moved, high)
            has_dot = in_high
            after = _bytes_below(bit)
        else:
            high = _pick(in_high, moved | (low >> _U(56)), high)
            low = _pick(in_high, low << _U(8), low)
            dot_low = _dots(low)
            bit_low = dot_low >> _U(7)
            in_low = dot_low != 0
            moved = (low & ~((bit_low << _U(8)) - _U(1))) | ((low & (bit_low - _U(1))) << _U(8))
            low = _pick(in_low, moved, low)
            one_dot &= ((dot_low & (dot_low - _U(1))) == 0) & ~(in_high & in_low)
            has_dot = in_high | in_low
            after = np.where(in_high, _bytes_below(bit) + 8, _bytes_below(bit_low))
        chars = length - has_dot
    plain = chars - signed >= 1
    high |= _ZEROS & ~_KEEP_BE[np.minimum(chars, 8)]  # '0' after the last digit
    plain &= _all_digits(high)
    d = _digits(high)
    width = 8
    if low is not None:
        low |= _ZEROS & ~_KEEP_BE[np.clip(chars - 8, 0, 8)]
        plain &= _all_digits(low)
        d = d * _U(10**8) + _digits(low)
        width = 16
    # d is the digits, then width - chars zeros (the dot's byte among them)
    exponent = width - chars
    if not integer:
        plain &= one_dot
        exponent = np.where(has_dot, after + 1, exponent)
    as_float = d.astype(np.float64)
    if low is not None:
        plain &= as_float.astype(np.uint64) == d  # d is a double: one rounding, in the division
    value = as_float / _POW10[np.clip(exponent, 0, 16)]
    value *= 1.0 - 2.0 * negative  # -0.0 for "-0", as float() reads it
    if integer:
        return value.astype(np.int64), plain
    return value, plain


def _mask(flags: NDArray[np.bool_]) -> NDArray[np.uint64]:
    return _U(0) - flags.astype(np.uint64)


def _pick(
    flags: NDArray[np.bool_], a: NDArray[np.uint64], b: NDArray[np.uint64]
) -> NDArray[np.uint64]:
    m = _mask(flags)
    return (a & m) | (b & ~m)


def _dots(w: NDArray[np.uint64]) -> NDArray[np.uint64]:
    x = w ^ (_ONES * _U(ord(".")))
    return ~(((x & ~_HIGH) + ~_HIGH) | x) & _HIGH


def _bytes_below(bit: NDArray[np.uint64]) -> NDArray[np.int64]:
    """k for each 1 << 8k (0 for 0)."""
    exponent = (bit.astype(np.float64).view(np.uint64) >> _U(52)).astype(np.int64) - 1023
    return np.maximum(exponent, 0) // 8


def _all_digits(w: NDArray[np.uint64]) -> NDArray[np.bool_]:
    out: NDArray[np.bool_] = (((w + _ONES * _U(0x46)) | (w - _ZEROS)) & _HIGH) == 0
    return out


def _digits(w: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """The value of 8 ASCII digits, first digit first."""
    d = w - _ZEROS
    d = ((d >> _U(8)) & _U(0x00FF00FF00FF00FF)) * _U(10) + (d & _U(0x00FF00FF00FF00FF))
    d = ((d >> _U(16)) & _U(0x0000FFFF0000FFFF)) * _U(100) + (d & _U(0x0000FFFF0000FFFF))
    out: NDArray[np.uint64] = (d >> _U(32)) * _U(10000) + (d & _U(0xFFFFFFFF))
    return out


def _mix(z: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """splitmix64's finalizer: every input bit moves every output bit."""
    z = (z ^ (z >> _U(30))) * _U(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U(27))) * _U(0x94D049BB133111EB)
    return z ^ (z >> _U(31))
