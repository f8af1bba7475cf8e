"""Inference latency of a run's model: ``latency.json`` beside (not inside) ``eval/``.

Timings differ between machines and between two runs on one machine, and ``eval/`` must
be byte-identical when a run is repeated; so the figures live in the run folder's own
``latency.json``, eval_summary.json's ``latency`` points there (``../latency.json``), and
``modellab reproduce`` leaves the file out of its byte check.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from modellab.runs.artifacts import write_bytes_atomic, write_json_atomic
from modellab.tasks import GROUP, INDEX_PART, StagedModel

LATENCY_FILE = "latency.json"
#: the recall-latency trade-off of a retriever's index sweep, beside latency.json
TRADEOFF_PLOT = "recall_latency.png"
#: eval_summary.json's ``latency``: where the timings are, relative to ``eval/``
LATENCY_POINTER = f"../{LATENCY_FILE}"
#: rows of the test split timed per call: a small online-serving batch
BATCH_ROWS = 64
#: queries timed per call when a row is one document of a query (ranking, retrieval)
BATCH_QUERIES = 16
WARMUP = 3
REPEATS = 30
#: why a tracked run has no figures: its model lives in the outside code that logged it
TRACKED_REASON = "tracked run: its model lives outside ModelLab, which cannot time it"
MISSING_REASON = "this run folder has no latency.json (the run predates latency measurement)"


def platform_info() -> dict[str, Any]:
    """The machine the timings were taken on: they mean little without it."""
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def latency_batch(test_x: Any) -> tuple[Any, int, str, str]:
    """The test rows one timed call predicts: ``(frame, size, unit, description)``.

    A row is the unit of most tasks; where rows are the documents of queries (a
    ``GROUP`` column), the batch is every row of the first queries and the unit a query,
    as a search system is timed.
    """
    if GROUP in getattr(test_x, "columns", ()):
        first = sorted(test_x[GROUP].astype(str).unique())[:BATCH_QUERIES]
        batch = test_x[test_x[GROUP].astype(str).isin(first)]
        return batch, len(first), "queries", f"the rows of the first {len(first)} test queries"
    batch = test_x.iloc[:BATCH_ROWS]
    return batch, len(batch), "rows", f"the first {len(batch)} rows of the test split"


def measure_model_latency(
    model: Any,
    test_x: Any,
    *,
    warmup: int = WARMUP,
    repeats: int = REPEATS,
) -> dict[str, Any]:
    """Time ``model.predict`` on a small test batch (:func:`latency_batch`), and each
    stage the model names (``latency_parts``, :class:`~modellab.tasks.StagedModel`)
    apart: latency.json's content."""
    from evalharness import measure_latency

    batch, size, unit, described = latency_batch(test_x)
    result = measure_latency(model.predict, batch, warmup=warmup, repeats=repeats, device="cpu")
    stages: Mapping[str, Callable[[], Any]] = (
        model.latency_parts(batch) if isinstance(model, StagedModel) else {}
    )
    parts = []
    for name in stages:
        part = measure_latency(_ignoring(stages[name]), None, warmup=warmup, repeats=repeats)
        parts.append(
            {
                "name": name,
                "p50_ms": part.p50_ms,
                "p95_ms": part.p95_ms,
                "p99_ms": part.p99_ms,
                "per_sample_ms": part.p50_ms / max(size, 1),
            }
        )
    return {
        "measured": True,
        "call": "predict",
        "batch": described,
        "batch_size": size,
        "batch_unit": unit,
        "warmup": result.warmup,
        "repeats": result.repeats,
        "p50_ms": result.p50_ms,
        "p95_ms": result.p95_ms,
        "p99_ms": result.p99_ms,
        "per_sample_ms": result.p50_ms / max(size, 1),
        "device": result.device,
        "parts": parts,
        "platform": platform_info(),
    }


def _ignoring(call: Callable[[], Any]) -> Callable[[Any], Any]:
    """``call`` as :func:`evalharness.measure_latency` times it: with a batch it ignores."""
    return lambda _batch: call()


def write_latency(folder: Path, doc: dict[str, Any]) -> None:
    """Write ``latency.json`` into the run folder ``folder``, and beside it the
    recall-latency plot of the run's index sweep when it has one (``tradeoff_plot``
    names the file)."""
    from evalharness.plots.ranking import recall_latency_plot

    sweep = read_index_sweep(folder / "eval")
    points = index_tradeoff(sweep, doc)
    if points:
        k = sweep[0]["k"]
        batch = f"{doc['batch_size']} {doc['batch_unit']}"
        write_bytes_atomic(folder / TRADEOFF_PLOT, recall_latency_plot(points, k, batch, "png"))
        doc = {**doc, "tradeoff_plot": TRADEOFF_PLOT}
    write_json_atomic(folder / LATENCY_FILE, doc)


def read_index_sweep(eval_dir: Path) -> list[dict[str, Any]]:
    """``eval_dir``'s ranking.json ``index_sweep``: empty without one (not a ranking
    report, or a model without an approximate index)."""
    path = eval_dir / "ranking.json"
    if not path.is_file():
        return []
    sweep: list[dict[str, Any]] = msgspec.json.decode(path.read_bytes()).get("index_sweep", [])
    return sweep


def index_tradeoff(sweep: list[dict[str, Any]], doc: Mapping[str, Any]) -> list[Any]:
    """Each setting of an index ``sweep`` (:func:`read_index_sweep`) whose search was
    timed (latency.json ``parts`` named ``index LABEL``), with its recall against exact
    search and p50 time; empty when latency was not measured."""
    from evalharness.plots.ranking import TradeoffPoint

    if not doc.get("measured"):
        return []
    timed = {p["name"]: p["p50_ms"] for p in doc.get("parts", [])}
    points = []
    for s in sweep:
        p50 = timed.get(INDEX_PART + s["label"])
        recall = (s["recall_vs_exact"], s["recall_ci_low"], s["recall_ci_high"])
        if p50 is not None and None not in recall:
            series = f"{s['family']} {s['parameter']}"
            points.append(TradeoffPoint(series, s["value"], s["deployed"], p50, recall))
    return points


def read_latency(folder: Path, tracked: bool = False) -> dict[str, Any]:
    """A run's latency figures, or ``{"measured": False, "reason": ...}`` without them."""
    if tracked:
        return {"measured": False, "reason": TRACKED_REASON}
    path = folder / LATENCY_FILE
    if not path.is_file():
        return {"measured": False, "reason": MISSING_REASON}
    doc: dict[str, Any] = msgspec.json.decode(path.read_bytes())
    return doc
