"""Inference latency of a run's model: ``latency.json`` beside (not inside) ``eval/``.

Timings differ between machines and between two runs on one machine, and ``eval/`` must
be byte-identical when a run is repeated; so the figures live in the run folder's own
``latency.json``, eval_summary.json's ``latency`` points there (``../latency.json``), and
``modellab reproduce`` leaves the file out of its byte check.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from modellab.runs.artifacts import write_json_atomic

LATENCY_FILE = "latency.json"
#: eval_summary.json's ``latency``: where the timings are, relative to ``eval/``
LATENCY_POINTER = f"../{LATENCY_FILE}"
#: rows of the test split timed per call: a small online-serving batch
BATCH_ROWS = 64
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


def measure_model_latency(
    predict: Callable[[Any], Any],
    test_x: Any,
    *,
    batch_rows: int = BATCH_ROWS,
    warmup: int = WARMUP,
    repeats: int = REPEATS,
) -> dict[str, Any]:
    """Time ``predict`` on the first ``batch_rows`` test rows: latency.json's content."""
    from evalharness import measure_latency

    batch = test_x.iloc[:batch_rows]
    result = measure_latency(predict, batch, warmup=warmup, repeats=repeats, device="cpu")
    return {
        "measured": True,
        "call": "predict",
        "batch": f"the first {result.batch_size} rows of the test split",
        "batch_size": result.batch_size,
        "warmup": result.warmup,
        "repeats": result.repeats,
        "p50_ms": result.p50_ms,
        "p95_ms": result.p95_ms,
        "p99_ms": result.p99_ms,
        "per_sample_ms": result.per_sample_ms,
        "device": result.device,
        "platform": platform_info(),
    }


def write_latency(folder: Path, doc: dict[str, Any]) -> None:
    """Write ``latency.json`` into the run folder ``folder``."""
    write_json_atomic(folder / LATENCY_FILE, doc)


def read_latency(folder: Path, tracked: bool = False) -> dict[str, Any]:
    """A run's latency figures, or ``{"measured": False, "reason": ...}`` without them."""
    if tracked:
        return {"measured": False, "reason": TRACKED_REASON}
    path = folder / LATENCY_FILE
    if not path.is_file():
        return {"measured": False, "reason": MISSING_REASON}
    doc: dict[str, Any] = msgspec.json.decode(path.read_bytes())
    return doc
