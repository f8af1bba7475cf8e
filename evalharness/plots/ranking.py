"""Ranking plots: each metric against K with bootstrap bands, and the per-query change
against the baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

from evalharness.plots.style import render

#: each plot's title and what it shows, for captions and alt text (by file stem)
PLOTS = {
    "metric_vs_k": (
        "Metrics against K",
        "NDCG@K, recall@K and precision@K for each cutoff K, with 95% bootstrap bands "
        "over queries, for the model and its baseline",
    ),
    "per_query_delta": (
        "Per-query change against the baseline",
        "the primary metric of the model minus the baseline's, one bar per query, sorted",
    ),
}
#: the families the metric-vs-K plot draws, one panel each
CURVE_FAMILIES = ("ndcg", "recall", "precision")

#: model -> family -> [(k, value, ci_low, ci_high)]
Curves = Mapping[str, Mapping[str, Sequence[tuple[int, float, float, float]]]]


def metric_vs_k_plot(curves: Curves, fmt: str) -> bytes:
    """One panel per family: each model's value at every K, its interval as a band."""

    def draw(fig: Figure, ax: Axes) -> None:
        fig.delaxes(ax)
        axes = fig.subplots(1, len(CURVE_FAMILIES), sharex=True)
        for panel, family in zip(np.atleast_1d(axes), CURVE_FAMILIES, strict=True):
            for model in sorted(curves):
                points = curves[model].get(family, [])
                if not points:
                    continue
                k = [p[0] for p in points]
                line = panel.plot(k, [p[1] for p in points], marker="o", label=model)
                panel.fill_between(
                    k,
                    [p[2] for p in points],
                    [p[3] for p in points],
                    alpha=0.2,
                    color=line[0].get_color(),
                )
            panel.set_xscale("log")
            panel.set_xlabel("K")
            panel.set_title(f"{family}@K")
            panel.set_ylim(0, 1)
        np.atleast_1d(axes)[0].legend(loc="best")

    return render(draw, fmt, (10.0, 3.6), fit=True)


def per_query_delta_plot(delta: NDArray[np.float64], metric: str, fmt: str) -> bytes:
    """The candidate's minus the baseline's ``metric`` per query, sorted ascending."""

    def draw(fig: Figure, ax: Axes) -> None:
        d = np.sort(delta)
        colors = ["#c0392b" if v < 0 else "#2e86c1" for v in d]
        ax.bar(np.arange(d.size), d, color=colors, width=1.0)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xlabel("queries, sorted by change")
        ax.set_ylabel(f"{metric}: model - baseline")
        better, worse = int((d > 0).sum()), int((d < 0).sum())
        ax.set_title(f"{better} queries better, {worse} worse, {d.size - better - worse} equal")

    return render(draw, fmt)
