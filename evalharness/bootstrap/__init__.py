"""Seeded, vectorized bootstrap over resampling-count matrices."""

from __future__ import annotations

from evalharness.bootstrap.engine import BootstrapResult, Group, run_bootstrap
from evalharness.bootstrap.intervals import Interval, percentile_interval
from evalharness.bootstrap.paired import PairedDeltas, paired_bootstrap
from evalharness.bootstrap.resample import replicate_counts

__all__ = [
    "BootstrapResult",
    "Group",
    "Interval",
    "PairedDeltas",
    "paired_bootstrap",
    "percentile_interval",
    "replicate_counts",
    "run_bootstrap",
]
