"""The stress degradation plot: metric vs severity per scenario and model, with CIs."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from evalharness.plots.style import render

#: the plot's title and what it shows, for captions and alt text (by file stem)
PLOTS = {"stress": ("Stress tests", "the primary metric as inputs are corrupted more and more")}


def stress_plot(
    series: Sequence[tuple[str, list[float], list[float], list[float], list[float]]],
    metric: str,
    fmt: str,
) -> bytes:
    """``series``: (label, severities, values, ci_low, ci_high) per line."""

    def draw(fig: Figure, ax: Axes) -> None:
        for label, x, v, lo, hi in series:
            (line,) = ax.plot(x, v, marker="o", label=label)
            ax.fill_between(x, lo, hi, alpha=0.15, color=line.get_color())
        ax.set_xlabel("severity")
        ax.set_ylabel(metric)
        ax.legend(loc="best", fontsize=7)
        ax.set_title("Stress tests")

    return render(draw, fmt, size=(6.0, 4.0))
