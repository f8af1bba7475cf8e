"""The folder layouts a retrieval collection arrives in, read into one :class:`Collection`.

- **TREC**: a ``qrels*`` file (``qid iter docno rel``), a topics file (named ``topics*`` or
  ``quer*``: ``<top><num>`` blocks) and one or more document files (every other file:
  ``<DOC><DOCNO>`` blocks).
- **BEIR**: ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``,
  ``text``) and ``qrels/*.tsv`` (a ``query-id corpus-id score`` header, then one judgment
  per line). ``qrels/train.tsv`` and ``qrels/test.tsv`` together are the collection's own
  split; ``qrels/dev.tsv`` is left out and said so.
- **Tables**: ``documents``, ``queries`` and ``qrels`` as CSV, TSV or Parquet files, with
  columns ``doc_id, text`` (and optionally ``title``), ``query_id, text`` and
  ``query_id, doc_id, relevance``.

Notes beside the data (``README*``, ``LICENSE*``, ``*.md``) are ignored in every layout.
A broken file is refused naming the file and line (or row): a qrels line with three
fields, a document id given twice, a judgment for a query the queries file lacks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

import polars as pl

from evalharness.formats.trec import TrecFormatError
from modellab.errors import InvalidInputError
from modellab_ranking.collection import Collection, check_judged_queries, read_collection

#: files beside the data that no layout reads
NOTES = ("readme", "license", "licence", "notice", "terrier-readme")
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")


def _is_note(rel: str) -> bool:
    name = PurePosixPath(rel).name.lower()
    return name.endswith(".md") or name.startswith(NOTES)


def _data(relpaths: Sequence[str]) -> list[str]:
    return [r for r in relpaths if not _is_note(r)]


def _stem(rel: str) -> str:
    return PurePosixPath(rel).stem.lower()


# --- TREC ---------------------------------------------------------------------------


def _trec_files(relpaths: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    data = [r for r in _data(relpaths) if "/" not in r]
    qrels = [r for r in data if _stem(r).startswith("qrels")]
    topics = [r for r in data if _stem(r).startswith(("topics", "quer"))]
    docs = [r for r in data if r not in qrels and r not in topics]
    return qrels, topics, docs


def trec_matches(relpaths: Sequence[str]) -> bool:
    """A qrels file and a topics file at the top of the folder, no table among them."""
    qrels, topics, _ = _trec_files(relpaths)
    tables = any(r.lower().endswith(TABLE_SUFFIXES) for r in qrels + topics)
    return bool(qrels) and bool(topics) and not tables


def read_trec(root: Path, files: Mapping[str, Path]) -> Collection:
    """The collection of a TREC folder."""
    qrels, topics, docs = _trec_files(sorted(files))
    nested = [r for r in _data(sorted(files)) if "/" in r]
    if len(qrels) != 1 or len(topics) != 1:
        raise InvalidInputError(
            f"{root}: a TREC collection holds one qrels file and one topics file; found "
            f"qrels {qrels} and topics {topics}"
        )
    if nested:
        raise InvalidInputError(
            f"{root}: a TREC collection keeps its files at the top of the folder, not in "
            f"subfolders: {', '.join(nested[:5])}"
        )
    if not docs:
        raise InvalidInputError(f"{root}: a TREC collection needs a documents file beside qrels")
    try:
        return read_collection([files[r] for r in docs], files[topics[0]], files[qrels[0]])
    except TrecFormatError as exc:
        raise InvalidInputError(_named(str(exc), root, files)) from None


def _named(message: str, root: Path, files: Mapping[str, Path]) -> str:
    """``message`` with each staged file's path replaced by the user's."""
    for rel, staged in files.items():
        message = message.replace(str(staged), str(root / rel))
    for rel, staged in files.items():
        message = message.replace(staged.name, PurePosixPath(rel).name)
    return message


# --- BEIR ---------------------------------------------------------------------------


def beir_matches(relpaths: Sequence[str]) -> bool:
    """``corpus.jsonl``, ``queries.jsonl`` and at least one ``qrels/*.tsv``."""
    names = set(relpaths)
    qrels = [r for r in relpaths if r.startswith("qrels/") and r.endswith(".tsv")]
    return {"corpus.jsonl", "queries.jsonl"} <= names and bool(qrels)


def _jsonl(path: Path, display: Path, fields: tuple[str, ...]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{display}, line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{where}: not a JSON object ({exc.msg})") from None
            if not isinstance(record, dict) or "_id" not in record:
                raise InvalidInputError(f'{where}: a record needs an "_id" field')
            ident = str(record["_id"])
            if ident in out:
                raise InvalidInputError(f"{where}: _id {ident!r} appears a second time")
            out[ident] = {f: str(record.get(f) or "") for f in fields}
    return out


def _judge(
    judged: dict[str, dict[str, int]], where: str, qid: str, doc: str, raw: str, field: str
) -> None:
    """Record one judgment; ``where`` (file and line) and ``field`` (the label's column)
    name a label that is not an integer or a document judged twice."""
    try:
        label = int(raw)
    except ValueError:
        raise InvalidInputError(
            f"{where}: {field} {raw!r} of query {qid} document {doc} is not an integer"
        ) from None
    per_query = judged.setdefault(qid, {})
    if doc in per_query:
        raise InvalidInputError(f"{where}: query {qid} judges document {doc} twice")
    per_query[doc] = label


def _beir_qrels(path: Path, display: Path) -> dict[str, dict[str, int]]:
    judged: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            fields = line.rstrip("\r\n").split("\t")
            if number == 1 and fields[:2] == ["query-id", "corpus-id"]:
                continue
            if not line.strip():
                continue
            where = f"{display}, line {number}"
            if len(fields) != 3:
                raise InvalidInputError(
                    f"{where}: a qrels line has 3 tab-separated fields (query-id corpus-id "
                    f"score), this one has {len(fields)}"
                )
            qid, doc, raw = (f.strip() for f in fields)
            _judge(judged, where, qid, doc, raw, "score")
    return judged


def read_beir(root: Path, files: Mapping[str, Path]) -> tuple[Collection, int | None, list[str]]:
    """The collection of a BEIR folder, the number of train judgments when it has its own
    split (their queries first), and what was left out."""
    corpus = _jsonl(files["corpus.jsonl"], root / "corpus.jsonl", ("title", "text"))
    queries = _jsonl(files["queries.jsonl"], root / "queries.jsonl", ("text",))
    documents = {d: " ".join(f"{r['title']} {r['text']}".split()) for d, r in corpus.items()}
    splits = {_stem(r): r for r in files if r.startswith("qrels/") and r.endswith(".tsv")}
    notes = []
    if "dev" in splits and len(splits) > 1:
        notes.append(f"{root / splits.pop('dev')}: dev judgments are left out")
    judged: dict[str, dict[str, int]] = {}
    train_queries: set[str] = set()
    own_split = {"train", "test"} <= splits.keys()
    for name in sorted(splits, key=lambda n: (n != "train", n)):
        rel = splits[name]
        part = _beir_qrels(files[rel], root / rel)
        for qid, docs in part.items():
            if qid in judged:
                raise InvalidInputError(
                    f"{root / rel}: query {qid} is judged in another qrels file as well; a "
                    "query belongs to one split"
                )
            judged[qid] = docs
            if own_split and name == "train":
                train_queries.add(qid)
    collection = _checked(
        Collection(documents, {q: r["text"] for q, r in queries.items()}, judged),
        root / "qrels",
        "queries.jsonl",
    )
    train_rows = sum(len(judged[q]) for q in train_queries) if own_split else None
    return collection, train_rows, notes


# --- tables -------------------------------------------------------------------------


def _table_files(relpaths: Sequence[str]) -> dict[str, str]:
    return {
        _stem(r): r for r in _data(relpaths) if "/" not in r and r.lower().endswith(TABLE_SUFFIXES)
    }


def tables_matches(relpaths: Sequence[str]) -> bool:
    """``documents``, ``queries`` and ``qrels`` tables (CSV, TSV or Parquet)."""
    return {"documents", "queries", "qrels"} <= _table_files(relpaths).keys()


def _read_table(path: Path, display: Path, columns: tuple[str, ...]) -> pl.DataFrame:
    try:
        if display.suffix.lower() == ".parquet":
            frame = pl.read_parquet(path)
        else:
            sep = "\t" if display.suffix.lower() == ".tsv" else ","
            frame = pl.read_csv(path, separator=sep, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InvalidInputError(f"{display}: cannot be read as a table: {exc}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"{display}: needs columns {', '.join(columns)}; missing {', '.join(missing)} "
            f"(it has {', '.join(frame.columns[:10])})"
        )
    return frame


def _ids(frame: pl.DataFrame, column: str, display: Path) -> list[str]:
    ids = frame[column].cast(pl.String)
    if ids.null_count():
        row = int(ids.is_null().arg_true()[0]) + 1
        raise InvalidInputError(f"{display}, data row {row}: {column} is empty")
    repeated = ids.is_duplicated()
    if repeated.any():
        row = int(repeated.arg_true()[1]) + 1
        raise InvalidInputError(
            f"{display}, data row {row}: {column} {ids[row - 1]!r} appears a second time"
        )
    return ids.to_list()


def read_tables(root: Path, files: Mapping[str, Path]) -> Collection:
    """The collection of a folder of ``documents``, ``queries`` and ``qrels`` tables."""
    named = _table_files(sorted(files))
    shown = {k: root / named[k] for k in ("documents", "queries", "qrels")}
    docs = _read_table(files[named["documents"]], shown["documents"], ("doc_id", "text"))
    queries = _read_table(files[named["queries"]], shown["queries"], ("query_id", "text"))
    qrels = _read_table(files[named["qrels"]], shown["qrels"], ("query_id", "doc_id", "relevance"))
    text = docs["text"].cast(pl.String).fill_null("")
    if "title" in docs.columns:
        text = docs["title"].cast(pl.String).fill_null("") + " " + text
    documents = dict(
        zip(
            _ids(docs, "doc_id", shown["documents"]),
            (" ".join(t.split()) for t in text),
            strict=True,
        )
    )
    query_text = dict(
        zip(
            _ids(queries, "query_id", shown["queries"]),
            queries["text"].cast(pl.String).fill_null("").to_list(),
            strict=True,
        )
    )
    judged: dict[str, dict[str, int]] = {}
    rows = qrels.select(pl.col(c).cast(pl.String) for c in ("query_id", "doc_id", "relevance"))
    for number, (qid, doc, raw) in enumerate(rows.iter_rows(), start=1):
        where = f"{shown['qrels']}, data row {number}"
        if qid is None or doc is None:
            raise InvalidInputError(f"{where}: query_id and doc_id must not be empty")
        _judge(judged, where, qid, doc, str(raw), "relevance")
    return _checked(
        Collection(documents, query_text, judged), shown["qrels"], shown["queries"].name
    )


def _checked(collection: Collection, qrels: Path, queries: str) -> Collection:
    try:
        return check_judged_queries(collection, qrels, queries)
    except TrecFormatError as exc:
        raise InvalidInputError(str(exc)) from None
