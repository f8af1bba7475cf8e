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

import math
from collections.abc import Iterator
from pathlib import Path


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
