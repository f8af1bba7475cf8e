"""Ranking metrics speed: EvalHarness's array path vs pytrec_eval (trec_eval's C code).

A synthetic run of 10,000 queries x 1,000 documents (graded labels 0-3 on about a tenth
of the retrieved documents plus judged documents the run missed, some queries without a
relevant document, scores with ties) is written as TREC run and qrels files by a child
process. Then, in this process, EvalHarness reads both files (read_run_arrays,
read_qrels_arrays) and evaluates every query (evaluate_arrays), and pytrec_eval parses
the same files (parse_run, parse_qrel) and evaluates them (RelevanceEvaluator.evaluate).
Every per-query value of the measures both compute must agree: the counts exactly, the
others to 1e-12; the script exits 1 if one does not. Peak memory is this process's
ru_maxrss, read after each side (EvalHarness runs first, so its figure is its own).
Target: >= 3x faster than pytrec_eval, peak memory under 2 GB.

Run: uv run python benchmarks/eval_ranking.py [--queries N] [--docs D] [--seed S]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytrec_eval

from evalharness.formats.trec import read_qrels_arrays, read_run_arrays
from evalharness.metrics.ranking import QueryMeasures, evaluate_arrays

#: the standard measures, as pytrec_eval names them (EvalHarness uses the same names)
MEASURES = (
    "map",
    "P_5",
    "P_10",
    "recall_5",
    "recall_10",
    "recall_100",
    "ndcg_cut_10",
    "ndcg",
    "recip_rank",
    "Rprec",
    "bpref",
    "success_10",
    "num_ret",
    "num_rel",
    "num_rel_ret",
)
COUNTS = {"num_ret", "num_rel", "num_rel_ret"}
TOLERANCE = 1e-12
TARGET_RATIO = 3.0
TARGET_MEMORY_GB = 2.0


def write_files(folder: Path, n_queries: int, n_docs: int, seed: int) -> dict[str, int]:
    """A deterministic run and its qrels as TREC files in ``folder``; returns counts."""
    rng = np.random.default_rng(seed)
    collection = max(1000 * n_docs, 1000)
    extra = max(n_docs // 50, 2)  # judged documents the run does not retrieve
    per_query = n_docs + extra
    docs = np.concatenate(
        [rng.choice(collection, per_query, replace=False) for _ in range(n_queries)]
    )
    query = np.repeat(np.arange(n_queries), per_query)
    position = np.tile(np.arange(per_query), n_queries)
    # A latent grade for every (query, document); 5% of the queries have no relevant one.
    grade = rng.choice(4, size=docs.size, p=[0.6, 0.2, 0.12, 0.08])
    grade[(rng.random(n_queries) < 0.05)[query]] = 0
    retrieved = position < n_docs
    judged = (rng.random(docs.size) < 0.1) | ~retrieved
    # 1% of the qrels queries are missing from the run.
    in_run = rng.random(n_queries) >= 0.01
    in_run[0] = True
    # Scores follow the grade, rounded to 3 decimals: many ties.
    score = np.round(0.5 * grade + rng.standard_normal(docs.size), 3)
    keep = retrieved & in_run[query]
    run = pl.DataFrame({"q": query[keep], "d": docs[keep], "s": score[keep]}).sort(
        ["q", "s"], descending=[False, True], maintain_order=True
    )
    run = run.with_columns(rank=pl.int_range(1, pl.len() + 1).over("q"))
    run.select(
        qid=pl.format("q{}", "q"),
        q0=pl.lit("Q0"),
        doc=pl.format("D{}", "d"),
        rank="rank",
        score="s",
        tag=pl.lit("bench"),
    ).write_csv(folder / "run", separator=" ", include_header=False, float_precision=3)
    qrels = pl.DataFrame({"q": query[judged], "d": docs[judged], "g": grade[judged]})
    qrels.select(
        qid=pl.format("q{}", "q"), it=pl.lit(0), doc=pl.format("D{}", "d"), rel="g"
    ).write_csv(folder / "qrels", separator=" ", include_header=False)
    return {"run_lines": run.height, "qrels_lines": qrels.height}


def _write_in_child(folder: Path, n_queries: int, n_docs: int, seed: int) -> None:
    """Writes the files in a child process, so that its memory is not this process's."""
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=write_files, args=(folder, n_queries, n_docs, seed))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"writing the benchmark files failed (exit code {child.exitcode})")


def _peak_gb() -> float:
    # ru_maxrss is in KiB on Linux, in bytes on macOS
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e9


