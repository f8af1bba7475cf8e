"""The slice performance plot: each measured slice's primary metric with its interval,
weakest first, against the whole test set's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from evalharness.plots.style import render

#: the plot's title and what it shows, for captions and alt text (by file stem)
PLOTS = {
    "slices": (
        "Slices",
        "the primary metric of each measured slice with its 95% bootstrap interval, weakest "
        "first (the slices.json ranking), against the whole test set's (dashed line); "
        "slices worse than the whole set are red",
    )
}
#: slices drawn at most: the weakest, which are the ones worth a look
MAX_BARS = 25


class SliceBar(NamedTuple):
    """One ranked slice as the plot draws it."""

    id: str
    n: int
    value: float
    ci_low: float
    ci_high: float
    worse: bool


def slices_plot(bars: Sequence[SliceBar], metric: str, overall: float, fmt: str) -> bytes:
    """Horizontal bars, weakest slice on top, each with its interval; ``overall`` is the
    whole test set's ``metric``. Only the first :data:`MAX_BARS` are drawn."""
    shown = list(bars[:MAX_BARS])

    def draw(fig: Figure, ax: Axes) -> None:
        y = np.arange(len(shown))[::-1]
        v = np.array([b.value for b in shown])
        lo = np.array([b.ci_low for b in shown])
        hi = np.array([b.ci_high for b in shown])
        colors = ["#c0392b" if b.worse else "#2e86c1" for b in shown]
        ax.barh(y, v, color=colors, height=0.6)
        ax.errorbar(v, y, xerr=np.vstack([v - lo, hi - v]), fmt="none", ecolor="black", capsize=2)
        ax.axvline(overall, color="black", linestyle="--", linewidth=1.0)
        ax.set_yticks(y, [f"{b.id} (n={b.n})" for b in shown], fontsize=7)
        ax.set_xlabel(metric)
        left = f"the {len(shown)} weakest of {len(bars)}" if len(bars) > len(shown) else ""
        ax.set_title(f"{metric} by slice{', ' + left if left else ''} (dashed: whole test set)")

    return render(draw, fmt, (6.5, 1.2 + 0.28 * max(len(shown), 1)), fit=True)
