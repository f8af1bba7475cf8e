"""The ranking kernel against trec_eval's own test outputs, and its conventions by hand.

``data/trec_eval_test`` holds trec_eval's ``test/`` folder (commit f4253652): the qrels,
the runs and what ``trec_eval`` printed for them. Every measure the kernel shares with
trec_eval is compared, per query and on the ``all`` line, at trec_eval's printed precision.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from evalharness.formats.trec import read_qrels, read_run
from evalharness.metrics.ranking import (
    QueryMeasures,
    RankingSummary,
    aggregate,
    evaluate_queries,
)

DATA = Path(__file__).parent / "data" / "trec_eval_test"


# --- trec_eval's printed output ---------------------------------------------------------


def read_trec_eval_output(path: Path) -> dict[tuple[str, str], str]:
    """``measure  qid_or_all  value`` lines -> {(measure, qid): printed value}."""
    out: dict[tuple[str, str], str] = {}
    for line in path.read_text().splitlines():
        measure, qid, value = line.split()
        out[(measure, qid)] = value
    return out


# --- conformance with trec_eval's printed outputs ----------------------------------------


@dataclass(frozen=True)
class Case:
    """One trec_eval invocation from its Makefile's quicktest."""

    output: str
    qrels: str
    run: str
    complete: bool = False  # -c
    relevance_level: int = 1  # -l
    #: printed name -> the kernel's name, for measures trec_eval prints under another name
    aliases: tuple[tuple[str, str], ...] = ()


CASES = [
    # trec_eval test/qrels.test test/results.test
    Case("out.test", "qrels.test", "results.test"),
    # trec_eval -m all_trec -q test/qrels.test test/results.test
    Case("out.test.aq", "qrels.test", "results.test"),
    # trec_eval -m all_trec -q -c test/qrels.test test/results.trunc (query 302 is missing)
    Case("out.test.aqc", "qrels.test", "results.trunc", complete=True),
    # trec_eval -m all_trec -mrelstring.20 -q -l2 test/qrels.rel_level test/results.test
    Case("out.test.aql", "qrels.rel_level", "results.test", relevance_level=2),
    # trec_eval -q -m P.5,7,3 -m recall.20,2000 -mndcg.1=3,2=9,4=4.5 -mndcg_cut.10,20,23.4
    #   -msuccess.2,5,20 ... test/qrels.test test/results.test
    # ndcg's custom gains give level 1 the gain 3; qrels.test has no label above 1, so the
    # gains scale out and the value is plain ndcg (also printed as such in out.test.aq).
    Case(
        "out.test.meas_params",
        "qrels.test",
        "results.test",
        aliases=(("ndcg_1=3,2=9,4=4.5", "ndcg"),),
    ),
]

#: every trec_eval measure the kernel computes, as a family prefix or an exact name
SHARED_EXACT = {"num_q", "num_ret", "num_rel", "num_rel_ret", "map", "Rprec", "bpref"}
SHARED_EXACT |= {"recip_rank", "ndcg"}
SHARED_CUT = ("P_", "recall_", "ndcg_cut_", "success_")


def _is_shared(measure: str) -> bool:
    if measure in SHARED_EXACT:
        return True
    prefix = next((p for p in SHARED_CUT if measure.startswith(p)), None)
    return prefix is not None and measure[len(prefix) :].isdigit()


def _cutoffs(printed: dict[tuple[str, str], str]) -> tuple[int, ...]:
    ks = set()
    for measure, _ in printed:
        for p in SHARED_CUT:
            if measure.startswith(p) and measure[len(p) :].isdigit():
                ks.add(int(measure[len(p) :]))
    return tuple(sorted(ks))


def _formatted(measure: str, value: float) -> str:
    # trec_eval prints counts with %ld and everything else with %6.4f; Python's formatting
    # rounds the binary value exactly, as glibc's printf does.
    if measure in ("num_q", "num_ret", "num_rel", "num_rel_ret"):
        assert value == int(value)
        return str(int(value))
    return f"{value:.4f}"


