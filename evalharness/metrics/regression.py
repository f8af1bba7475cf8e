"""Regression metrics as weighted kernels (see metrics.classification for the idea)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evalharness.metrics.sums import weighted_sums

Array = NDArray[np.float64]

REGRESSION_METRICS = ("mae", "rmse", "r2", "median_ae")
HIGHER_IS_BETTER = {"mae": False, "rmse": False, "r2": True, "median_ae": False}
#: what each metric measures, in a line (pages show it next to the metric's name)
DESCRIPTIONS = {
    "mae": "mean absolute error, in the target's units",
    "median_ae": "median absolute error, in the target's units",
    "rmse": "root mean squared error: punishes large errors",
    "r2": "share of the target's variance explained (1 is perfect, 0 is the mean)",
}


@dataclass(frozen=True)
class RegressionArrays:
    """Truth and prediction with rows sorted by absolute error (for the weighted median)."""

    y: Array
    pred: Array
    abs_err: Array
    sorted_by_error: bool
    #: (5, n): ones, absolute error, squared error, centred y, its square
    columns: Array

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.y.size)

    def subset(
        self, positions: NDArray[np.intp], names: Sequence[str] | None = None
    ) -> RegressionArrays:
        """The same problem restricted to ``positions`` (row order kept); every metric
        needs the same arrays, so ``names`` changes nothing."""
        return build_arrays(self.y[positions], self.pred[positions])

    def row_values(self, names: Sequence[str]) -> Array | None:
        """MAE is the weighted mean of absolute errors; other metrics are not means."""
        if list(names) == ["mae"]:
            return self.abs_err
        return None

    def compute(self, w: NDArray[Any], names: Sequence[str]) -> dict[str, Array]:
        """Every metric in ``names`` for each weight row of ``w``."""
        s = weighted_sums(w, self.columns)
        total = s[:, 0]
        out: dict[str, Array] = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            for name in names:
                if name == "mae":
                    out[name] = s[:, 1] / total
                elif name == "rmse":
                    out[name] = np.sqrt(s[:, 2] / total)
                elif name == "r2":
                    # y is centred on its unweighted mean before squaring, for precision.
                    sst = s[:, 4] - s[:, 3] ** 2 / total
                    sse = s[:, 2]
                    r2 = 1.0 - sse / sst
                    tiny = sst <= 1e-12 * np.maximum(s[:, 4], 1e-300)
                    out[name] = np.where(tiny, np.where(sse <= 0, 1.0, 0.0), r2)
                    out[name][total == 0] = np.nan
                elif name == "median_ae":
                    out[name] = self._median(w)
                else:
                    raise ValueError(f"unknown regression metric {name!r}")
        return out

    def _median(self, w: Array) -> Array:
        if self.sorted_by_error:
            ws, e = w, self.abs_err
        else:
            order = np.argsort(self.abs_err, kind="stable")
            ws, e = w[:, order], self.abs_err[order]
        cum = np.cumsum(ws, axis=1)
        out = np.full(w.shape[0], np.nan)
        for b in range(w.shape[0]):
            total = cum[b, -1] if cum.shape[1] else 0.0
            if total <= 0:
                continue
            m = round(total)
            lo = int(np.searchsorted(cum[b], (m - 1) // 2, side="right"))
            hi = int(np.searchsorted(cum[b], m // 2, side="right"))
            out[b] = 0.5 * (e[lo] + e[hi])
        return out


def build_arrays(y: Array, pred: Array) -> RegressionArrays:
    """Precompute the value matrix of a regression problem."""
    err = pred - y
    abs_err = np.abs(err)
    yc = y - (y.mean() if y.size else 0.0)
    sorted_ = bool(np.all(abs_err[1:] >= abs_err[:-1])) if y.size > 1 else True
    columns = np.vstack([np.ones_like(y), abs_err, err**2, yc, yc**2])
    return RegressionArrays(y, pred, abs_err, sorted_, columns)


def prepare(y_true: ArrayLike, y_pred: ArrayLike) -> RegressionArrays:
    """Validate and precompute a regression problem (rows kept in the given order)."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of equal length, got {y.shape} {p.shape}")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(p))):
        raise ValueError("y_true and y_pred must be finite")
    return build_arrays(y, p)


def regression_metrics(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float | None]:
    """Point estimates of MAE, RMSE, R^2 and median absolute error."""
    arrays = prepare(y_true, y_pred)
    values = arrays.compute(np.ones((1, arrays.n)), REGRESSION_METRICS)
    return {k: (None if np.isnan(v[0]) else float(v[0])) for k, v in values.items()}
