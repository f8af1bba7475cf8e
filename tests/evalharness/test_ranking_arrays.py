"""The array path of the ranking kernel: evaluate_arrays against evaluate_queries (its
measures to the last bit, its errors) and against pytrec_eval, the fast TREC readers
against the line-by-line ones, and the benchmark that times it against pytrec_eval."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytrec_eval

from evalharness.formats.trec import (
    TrecFormatError,
    read_qrels,
    read_qrels_arrays,
    read_run,
    read_run_arrays,
)
from evalharness.metrics.queries import rank_queries
from evalharness.metrics.ranking import (
    Qrels,
    QueryMeasures,
    evaluate_arrays,
    evaluate_queries,
)

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data" / "trec_eval_test"


def random_case(
    rng: random.Random,
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    """Qrels and a run with ties, unjudged and negatively labelled documents, judged
    documents the run misses, queries without a relevant document, qrels queries missing
    from the run and run queries missing from the qrels; ids not all ASCII."""
    prefixes = ["d", "D", "doc-", "é", "文", "clueweb09-en0000-00-"]  # 1 to 3 words of key
    pool = [f"{rng.choice(prefixes)}{rng.randrange(300)}" for _ in range(400)]
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for _ in range(rng.randint(1, 25)):
        qid = f"{rng.choice(['q', 'Q', 'ü'])}{rng.randrange(60)}"
        if rng.random() < 0.85:
            grades = [-1, 0, 0, 1, 2, 3] if rng.random() < 0.8 else [0]
            judged = rng.sample(pool, rng.randint(1, 40))  # (arrays hold no empty query)
            qrels[qid] = {d: rng.choice(grades) for d in judged}
        if rng.random() < 0.85:
            distinct = rng.choice([2, 7, 10**9])  # many ties, some, almost none
            retrieved = rng.sample(pool, rng.randint(0, 120))
            run[qid] = {d: rng.randrange(distinct) / 8 - 1 for d in retrieved}
    return qrels, run


def flat_qrels(qrels: Qrels) -> tuple[list[str], list[str], list[int]]:
    rows = [(q, d, label) for q, judged in qrels.items() for d, label in judged.items()]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def flat_run(run: dict[str, dict[str, float]]) -> tuple[list[str], list[str], list[float]]:
    rows = [(q, d, s) for q, scored in run.items() for d, s in scored.items()]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


@pytest.mark.parametrize("seed", range(6))
def test_arrays_give_evaluate_queries_measures_to_the_last_bit(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(25):
        qrels, run = random_case(rng)
        options: dict[str, Any] = {
            "cutoffs": rng.choice([(1, 5, 10, 100), (3, 1000)]),
            "gain": rng.choice(["linear", "exponential"]),
            "judged_only": rng.random() < 0.3,
            "relevance_level": rng.choice([1, 1, 2]),
        }
        expected = evaluate_queries(qrels, run, **options)
        qq, qd, labels = flat_qrels(qrels)
        rq, rd, scores = flat_run(run)
        # Row order plays no part; ids may come as text or as UTF-8 bytes.
        order = list(range(len(rq)))
        rng.shuffle(order)

        def ids(values: list[str], as_bytes: bool = rng.random() < 0.5) -> np.ndarray:
            return np.array([v.encode() for v in values] if as_bytes else values)

        got = evaluate_arrays(
            ids(qq),
            ids(qd),
            np.array(labels, dtype=np.int64),
            ids([rq[i] for i in order]),
            ids([rd[i] for i in order]),
            np.array([scores[i] for i in order]),
            **options,
        )
        assert list(got) == list(expected) == sorted(qrels)
        assert got == expected  # QueryMeasures compare every float exactly


def test_missing_and_unjudged_queries_follow_the_conventions() -> None:
    got = evaluate_arrays(
        ["q1", "q1", "q2", "q3"],
        ["a", "b", "c", "d"],
        [1, 0, 1, 0],
        ["q1", "q1", "q3", "q9"],
        ["a", "b", "d", "z"],
        [2.0, 1.0, 1.0, 1.0],
    )
    assert set(got) == {"q1", "q2", "q3"}  # q9 is not in the qrels: ignored
    assert not got["q2"].in_run and got["q2"].num_rel == 1 and got["q2"].map == 0.0
    assert got["q1"].map == 1.0 and got["q3"].num_rel == 0 and got["q3"].ndcg == 0.0


def test_ties_are_broken_by_document_id_descending_as_strings() -> None:
    def first_relevant(docs: list[str], relevant: str) -> float:
        got = evaluate_arrays(["q"], [relevant], [1], ["q"] * len(docs), docs, [1.0] * len(docs))
        return got["q"].recip_rank

    assert first_relevant(["a", "b"], "b") == 1.0
    assert first_relevant(["a", "b", "c"], "b") == 0.5
    assert first_relevant(["10", "9"], "9") == 1.0  # "9" > "10" as strings
    assert first_relevant(["B", "a"], "B") == 0.5  # "a" > "B" (code points)
    assert first_relevant(["x", "é", "文"], "文") == 1.0  # and beyond ASCII


def test_shared_measures_equal_pytrec_eval_on_a_random_run() -> None:
    rng = random.Random(7)
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for i in range(40):
        docs = [f"d{rng.randrange(2000)}" for _ in range(150)]
        run[f"q{i}"] = {d: round(rng.gauss(0, 1), 2) for d in docs}  # rounded: ties
        judged = rng.sample(sorted(set(docs)), 30) + [f"x{j}" for j in range(5)]
        grades = [0, 1, 2, 3] if i % 7 else [0]  # every seventh query has no relevant one
        qrels[f"q{i}"] = {d: rng.choice(grades) for d in judged}
    measures = {"map", "P_5", "P_10", "recall_5", "recall_100", "ndcg_cut_10", "ndcg"}
    measures |= {"recip_rank", "Rprec", "bpref", "success_10", "num_ret", "num_rel"}
    measures |= {"num_rel_ret"}
    ref = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    got = evaluate_arrays(*flat_qrels(qrels), *flat_run(run))
    assert set(ref) == set(got)
    for q, values in ref.items():
        mine = got[q].values()
        for name, value in values.items():
            assert mine[name] == pytest.approx(value, abs=1e-12), (q, name)


def test_a_duplicate_document_is_refused_naming_query_and_document() -> None:
    qrels = (["q7"], ["d1"], [1])
    with pytest.raises(ValueError, match=r"run query 'q7' lists document 'doc-42' more than once"):
        evaluate_arrays(*qrels, ["q7"] * 3, ["d1", "doc-42", "doc-42"], [2.0, 1.0, 0.5])
    with pytest.raises(ValueError, match=r"qrels query 'q7' judges document 'd1' more than once"):
        evaluate_arrays(["q7", "q7"], ["d1", "d1"], [1, 0], ["q7"], ["d1"], [1.0])
    # A run query absent from the qrels plays no part, not even in the checks.
    assert evaluate_arrays(*qrels, ["q7", "x", "x"], ["d1", "a", "a"], [1.0] * 3)["q7"].map == 1


def test_nan_scores_and_non_integer_labels_are_refused_naming_query_and_document() -> None:
    with pytest.raises(ValueError, match=r"'q'.*'d2'.*NaN"):
        evaluate_arrays(["q"], ["d1"], [1], ["q", "q"], ["d1", "d2"], [1.0, math.nan])
    with pytest.raises(ValueError, match=r"'q'.*'a'.*not an integer: 1.5"):
        evaluate_arrays(["q"], ["a"], np.array([1.5]), ["q"], ["a"], [1.0])
    with pytest.raises(ValueError, match=r"'q'.*'a'.*not an integer: True"):
        evaluate_arrays(["q", "q"], ["b", "a"], [1, True], ["q"], ["a"], [1.0])
    # The first query in sorted order with a problem is the one named.
    with pytest.raises(ValueError, match=r"'p'.*'z'.*NaN"):
        evaluate_arrays(["q", "p"], ["a", "z"], [1.5, 1], ["q", "p"], ["a", "z"], [1.0, math.nan])


def test_rank_queries_is_evaluate_queries_on_the_rows() -> None:
    rng = random.Random(3)
    units = [rng.choice(["q1", "q2", "q10", "é"]) for _ in range(300)]
    items = [f"d{i}" for i in range(300)]
    labels = [rng.choice([-1, 0, 1, 2]) for _ in range(300)]
    scores = [math.nan if rng.random() < 0.1 else rng.randrange(20) / 4 for _ in range(300)]
    ranked = rank_queries(units, items, labels, scores, cutoffs=(1, 5, 10))
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for u, i, label, s in zip(units, items, labels, scores, strict=True):
        qrels.setdefault(u, {})[i] = label
        if not math.isnan(s):  # a NaN score: judged, not retrieved
            run.setdefault(u, {})[i] = s
    expected = evaluate_queries(qrels, run, cutoffs=(1, 5, 10))
    assert ranked.measures == expected and ranked.queries == tuple(sorted(qrels))
    assert ranked.candidates.tolist() == [len(run.get(q, {})) for q in ranked.queries]


# --- the fast readers ---------------------------------------------------------------------


def as_mapping(queries: np.ndarray, docs: np.ndarray, values: np.ndarray) -> dict[str, Any]:
    out: dict[str, dict[str, Any]] = {}
    for q, d, v in zip(queries.tolist(), docs.tolist(), values.tolist(), strict=True):
        out.setdefault(q.decode(), {})[d.decode()] = v
    return out


@pytest.mark.parametrize("name", ["results.test", "results.trunc"])
def test_the_run_reader_reads_what_read_run_reads(name: str) -> None:
    # results.test is tab-separated with padded scores, results.trunc has trailing words
    run = read_run_arrays(DATA / name)
    assert run.scores.dtype == np.float64
    assert as_mapping(run.queries, run.docs, run.scores) == read_run(DATA / name)


@pytest.mark.parametrize("name", ["qrels.test", "qrels.rel_level"])
def test_the_qrels_reader_reads_what_read_qrels_reads(name: str) -> None:
    qrels = read_qrels_arrays(DATA / name)
    assert qrels.labels.dtype == np.int64
    assert as_mapping(qrels.queries, qrels.docs, qrels.labels) == read_qrels(DATA / name)


def test_scores_read_as_python_reads_them(tmp_path: Path) -> None:
    rng = random.Random(11)
    spelled = ["0.5", "-0.319", "+.5", "5.", "-0", "1e-05", "1_0", "12345678.25", "-4.094810"]
    spelled += [f"{rng.uniform(-1e4, 1e4):.{rng.randint(0, 12)}f}" for _ in range(3000)]
    spelled += [repr(rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30)) for _ in range(1000)]
    lines = [f"q{i % 7} Q0 d{i} {i} {s} tag" for i, s in enumerate(spelled)]
    blanks = rng.choice(["\t", "  ", " \t "])  # tabs and runs of blanks read alike
    lines[5] = lines[5].replace(" ", blanks)
    path = tmp_path / "run"
    path.write_text("\r\n".join(lines) + "\r\n")
    run = read_run_arrays(path)
    expected = read_run(path)
    assert as_mapping(run.queries, run.docs, run.scores) == expected
    got = dict(zip(run.docs.tolist(), run.scores.tolist(), strict=True))
    for i, s in enumerate(spelled):
        assert repr(got[f"d{i}".encode()]) == repr(float(s)), s  # to the bit, -0.0 too


@pytest.mark.parametrize(
    ("reader", "text", "words"),
    [
        (read_qrels_arrays, "q1 0 d1 1\nq1 0 d2\n", "line 2: a qrels line has 4 fields"),
        (read_qrels_arrays, "q1 0 d1 yes\n", "line 1: relevance 'yes' of query q1 document d1"),
        (read_qrels_arrays, "q1 0 d1 1\n\nq1 0 d1 0\n", "line 3: query q1 judges document d1"),
        (read_run_arrays, "q1 Q0 d1 1 0.5\n", "line 1: a run line has 6 fields"),
        (read_run_arrays, "q1 Q0 d1 1 high t\n", "score 'high' of query q1 document d1"),
        (read_run_arrays, "q1 Q0 d1 1 nan t\n", "score 'nan' of query q1 document d1"),
        (read_run_arrays, "q1 Q0 d1 1 0.5 t\nq1 Q0 d1 2 0.4 t\n", "line 2: query q1 lists"),
    ],
)
def test_a_bad_line_is_refused_naming_file_and_line(
    tmp_path: Path, reader: Any, text: str, words: str
) -> None:
    path = tmp_path / "trec"
    path.write_text(text)
    with pytest.raises(TrecFormatError) as caught:
        reader(path)
    assert str(caught.value).startswith(str(path)) and words in str(caught.value)


def test_files_read_as_arrays_evaluate_as_read_line_by_line(tmp_path: Path) -> None:
    qrels, run = random_case(random.Random(5))
    qrels = {q: {d: max(v, 0) for d, v in j.items()} for q, j in qrels.items() if j}
    (tmp_path / "qrels").write_text(
        "".join(f"{q} 0 {d} {v}\n" for q, j in qrels.items() for d, v in j.items())
    )
    (tmp_path / "run").write_text(
        "".join(f"{q} Q0 {d} 1 {s!r} t\n" for q, r in run.items() for d, s in r.items())
    )
    qa, ra = read_qrels_arrays(tmp_path / "qrels"), read_run_arrays(tmp_path / "run")
    got = evaluate_arrays(qa.queries, qa.docs, qa.labels, ra.queries, ra.docs, ra.scores)
    expected: dict[str, QueryMeasures] = evaluate_queries(
        read_qrels(tmp_path / "qrels"), read_run(tmp_path / "run")
    )
    assert got == expected


# --- the benchmark ------------------------------------------------------------------------


def test_the_benchmark_runs_small_and_prints_the_ratio() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/eval_ranking.py", "--queries", "50", "--docs", "20"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("ratio: ") and "x faster" in line for line in lines), done.stdout
    assert any(line.startswith("agreement: ") and line.endswith(": OK") for line in lines)
