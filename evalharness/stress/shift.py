"""The distribution-shift stress test's segments: which rows a refit trains on at each
severity, which rows it is evaluated on, and when a severity is too small to run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from evalharness.core.config import EvalConfig
from evalharness.metrics import regression as MR

# The held-out segment is the top 20% of the shift feature; at severity s the model is
# refit on rows below the (0.8 - s) quantile, so a larger s means a wider gap.
SHIFT_TEST_QUANTILE = 0.8


@dataclass(frozen=True)
class ShiftSegment:
    """The rows one distribution-shift severity refits on, and why it may not run."""

    train: NDArray[np.bool_]
    skip: str | None


@dataclass(frozen=True)
class ShiftPlan:
    """Every severity's segment, the evaluated rows and the clean reference on them."""

    column: str
    test: NDArray[np.bool_]
    reference: float | None
    segments: list[ShiftSegment]
    description: str


def shift_plan(
    frame: pd.DataFrame,
    y: NDArray[np.float64],
    pred: NDArray[np.float64],
    column: str,
    cfg: EvalConfig,
    metric: str,
    min_rows: int,
) -> ShiftPlan:
    """Segments of the shift test, each held to an honest size.

    A refit on a few dozen rows measures the small sample, not the shift: a severity
    runs only when its refit segment has max(shift_min_refit_rows,
    shift_refit_rows_per_feature x feature columns) rows and the evaluated segment has
    the minimum slice size; otherwise it is skipped with the sizes in its status.
    """
    x = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(x)
    hi = np.quantile(x[finite], SHIFT_TEST_QUANTILE) if finite.any() else np.nan
    test = finite & (x >= hi)
    n_eval = int(test.sum())
    need = max(2, cfg.shift_min_refit_rows, cfg.shift_refit_rows_per_feature * frame.shape[1])
    why_need = (
        f"{cfg.shift_refit_rows_per_feature} per feature column x {frame.shape[1]}, "
        f"at least {cfg.shift_min_refit_rows}"
    )
    segments = []
    for sev in cfg.stress_severities:
        q = max(SHIFT_TEST_QUANTILE - sev, 0.05)
        lo = np.quantile(x[finite], q) if finite.any() else np.nan
        train = finite & (x < lo)
        n_train = int(train.sum())
        skip = None
        if n_eval < min_rows:
            skip = (
                f"the evaluated segment ({column} >= its {SHIFT_TEST_QUANTILE:g} quantile) has "
                f"{n_eval} rows, under the minimum slice size of {min_rows}"
            )
        elif n_train < need:
            skip = (
                f"the refit segment ({column} below its {q:.2g} quantile) has {n_train} rows, "
                f"fewer than the {need} a refit needs ({why_need})"
            )
        segments.append(ShiftSegment(train, skip))
    reference = MR.regression_metrics(y[test], pred[test]).get(metric) if n_eval else None
    description = (
        f"refit on rows with {column} below its (0.8 - severity) quantile, evaluated on the "
        f"{n_eval} rows at or above its 0.8 quantile; degradation is against the model's clean "
        f"{metric} on those same rows ({_fmt(reference)}); a severity runs only with at least "
        f"{need} refit rows ({why_need}) and {min_rows} evaluated rows (the minimum slice "
        f"size), else it is skipped"
    )
    return ShiftPlan(column, test, reference, segments, description)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"
