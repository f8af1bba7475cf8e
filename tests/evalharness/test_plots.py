"""Plots keep every label inside the figure, and stay byte-identical."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure

from evalharness.plots import classification as PC
from evalharness.plots import regression as PR
from evalharness.plots.stress import stress_plot

_rng = np.random.default_rng(0)
_y = _rng.integers(0, 2, 200)
_s = _rng.random(200)
PLOTS: dict[str, tuple[Callable[..., bytes], tuple[Any, ...]]] = {
    "confusion_binary": (
        PC.confusion_matrix_plot,
        (np.array([[30, 3], [3, 31]]), ["female", "male"]),
    ),
    "confusion_long_names": (
        PC.confusion_matrix_plot,
        (np.arange(9).reshape(3, 3) * 40, ["Chinstrap", "Adelie penguin", "Gentoo (long name)"]),
    ),
    "roc": (PC.roc_plot, (_y, _s, 0.5)),
    "pr": (PC.pr_plot, (_y, _s, 0.5)),
    "calibration": (PC.calibration_plot, (_y == 1, _s)),
    "confidence_histogram": (PC.confidence_histogram, (_y == 1, _s)),
    "stress": (
        stress_plot,
        ([("label_noise", [0.0, 0.1], [0.9, 0.8], [0.8, 0.7], [0.95, 0.9])], "accuracy"),
    ),
    "residuals": (PR.residuals_plot, (_s, 2 * _s)),
    "predicted_vs_actual": (PR.predicted_vs_actual_plot, (_s, 2 * _s)),
    "error_histogram": (PR.error_histogram, (_s,)),
    "error_by_target_quantile": (
        PR.error_by_quantile_plot,
        (["target < 120.5", "120.5 <= target < 1.5e+04", "target >= 1.5e+04"], [1.0, 2.0, 3.0]),
    ),
}


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_labels_fit_inside_the_figure(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The confusion matrix's x label used to hang below the bottom edge."""
    boxes: list[tuple[Any, Any]] = []
    real = Figure.savefig

    def spy(fig: Figure, *args: Any, **kwargs: Any) -> None:
        real(fig, *args, **kwargs)  # lays out and draws, as the saved file is
        # Measured with the figure's own (Agg) renderer, after the layout ran.
        boxes.append((fig.get_tightbbox(), fig.bbox_inches))

    monkeypatch.setattr(Figure, "savefig", spy)
    draw, args = PLOTS[name]
    first = draw(*args, "png")
    ((drawn, page),) = boxes
    tol = 1e-6
    assert drawn.x0 >= -tol and drawn.y0 >= -tol, (name, drawn)
    assert drawn.x1 <= page.x1 + tol and drawn.y1 <= page.y1 + tol, (name, drawn)
    monkeypatch.undo()
    assert draw(*args, "png") == first  # the layout step keeps the bytes stable
