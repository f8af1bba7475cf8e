"""Typed inputs of an evaluation: run identity, configuration, baseline and leakage inputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from evalharness.core.leakage import DuplicateCheck

#: ``predict(frame) -> (y_pred, scores_or_None)`` for classification.
ClassifierPredict = Callable[[pd.DataFrame], tuple[ArrayLike, ArrayLike | None]]
#: ``predict(frame) -> y_pred`` for regression.
RegressorPredict = Callable[[pd.DataFrame], ArrayLike]
#: ``refit(train_frame, train_target) -> predict`` used by the distribution-shift stress test.
Refit = Callable[[pd.DataFrame, np.ndarray[Any, Any]], RegressorPredict]

BootstrapMethod = Literal["auto", "poisson", "multinomial"]

#: Below this many rows ``bootstrap_method="auto"`` uses the classic multinomial resampling;
#: above it, Poisson(1) weights, which are equivalent for large n and far cheaper to draw.
AUTO_MULTINOMIAL_MAX_ROWS = 10_000

RECOMMENDED_N_BOOTSTRAP = 1000


@dataclass(frozen=True)
class RunInfo:
    """Identity of the run being evaluated; written to eval_summary.json and repro.md."""

    run_id: str
    dataset_name: str
    dataset_version: str
    dataset_checksum: str
    commit: str
    split_checksum: str | None = None
    seed: int | None = None
    install_command: str = "uv sync"
    dataset_command: str | None = None
    train_command: str | None = None
    eval_command: str | None = None


@dataclass(frozen=True)
class BaselineResult:
    """A baseline evaluated on the same rows: predictions (preferred) or reported metrics.

    With ``y_pred`` (and ``scores``) the harness computes the baseline's metrics itself and
    bootstraps paired deltas; with only ``metrics`` it can report deltas but never claim a
    meaningful improvement, because there is no paired uncertainty.
    """

    name: str
    y_pred: ArrayLike | None = None
    scores: ArrayLike | None = None
    metrics: Mapping[str, float] | None = None
    predict: Callable[[pd.DataFrame], Any] | None = None
    run_id: str | None = None
    dataset_version: str | None = None
    split_checksum: str | None = None


@dataclass(frozen=True)
class LeakageInputs:
    """What the leakage checks need: both index sets, both raw frames and fitted preprocessors."""

    train_index: Sequence[Any] | pd.Index[Any]
    test_index: Sequence[Any] | pd.Index[Any]
    train_frame: pd.DataFrame | None = None
    test_frame: pd.DataFrame | None = None
    preprocessors: Sequence[Any] = ()
    train_target: ArrayLike | None = None
    time_column: str | None = None
    split: str = "random"
    #: the test rows' true targets: with both targets the duplicate check compares whole
    #: records (features and target), else feature rows only
    test_target: ArrayLike | None = None
    #: the duplicate-records measure of these rows, when the caller took it already (a
    #: run checks the rule before its fit); the duplicate check then reuses it
    measured_duplicates: DuplicateCheck | None = None


@dataclass(frozen=True)
class EvalConfig:
    """Knobs of an evaluation; every random choice derives from ``seed``."""

    n_bootstrap: int = RECOMMENDED_N_BOOTSTRAP
    seed: int = 0
    bootstrap_method: BootstrapMethod = "auto"
    headline: tuple[str, ...] | None = None
    #: None: derived from the test size (see ``min_slice_floor``/``min_slice_cap``); an
    #: int fixes it
    min_slice_size: int | None = None
    n_failures: int = 10
    key_feature: str | None = None
    max_categories: int = 5
    search_bins: int = 4
    search_max_confirm: int = 10
    fdr: float = 0.05
    stress_severities: tuple[float, ...] = (0.1, 0.3, 0.5)
    stress_n_bootstrap: int = 200
    #: every task's stress tests score a seeded sample of at most this many rows (clean
    #: metrics on the same sample): each scenario re-predicts every row it scores (a shift
    #: test refits on them), and degradation needs no more
    stress_max_rows: int = 10_000
    stress_column: str | None = None
    #: the duplicate check fails when the share of test rows that repeat a train record
    #: exceeds the chance share (the rate within train) by more than this ...
    duplicate_excess_error: float = 0.05
    #: ... and a one-sided binomial test against the chance share gives p below this
    duplicate_p_value: float = 0.001
    plot_formats: tuple[str, ...] = ("png",)
    plot_max_points: int = 5000
    run_stress: bool = True
    run_search: bool = True
    #: the derived minimum slice size is min(min_slice_cap, max(min_slice_floor, n // 8))
    min_slice_floor: int = 10
    min_slice_cap: int = 30
    #: a distribution-shift refit needs max(shift_min_refit_rows,
    #: shift_refit_rows_per_feature x feature columns) rows, else that severity is skipped
    shift_min_refit_rows: int = 50
    shift_refit_rows_per_feature: int = 10
    #: (column, evidence) pairs flagged upstream (e.g. at dataset ingest) as possible
    #: target leaks; the report names each one that is among the evaluated features
    leak_suspects: tuple[tuple[str, str], ...] = ()
    #: the single-feature leak check (evalharness.core.separators): a column is a suspect
    #: when a one-feature rule fit on the train rows reaches, on the test rows, accuracy and
    #: balanced accuracy at or above these (classification) or this R^2 (regression)
    run_leak_check: bool = True
    leak_min_accuracy: float = 0.99
    leak_min_balanced_accuracy: float = 0.99
    leak_min_r2: float = 0.99
    #: test sets with fewer rows are not judged: a few rows are predicted perfectly by chance
    leak_min_test_rows: int = 30
    #: train and test rows are each a seeded sample of at most this many rows
    leak_max_rows: int = 200_000
    #: ranking: the K of every @K metric (NDCG@K, recall@K, ...), ascending
    ranking_cutoffs: tuple[int, ...] = (1, 5, 10, 20, 100)
    #: ranking: NDCG's gain, the label itself (trec_eval's) or 2**label - 1
    ranking_gain: Literal["linear", "exponential"] = "linear"
    #: ranking: sign flips of the paired randomization test against the baseline
    randomization_n: int = 10_000

    def __post_init__(self) -> None:
        if self.n_bootstrap < 10:
            raise ValueError(f"n_bootstrap must be at least 10, got {self.n_bootstrap}")
        if not 0.0 < self.fdr < 1.0:
            raise ValueError(f"fdr must be in (0, 1), got {self.fdr}")
        if not 0.0 <= self.duplicate_excess_error < 1.0:
            raise ValueError(
                f"duplicate_excess_error must be in [0, 1), got {self.duplicate_excess_error}"
            )
        for name in ("duplicate_p_value", "leak_min_accuracy", "leak_min_balanced_accuracy"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if not self.leak_min_r2 <= 1.0:
            raise ValueError(f"leak_min_r2 must be at most 1, got {self.leak_min_r2}")
        for name in ("min_slice_size", "shift_min_refit_rows"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
        if self.shift_min_refit_rows < 2:
            raise ValueError(
                f"shift_min_refit_rows must be at least 2, got {self.shift_min_refit_rows}"
            )
        if self.min_slice_size is not None and self.min_slice_size < 2:
            raise ValueError(f"min_slice_size must be at least 2, got {self.min_slice_size}")
        if not 2 <= self.min_slice_floor <= self.min_slice_cap:
            raise ValueError(
                f"need 2 <= min_slice_floor <= min_slice_cap, got {self.min_slice_floor} "
                f"and {self.min_slice_cap}"
            )
        # A list (from a JSON setting) is kept as the tuple the field is.
        object.__setattr__(self, "ranking_cutoffs", tuple(self.ranking_cutoffs))
        cutoffs = self.ranking_cutoffs
        if not cutoffs or any(isinstance(k, bool) or not isinstance(k, int) for k in cutoffs):
            raise ValueError(f"ranking_cutoffs must be whole numbers, got {cutoffs!r}")
        if min(cutoffs) < 1 or list(cutoffs) != sorted(set(cutoffs)):
            raise ValueError(f"ranking_cutoffs must be positive and ascending, got {cutoffs!r}")
        if self.ranking_gain not in ("linear", "exponential"):
            raise ValueError(
                f"ranking_gain must be 'linear' or 'exponential', got {self.ranking_gain!r}"
            )
        if not 100 <= self.randomization_n <= 1_000_000:
            raise ValueError(
                f"randomization_n must be between 100 and 1000000, got {self.randomization_n}"
            )
        for fmt in self.plot_formats:
            if fmt not in ("png", "svg"):
                raise ValueError(f"plot format must be 'png' or 'svg', got {fmt!r}")
