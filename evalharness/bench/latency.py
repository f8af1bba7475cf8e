"""Inference latency measurement."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LatencyResult:
    """Latency percentiles of one batch size, in milliseconds."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    batch_size: int
    device: str
    per_sample_ms: float
    warmup: int
    repeats: int


def measure_latency(
    predict: Callable[[Any], Any],
    batch: Any,
    warmup: int = 3,
    repeats: int = 30,
    device: str = "cpu",
) -> LatencyResult:
    """Time ``predict(batch)`` ``repeats`` times after ``warmup`` untimed calls.

    Wall-clock numbers differ run to run, so pass the result to an evaluator explicitly; the
    folder then stays byte-identical for identical inputs.
    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    for _ in range(warmup):
        predict(batch)
    times = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        predict(batch)
        times[i] = (time.perf_counter() - start) * 1000.0
    size = len(batch) if hasattr(batch, "__len__") else 1
    p50, p95, p99 = np.percentile(times, [50, 95, 99])
    return LatencyResult(
        p50_ms=float(p50),
        p95_ms=float(p95),
        p99_ms=float(p99),
        batch_size=int(size),
        device=device,
        per_sample_ms=float(p50) / max(size, 1),
        warmup=warmup,
        repeats=repeats,
    )