def ours(folder: Path) -> tuple[dict[str, QueryMeasures], float, float]:
    """EvalHarness: read both files as arrays, evaluate every query."""
    start = time.perf_counter()
    run = read_run_arrays(folder / "run")
    qrels = read_qrels_arrays(folder / "qrels")
    read = time.perf_counter()
    measures = evaluate_arrays(
        qrels.queries, qrels.docs, qrels.labels, run.queries, run.docs, run.scores
    )
    return measures, read - start, time.perf_counter() - read


def theirs(folder: Path) -> tuple[dict[str, dict[str, float]], float, float]:
    """pytrec_eval: parse both files, evaluate every query."""
    start = time.perf_counter()
    with (folder / "run").open() as f:
        run = pytrec_eval.parse_run(f)
    with (folder / "qrels").open() as f:
        qrels = pytrec_eval.parse_qrel(f)
    read = time.perf_counter()
    results: dict[str, dict[str, float]] = pytrec_eval.RelevanceEvaluator(
        qrels, set(MEASURES)
    ).evaluate(run)
    return results, read - start, time.perf_counter() - read


def compare(mine: dict[str, QueryMeasures], ref: dict[str, dict[str, float]]) -> list[str]:
    """Every disagreement, as a line; prints a summary of the agreement."""
    problems = []
    in_run = {q for q, m in mine.items() if m.in_run}
    if set(ref) != in_run:
        problems.append(
            f"queries differ: {len(set(ref) - in_run)} only in pytrec_eval, "
            f"{len(in_run - set(ref))} only in EvalHarness"
        )
    identical = compared = 0
    worst = 0.0
    for q in sorted(set(ref) & in_run):
        values: dict[str, Any] = mine[q].values()
        for name in MEASURES:
            a, b = values[name], ref[q][name]
            compared += 1
            identical += a == b
            diff = abs(a - b)
            worst = max(worst, diff)
            if (diff != 0) if name in COUNTS else not diff <= TOLERANCE:
                problems.append(f"{name} of query {q}: EvalHarness {a!r}, pytrec_eval {b!r}")
    print(
        f"agreement: {len(MEASURES)} measures x {len(set(ref) & in_run):,} queries = "
        f"{compared:,} values; {identical:,} bit-identical, largest difference {worst:.3g} "
        f"(counts must be equal, the rest within {TOLERANCE:g}): "
        + ("OK" if not problems else f"{len(problems)} DISAGREE")
    )
    return problems


def main() -> None:
    """Write the files, time both sides, compare, print the ratio."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--docs", type=int, default=1_000, help="documents retrieved per query")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="eval_ranking_") as tmp:
        folder = Path(tmp)
        _write_in_child(folder, args.queries, args.docs, args.seed)
        run_lines = sum(1 for _ in (folder / "run").open("rb"))
        qrels_lines = sum(1 for _ in (folder / "qrels").open("rb"))
        print(
            f"{args.queries:,} queries x {args.docs:,} documents: {run_lines:,} run lines, "
            f"{qrels_lines:,} qrels lines (seed {args.seed})"
        )
        base = _peak_gb()
        mine, read, evaluate = ours(folder)
        peak_ours = _peak_gb()
        t_ours = read + evaluate
        print(f"evalharness: {t_ours:.2f} s (read {read:.2f} s, evaluate {evaluate:.2f} s)")
        ref, parse, ref_evaluate = theirs(folder)
        peak_theirs = _peak_gb()
        t_theirs = parse + ref_evaluate
        print(f"pytrec_eval: {t_theirs:.2f} s (parse {parse:.2f} s, evaluate {ref_evaluate:.2f} s)")
    no_rel = sum(1 for m in mine.values() if m.num_rel == 0)
    tied = sum(1 for m in mine.values() if m.first_tie_rank is not None)
    print(
        f"qrels queries: {len(mine):,}; {no_rel:,} without a relevant document, "
        f"{len(mine) - len(ref):,} missing from the run, {tied:,} with tied scores"
    )
    problems = compare(mine, ref)
    ratio = t_theirs / t_ours
    print(
        f"ratio: {ratio:.1f}x faster (target >= {TARGET_RATIO:g}x): "
        f"{'PASS' if ratio >= TARGET_RATIO else 'FAIL'}"
    )
    print(
        f"peak memory (ru_maxrss of this process; {base:.2f} GB before either side): "
        f"evalharness {peak_ours:.2f} GB (target < {TARGET_MEMORY_GB:g} GB): "
        f"{'PASS' if peak_ours < TARGET_MEMORY_GB else 'FAIL'}; "
        f"after pytrec_eval {peak_theirs:.2f} GB"
    )
    if problems:
        print("\n".join(problems[:20]))
        raise SystemExit(1)


if __name__ == "__main__":
    main()
