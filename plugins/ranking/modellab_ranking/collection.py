"""A retrieval collection in TREC format: documents, topics and judgments.

Documents are ``<DOC><DOCNO>id</DOCNO> text </DOC>`` blocks, topics ``<top><num>N</num>
<title> text </title></top>`` blocks (a ``Number:`` prefix inside ``<num>`` is allowed, as
classic TREC topics write it), judgments a qrels file (:mod:`evalharness.formats.trec`).
Broken files are refused naming the file and line, so an ingest never keeps half of one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evalharness.formats.trec import TrecFormatError, read_qrels

_TAG = re.compile(r"<(/?)(DOC|DOCNO|top|num|title)>", re.IGNORECASE)


@dataclass(frozen=True)
class Collection:
    """Documents and queries by id, and the judgments of the queries."""

    documents: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    @property
    def judged_missing(self) -> list[str]:
        """Judged documents that the corpus does not hold, sorted."""
        return sorted({d for j in self.qrels.values() for d in j} - self.documents.keys())


def _blocks(path: Path, outer: str, key: str, body: str | None) -> dict[str, str]:
    """``{key text: body text}`` of every ``<outer>`` block; ``body`` None: all the text
    of the block after its key."""
    text = path.read_text(encoding="utf-8")
    out: dict[str, str] = {}
    pos = 0
    opener = re.compile(rf"<{outer}>", re.IGNORECASE)
    closer = re.compile(rf"</{outer}>", re.IGNORECASE)
    line, counted = 1, 0
    while (start := opener.search(text, pos)) is not None:
        # Lines are counted on from the previous block: a count from the start of the
        # text for every block is quadratic in the size of the file.
        line += text.count("\n", counted, start.start())
        counted = start.start()
        end = closer.search(text, start.end())
        if end is None:
            raise TrecFormatError(f"{path}, line {line}: <{outer}> is never closed")
        block = text[start.end() : end.start()]
        found = re.search(rf"<{key}>(.*?)</{key}>", block, re.IGNORECASE | re.DOTALL)
        if found is None:
            raise TrecFormatError(f"{path}, line {line}: a <{outer}> without <{key}>")
        ident = re.sub(r"^\s*Number:\s*", "", found.group(1)).strip()
        if not ident:
            raise TrecFormatError(f"{path}, line {line}: an empty <{key}>")
        if ident in out:
            raise TrecFormatError(f"{path}, line {line}: {key} {ident!r} appears a second time")
        if body is None:
            content = block[found.end() :]
        else:
            inner = re.search(rf"<{body}>(.*?)(?:</{body}>|$)", block, re.IGNORECASE | re.DOTALL)
            content = inner.group(1) if inner else ""
        out[ident] = " ".join(_TAG.sub(" ", content).split())
        pos = end.end()
    return out


def read_documents(path: Path) -> dict[str, str]:
    """Document text by DOCNO.

    :raises TrecFormatError: an unclosed ``<DOC>``, one without ``<DOCNO>``, or a DOCNO
        that appears twice (naming the line of the second).
    """
    return _blocks(path, "DOC", "DOCNO", None)


def read_topics(path: Path) -> dict[str, str]:
    """Query text (the title) by topic number.

    :raises TrecFormatError: an unclosed ``<top>``, one without ``<num>``, or a number
        that appears twice.
    """
    return _blocks(path, "top", "num", "title")


def check_judged_queries(collection: Collection, qrels: Path, queries: str) -> Collection:
    """``collection``, once every judged query is one the queries file holds.

    :raises TrecFormatError: naming the qrels file and a query it judges that the queries
        file (named ``queries``) does not hold.
    """
    unknown = sorted(collection.qrels.keys() - collection.queries.keys())
    if unknown:
        raise TrecFormatError(
            f"{qrels}: judgments for {len(unknown)} quer{'y' if len(unknown) == 1 else 'ies'} "
            f"that {queries} does not hold, e.g. {unknown[0]!r}"
        )
    return collection


def read_collection(documents: Path | Sequence[Path], topics: Path, qrels: Path) -> Collection:
    """The files as one collection; ``documents`` may be several files.

    :raises TrecFormatError: a broken file, a DOCNO in two documents files, or a judgment
        for a query the topics do not hold (naming the query).
    """
    docs: dict[str, str] = {}
    for path in [documents] if isinstance(documents, Path) else documents:
        for docno, text in read_documents(path).items():
            if docno in docs:
                raise TrecFormatError(f"{path}: DOCNO {docno!r} appears in another file too")
            docs[docno] = text
    collection = Collection(docs, read_topics(topics), read_qrels(qrels))
    return check_judged_queries(collection, qrels, topics.name)
