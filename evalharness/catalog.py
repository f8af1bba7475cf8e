"""What EvalHarness reports, in words: each metric (what it measures and which way is
better), each plot (its title and what it shows) and each failure-mode category.

Pages that show a report read these (ModelLab serves them in ``GET /api/plugins``), so
the words live once, beside the code that computes what they describe.
"""

from __future__ import annotations

import msgspec

from evalharness.core.config import EvalConfig
from evalharness.failures.categories import CATEGORIES
from evalharness.metrics import classification as metrics_classification
from evalharness.metrics import queries as metrics_queries
from evalharness.metrics import regression as metrics_regression
from evalharness.plots import classification as plots_classification
from evalharness.plots import ranking as plots_ranking
from evalharness.plots import regression as plots_regression
from evalharness.plots import slices as plots_slices
from evalharness.plots import stress as plots_stress


class MetricWords(msgspec.Struct, frozen=True):
    """A metric: what it measures, and whether a higher value is better."""

    description: str
    higher_is_better: bool


class PlotWords(msgspec.Struct, frozen=True):
    """A plot, by its file stem: its title and what it shows."""

    title: str
    shows: str


class FailureModeWords(msgspec.Struct, frozen=True):
    """A failure-mode category: its title and what falls in it."""

    title: str
    description: str


class Catalog(msgspec.Struct, frozen=True):
    """Every metric, plot and failure-mode category EvalHarness reports, sorted by name."""

    metrics: dict[str, MetricWords]
    plots: dict[str, PlotWords]
    failure_modes: dict[str, FailureModeWords]


def catalog() -> Catalog:
    """The words of every metric, plot and failure-mode category EvalHarness reports."""
    metrics: dict[str, MetricWords] = {}
    for module in (metrics_classification, metrics_regression):
        for name, better in module.HIGHER_IS_BETTER.items():
            metrics[name] = MetricWords(module.DESCRIPTIONS[name], better)
    # Ranking metrics at the default cutoffs (a report with other K names its own).
    for name in metrics_queries.metric_names(EvalConfig().ranking_cutoffs):
        k = name.partition("@")[2]
        words = metrics_queries.DESCRIPTIONS[metrics_queries.family_of(name)]
        metrics[name] = MetricWords(
            words.replace("top k", f"top {k}").replace("rank k", f"rank {k}"), True
        )
    plots = {
        stem: PlotWords(title, shows)
        for module in (
            plots_classification,
            plots_regression,
            plots_ranking,
            plots_slices,
            plots_stress,
        )
        for stem, (title, shows) in module.PLOTS.items()
    }
    modes = {key: FailureModeWords(title, text) for key, (title, text) in CATEGORIES.items()}
    return Catalog(dict(sorted(metrics.items())), dict(sorted(plots.items())), modes)