def _evaluate(
    case: Case,
) -> tuple[dict[str, QueryMeasures], RankingSummary, dict[tuple[str, str], str]]:
    printed = read_trec_eval_output(DATA / case.output)
    per_query = evaluate_queries(
        read_qrels(DATA / case.qrels),
        read_run(DATA / case.run),
        cutoffs=_cutoffs(printed),
        relevance_level=case.relevance_level,
    )
    return per_query, aggregate(per_query, complete=case.complete), printed


@pytest.mark.parametrize("case", CASES, ids=[c.output for c in CASES])
def test_every_shared_measure_matches_trec_eval(case: Case) -> None:
    per_query, summary, printed = _evaluate(case)
    aliases = dict(case.aliases)
    compared: set[str] = set()
    mismatches = []
    for (measure, qid), expected in printed.items():
        name = aliases.get(measure, measure)
        if not _is_shared(name):
            continue
        if qid == "all":
            value = float(summary.num_q) if name == "num_q" else summary.values[name]
        else:
            value = per_query[qid].values()[name]
        if _formatted(name, value) != expected:
            mismatches.append(f"{measure} {qid}: trec_eval {expected}, kernel {value!r}")
        compared.add(measure)
    assert not mismatches, "\n".join(mismatches)
    # Nothing was skipped by accident: every measure printed that the kernel shares was
    # compared, on every query and on 'all'.
    shared_printed = {m for m, _ in printed if _is_shared(aliases.get(m, m))}
    assert compared == shared_printed
    assert len(compared) >= 8
    qids = {q for _, q in printed} - {"all"}
    if qids:  # -q output: each query was compared, and only qrels queries are reported
        assert qids <= set(per_query)
        for measure in compared - {"num_q"}:  # num_q is printed for 'all' only
            assert all((measure, q) in printed for q in qids | {"all"})


def test_the_cases_cover_every_kernel_measure_family() -> None:
    covered = set()
    for case in CASES:
        for measure, _ in read_trec_eval_output(DATA / case.output):
            name = dict(case.aliases).get(measure, measure)
            if _is_shared(name):
                covered.add(next((p for p in SHARED_CUT if name.startswith(p)), name))
    assert covered == SHARED_EXACT | set(SHARED_CUT)


def test_complete_flag_counts_the_missing_query_as_zero() -> None:
    # results.trunc has no line for 302: with -c it scores 0 and num_q stays 3.
    per_query, summary, printed = _evaluate(CASES[2])
    assert summary.missing == ("302",)
    assert summary.num_q == 3 and printed[("num_q", "all")] == "3"
    q302 = per_query["302"]
    assert not q302.in_run and q302.num_ret == 0 and q302.num_rel == 77
    assert all(v == 0 for k, v in q302.values().items() if k != "num_rel")
    # Without -c the same run averages over 301 and 303 only.
    partial = aggregate(per_query, complete=False)
    assert partial.num_q == 2 and partial.missing == ("302",)
    expected = (per_query["301"].map + per_query["303"].map) / 2
    assert partial.values["map"] == pytest.approx(expected)
    assert summary.values["map"] == pytest.approx(expected * 2 / 3)


# --- conventions, by hand ---------------------------------------------------------------


def test_ties_are_broken_by_document_id_descending_as_strings() -> None:
    qrels = {"q": {"b": 1}}
    # a and b tie; "b" > "a", so b is ranked first and the first relevant is at rank 1.
    assert evaluate_queries(qrels, {"q": {"a": 1.0, "b": 1.0}})["q"].recip_rank == 1.0
    # c joins the tie and goes first: b is now second.
    got = evaluate_queries(qrels, {"q": {"a": 1.0, "b": 1.0, "c": 1.0}})["q"]
    assert got.recip_rank == 0.5
    # Ids compare as strings, not numbers: "9" > "10", and "a" > "B" (byte order).
    assert evaluate_queries({"q": {"9": 1}}, {"q": {"10": 2.0, "9": 2.0}})["q"].recip_rank == 1
    assert evaluate_queries({"q": {"B": 1}}, {"q": {"B": 0.0, "a": 0.0}})["q"].recip_rank == 0.5
    # The score still comes first: a higher score beats any id.
    assert evaluate_queries(qrels, {"q": {"a": 1.5, "b": 1.0}})["q"].recip_rank == 0.5


