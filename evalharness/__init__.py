"""EvalHarness: honest, reproducible model evaluation with bootstrap uncertainty.

One call evaluates a model and writes the eval/ contract folder; the metric, bootstrap,
slicing, failure, stress and plotting pieces are usable on their own.
"""

from __future__ import annotations

from evalharness.bench.latency import LatencyResult, measure_latency
from evalharness.bootstrap.paired import PairedDeltas
from evalharness.core.classification import evaluate_classification, paired_classification_deltas
from evalharness.core.config import BaselineResult, EvalConfig, LeakageInputs, RunInfo
from evalharness.core.errors import (
    BaselineMismatchError,
    ContractError,
    EvalHarnessError,
    LeakageError,
)
from evalharness.core.leakage import check_duplicates, check_leakage
from evalharness.core.regression import evaluate_regression, paired_regression_deltas
from evalharness.core.separators import LeakFinding, find_single_feature_leaks
from evalharness.failures.neighbours import TrainingTexts
from evalharness.metrics.classification import classification_metrics
from evalharness.metrics.regression import regression_metrics
from evalharness.schemas.files import EvalSummaryFile as EvalSummary
from evalharness.schemas.validate import validate_folder

__all__ = [
    "BaselineMismatchError",
    "BaselineResult",
    "ContractError",
    "EvalConfig",
    "EvalHarnessError",
    "EvalSummary",
    "LatencyResult",
    "LeakFinding",
    "LeakageError",
    "LeakageInputs",
    "PairedDeltas",
    "RunInfo",
    "TrainingTexts",
    "check_duplicates",
    "check_leakage",
    "classification_metrics",
    "evaluate_classification",
    "evaluate_regression",
    "find_single_feature_leaks",
    "measure_latency",
    "paired_classification_deltas",
    "paired_regression_deltas",
    "regression_metrics",
    "validate_folder",
]
