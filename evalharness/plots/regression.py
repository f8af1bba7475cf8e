"""Regression plots: residuals, predicted vs actual, error histogram, error by target bucket."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

from evalharness.plots.style import render

#: each plot's title and what it shows, for captions and alt text (by file stem)
PLOTS = {
    "error_by_target_quantile": (
        "Error by target range",
        "mean absolute error in each quantile of the true value",
    ),
    "error_histogram": ("Errors", "the distribution of prediction minus truth"),
    "predicted_vs_actual": ("Predicted against actual", "each test row; the diagonal is perfect"),
    "residuals": ("Residuals", "prediction error against the predicted value"),
}


def sample_rows(n: int, max_points: int, seed: int) -> NDArray[np.intp]:
    """A seeded, sorted subsample for scatter plots (all rows when n is small)."""
    if n <= max_points:
        return np.arange(n)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(11,)))
    return np.sort(rng.choice(n, size=max_points, replace=False))


def residuals_plot(y: NDArray[np.float64], pred: NDArray[np.float64], fmt: str) -> bytes:
    """Residual (prediction - truth) against prediction."""

    def draw(fig: Figure, ax: Axes) -> None:
        ax.scatter(pred, pred - y, s=4, alpha=0.5)
        ax.axhline(0.0, color="grey", linestyle="--")
        ax.set_xlabel("prediction")
        ax.set_ylabel("residual (prediction - truth)")
        ax.set_title("Residuals")

    return render(draw, fmt)


def predicted_vs_actual_plot(y: NDArray[np.float64], pred: NDArray[np.float64], fmt: str) -> bytes:
    """Prediction against truth with the identity line."""

    def draw(fig: Figure, ax: Axes) -> None:
        ax.scatter(y, pred, s=4, alpha=0.5)
        lo = float(min(y.min(), pred.min())) if y.size else 0.0
        hi = float(max(y.max(), pred.max())) if y.size else 1.0
        ax.plot([lo, hi], [lo, hi], color="grey", linestyle="--")
        ax.set_xlabel("truth")
        ax.set_ylabel("prediction")
        ax.set_title("Predicted vs actual")

    return render(draw, fmt)


def error_histogram(err: NDArray[np.float64], fmt: str) -> bytes:
    """Histogram of prediction errors."""
    counts, edges = np.histogram(err, bins=30)

    def draw(fig: Figure, ax: Axes) -> None:
        ax.stairs(counts, edges, fill=True, alpha=0.7)
        ax.set_xlabel("error (prediction - truth)")
        ax.set_ylabel("rows")
        ax.set_title("Error histogram")

    return render(draw, fmt)


def error_by_quantile_plot(names: list[str], mae: list[float], fmt: str) -> bytes:
    """Mean absolute error per target-quantile bucket."""

    def draw(fig: Figure, ax: Axes) -> None:
        ax.bar(range(len(names)), mae)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_ylabel("mean absolute error")
        ax.set_title("Error by target quantile")

    # The rotated bucket definitions overflow the fixed bottom margin.
    return render(draw, fmt, fit=True)