@pytest.mark.parametrize("distinct", [3, 40, 100_000])
def test_tie_order_equals_a_plain_sort_by_score_then_id_descending(distinct: int) -> None:
    # Few distinct scores (many runs of ties), some, and almost none: every path of the
    # ordering must give trec_eval's order, here checked through each document's rank.
    rng = random.Random(distinct)
    docs = {
        f"{rng.choice('abAB9')}{rng.randrange(10**6)}": rng.randrange(distinct) / 7
        for _ in range(600)
    }
    expected = sorted(docs, key=lambda d: (docs[d], d), reverse=True)
    for doc in rng.sample(expected, 25):
        got = evaluate_queries({"q": {doc: 1}}, {"q": docs})["q"]
        assert got.recip_rank == 1 / (expected.index(doc) + 1)


def test_tie_share_counts_ties_inside_the_top_k() -> None:
    qrels = {"q1": {"x": 1}, "q2": {"x": 1}}
    run = {
        "q1": {"x": 3.0, "y": 2.0, "z": 2.0},  # tie at ranks 2 and 3
        "q2": {"x": 3.0, "y": 2.0, "z": 1.0},  # no tie
    }
    per_query = evaluate_queries(qrels, run)
    assert per_query["q1"].first_tie_rank == 2
    assert per_query["q2"].first_tie_rank is None
    assert aggregate(per_query, tie_k=2).tie_share == 0.0
    assert aggregate(per_query, tie_k=3).tie_share == 0.5


def test_a_duplicate_document_is_refused_naming_query_and_document() -> None:
    run = {"q7": [("d1", 2.0), ("doc-42", 1.0), ("doc-42", 0.5)]}
    with pytest.raises(ValueError, match=r"'q7'.*'doc-42'"):
        evaluate_queries({"q7": {"d1": 1}}, run)
    # The same pairs without the duplicate are fine.
    assert evaluate_queries({"q7": {"d1": 1}}, {"q7": run["q7"][:2]})["q7"].map == 1.0


def test_a_nan_score_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'q'.*'d2'.*NaN"):
        evaluate_queries({"q": {"d1": 1}}, {"q": {"d1": 1.0, "d2": math.nan}})


def test_a_qrels_query_absent_from_the_run_counts_as_zero_and_is_listed() -> None:
    qrels = {"q1": {"a": 1, "b": 0}, "q2": {"c": 1}, "q3": {"d": 0}}
    run = {"q1": {"a": 2.0, "b": 1.0}, "q3": {"d": 1.0}, "q9": {"z": 1.0}}
    per_query = evaluate_queries(qrels, run)
    assert set(per_query) == {"q1", "q2", "q3"}  # q9 is not in the qrels: ignored
    assert not per_query["q2"].in_run and per_query["q2"].num_rel == 1
    assert per_query["q2"].map == per_query["q2"].ndcg == per_query["q2"].P[5] == 0.0
    complete = aggregate(per_query, complete=True)
    assert complete.missing == ("q2",) and complete.num_q == 3
    assert complete.values["map"] == pytest.approx(1 / 3)  # q1 1, q2 0, q3 (no rel) 0
    assert complete.no_relevant == ("q3",)
    partial = aggregate(per_query, complete=False)
    assert partial.missing == ("q2",) and partial.num_q == 2
    assert partial.values["map"] == pytest.approx(1 / 2)
    assert partial.values["num_rel"] == 1 and complete.values["num_rel"] == 2


def test_no_query_left_to_average_is_an_error() -> None:
    per_query = evaluate_queries({"q": {"a": 1}}, {"other": {"a": 1.0}})
    with pytest.raises(ValueError, match="no query"):
        aggregate(per_query)
    assert aggregate(per_query, complete=True).values["map"] == 0.0


