"""Inference benchmarking helpers."""

from __future__ import annotations

from evalharness.bench.latency import LatencyResult, measure_latency

__all__ = ["LatencyResult", "measure_latency"]
