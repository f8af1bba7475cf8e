"""TREC qrels and run files: read as trec_eval reads them, bad lines refused by line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from evalharness.formats.trec import TrecFormatError, read_qrels, read_run

DATA = Path(__file__).parent / "data" / "trec_eval_test"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_trec_evals_own_files_read() -> None:
    qrels = read_qrels(DATA / "qrels.test")
    assert sorted(qrels) == ["301", "302", "303"]
    lines = (DATA / "qrels.test").read_text().split("\n")
    assert sum(len(j) for j in qrels.values()) == sum(1 for line in lines if line.strip())
    run = read_run(DATA / "results.trunc")  # lines with trailing words, as trec_eval allows
    assert "302" not in run and len(run["301"]) > 0


def test_the_rank_column_is_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path, "run", "q1 Q0 d1 1 0.5 t\nq1 Q0 d2 1 0.9 t\n")
    assert read_run(path) == {"q1": {"d1": 0.5, "d2": 0.9}}


@pytest.mark.parametrize(
    ("reader", "text", "words"),
    [
        (
            read_qrels,
            "q1 0 d1 1\nq1 0 d2\n",
            "line 2: a qrels line has 4 fields (qid iter docno rel), this one has 3",
        ),
        (
            read_qrels,
            "q1 0 d1 yes\n",
            "line 1: relevance 'yes' of query q1 document d1 is not an integer",
        ),
        (
            read_qrels,
            "q1 0 d1 1\n\nq1 0 d1 0\n",
            "line 3: query q1 judges document d1 a second time",
        ),
        (
            read_run,
            "q1 Q0 d1 1 0.5\n",
            "line 1: a run line has 6 fields (qid Q0 docno rank score tag), this one has 5",
        ),
        (
            read_run,
            "q1 Q0 d1 1 high t\n",
            "score 'high' of query q1 document d1 is not a finite number",
        ),
        (
            read_run,
            "q1 Q0 d1 1 nan t\n",
            "score 'nan' of query q1 document d1 is not a finite number",
        ),
        (
            read_run,
            "q1 Q0 d1 1 0.5 t\nq1 Q0 d1 2 0.4 t\n",
            "line 2: query q1 lists document d1 twice",
        ),
    ],
)
def test_a_bad_line_is_refused_naming_file_and_line(
    tmp_path: Path, reader: Callable[[Path], object], text: str, words: str
) -> None:
    path = _write(tmp_path, "trec", text)
    with pytest.raises(TrecFormatError) as caught:
        reader(path)
    assert str(caught.value).startswith(str(path)) and words in str(caught.value)


def test_a_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "qrels"
    path.write_bytes(b"q1 0 d1 \xff\n")
    with pytest.raises(TrecFormatError, match="not UTF-8 text"):
        read_qrels(path)
