"""Ranking plots: each metric against K with bootstrap bands, and the per-query change
against the baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
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
    "index_sweep": (
        "Approximate index settings",
        "recall against exact search and the primary metric for each setting of the "
        "retriever's index (HNSW efSearch and M, IVF nprobe), with 95% bootstrap intervals "
        "over queries; the deployed setting is ringed",
    ),
    "recall_latency": (
        "Recall against latency",
        "recall against exact search (95% bootstrap interval over queries) against the "
        "median time to search a batch of queries, one point per index setting; the "
        "deployed settings are ringed. Drawn beside the eval folder: timings differ "
        "between runs",
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


class SweepPoint(NamedTuple):
    """One index setting as the sweep plot draws it."""

    family: str
    parameter: str
    value: int
    deployed: bool
    recall: tuple[float, float, float]
    metric: tuple[float, float, float]


def index_sweep_plot(points: Sequence[SweepPoint], metric: str, fmt: str) -> bytes:
    """One panel per swept parameter: recall against exact search and ``metric`` at
    each value (estimate, interval low, high) as error bars; the deployed value ringed."""
    panels = sorted({(p.family, p.parameter) for p in points})

    def draw(fig: Figure, ax: Axes) -> None:
        fig.delaxes(ax)
        axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
        for panel, (family, parameter) in zip(axes, panels, strict=True):
            mine = sorted(
                (p for p in points if (p.family, p.parameter) == (family, parameter)),
                key=lambda p: p.value,
            )
            x = np.array([p.value for p in mine])
            ringed = np.array([p.deployed for p in mine], dtype=bool)
            for name, series in (
                ("recall vs exact", [p.recall for p in mine]),
                (metric, [p.metric for p in mine]),
            ):
                v, lo, hi = (np.array(c, dtype=np.float64) for c in zip(*series, strict=True))
                line = panel.errorbar(
                    x, v, yerr=np.vstack([v - lo, hi - v]), marker="o", capsize=3, label=name
                )
                panel.scatter(
                    x[ringed], v[ringed], s=140, facecolors="none", edgecolors=line[0].get_color()
                )
            panel.set_xscale("log", base=2)
            panel.set_xlabel(f"{family} {parameter}")
            panel.set_ylim(0, 1.05)
        axes[0].set_ylabel("value")
        axes[0].legend(loc="lower right", fontsize=7)

    return render(draw, fmt, (3.6 * max(len(panels), 1), 3.4), fit=True)


class TradeoffPoint(NamedTuple):
    """One index setting as the recall-latency plot draws it: ``series`` is the swept
    parameter (``hnsw efSearch``) and ``value`` its setting."""

    series: str
    value: int
    deployed: bool
    p50_ms: float
    recall: tuple[float, float, float]


def recall_latency_plot(points: Sequence[TradeoffPoint], k: int, batch: str, fmt: str) -> bytes:
    """Recall@``k`` against exact search (estimate, interval low, high) as error bars
    against the p50 time to search ``batch``, one colour per swept parameter, each point
    labelled with its value and the deployed settings ringed: what a setting buys."""

    def draw(fig: Figure, ax: Axes) -> None:
        for series in sorted({p.series for p in points}):
            mine = sorted((p for p in points if p.series == series), key=lambda p: p.value)
            x = np.array([p.p50_ms for p in mine])
            v, lo, hi = (
                np.array(c, dtype=np.float64) for c in zip(*(p.recall for p in mine), strict=True)
            )
            bars = ax.errorbar(
                x, v, yerr=np.vstack([v - lo, hi - v]), fmt="o-", capsize=3, label=series
            )
            ringed = np.array([p.deployed for p in mine], dtype=bool)
            ax.scatter(
                x[ringed], v[ringed], s=140, facecolors="none", edgecolors=bars[0].get_color()
            )
            # Labels alternate above and below the line: neighbours often share a recall.
            for i, p in enumerate(mine):
                ax.annotate(
                    str(p.value),
                    (p.p50_ms, p.recall[0]),
                    xytext=(3, 6 if i % 2 else -11),
                    textcoords="offset points",
                    fontsize=7,
                    color=bars[0].get_color(),
                )
        ax.set_xscale("log")
        # Plain numbers, and room on the right for the last point's label.
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.margins(x=0.2)
        lowest = min(p.recall[1] for p in points)
        ax.set_ylim(max(0.0, lowest - 0.1), 1.05)
        ax.set_xlabel(f"p50 ms to search {batch}")
        ax.set_ylabel(f"recall@{k} against exact search")
        ax.legend(loc="lower right", fontsize=7)

    return render(draw, fmt, (6.0, 4.2), fit=True)