def test_exponential_gain_differs_from_linear_and_matches_a_hand_computation() -> None:
    qrels = {"q": {"a": 3, "b": 1, "c": 0}}
    run = {"q": {"c": 3.0, "b": 2.0, "a": 1.0}}  # ranks: c (0), b (1), a (3)
    linear = evaluate_queries(qrels, run, cutoffs=(2,))["q"]
    expo = evaluate_queries(qrels, run, cutoffs=(2,), gain="exponential")["q"]
    d2, d3 = math.log2(3), math.log2(4)
    assert linear.ndcg == pytest.approx((1 / d2 + 3 / d3) / (3 + 1 / d2), abs=1e-15)
    assert expo.ndcg == pytest.approx((1 / d2 + 7 / d3) / (7 + 1 / d2), abs=1e-15)
    assert linear.ndcg_cut[2] == pytest.approx((1 / d2) / (3 + 1 / d2), abs=1e-15)
    assert expo.ndcg_cut[2] == pytest.approx((1 / d2) / (7 + 1 / d2), abs=1e-15)
    assert abs(linear.ndcg - expo.ndcg) > 0.04
    # On binary labels 2**1 - 1 = 1: the two agree.
    binary = {"q": {"a": 1, "b": 1, "c": 0}}
    assert evaluate_queries(binary, run)["q"].ndcg == pytest.approx(
        evaluate_queries(binary, run, gain="exponential")["q"].ndcg, abs=0
    )


def test_mrr_at_k_is_zero_when_the_first_relevant_is_below_k() -> None:
    qrels = {"q": {"d4": 1, "d6": 1}}
    run = {"q": {f"d{i}": 10.0 - i for i in range(1, 8)}}  # d1 first ... d7 last
    got = evaluate_queries(qrels, run, cutoffs=(1, 3, 4, 10))["q"]
    assert got.mrr == {1: 0.0, 3: 0.0, 4: 0.25, 10: 0.25}
    assert got.recip_rank == 0.25
    assert got.success == {1: 0.0, 3: 0.0, 4: 1.0, 10: 1.0}
    assert got.P[10] == 0.2  # always divided by k, even past the 7 retrieved


def test_rprec_divides_by_the_number_relevant_even_when_fewer_are_retrieved() -> None:
    qrels = {"q": {"a": 1, "b": 1, "c": 1, "d": 1}}
    got = evaluate_queries(qrels, {"q": {"a": 2.0, "x": 1.0}})["q"]
    assert got.Rprec == 0.25  # 1 relevant in the 2 retrieved, over R = 4
    assert got.map == 0.25 and got.recall[10] == 0.25 and got.num_rel_ret == 1


def test_negative_labels_are_unjudged_and_judged_only_drops_them() -> None:
    qrels = {"q": {"a": -1, "b": 1, "c": 0}}
    run = {"q": {"x": 4.0, "a": 3.0, "b": 2.0, "c": 1.0}}  # x: not in the qrels
    got = evaluate_queries(qrels, run)["q"]
    assert got.num_rel == 1 and got.num_ret == 4 and got.recip_rank == pytest.approx(1 / 3)
    assert got.bpref == 1.0  # no judged non-relevant document above b
    judged = evaluate_queries(qrels, run, judged_only=True)["q"]
    assert judged.num_ret == 2 and judged.recip_rank == 1.0 and judged.P[5] == 0.2


def test_bad_arguments_are_refused() -> None:
    qrels, run = {"q": {"a": 1}}, {"q": {"a": 1.0}}
    for cutoffs in [(0,), (5, 5), (2.5,)]:
        with pytest.raises(ValueError, match="cutoff"):
            evaluate_queries(qrels, run, cutoffs=cutoffs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="gain"):
        evaluate_queries(qrels, run, gain="log")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"'q'.*'a'.*integer"):
        evaluate_queries({"q": {"a": 1.5}}, run)  # type: ignore[dict-item]
