"""What a task contributes to the one evaluation pipeline (:mod:`evalharness.core.pipeline`).

A task (classification, regression, ...) reads its inputs into a :class:`TaskSpec`: its
metrics on the evaluated rows, its slice families, its weak-slice loss, its failure
selection, its plots, its stress tests and its part of metrics.json. Everything else
(headline, bootstrap, slices, baseline pairing, stress sampling, search, leakage checks,
takeaway and the contract folder) the pipeline does the same way for every task, so a new
task adds a spec, not another copy of the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from evalharness.bootstrap.engine import WeightedMetrics
from evalharness.core.config import EvalConfig
from evalharness.core.errors import ContractError
from evalharness.failures.selection import Failure
from evalharness.plots.collect import PlotSet
from evalharness.schemas import files as S
from evalharness.slicing.families import SliceFamily
from evalharness.stress.runner import StressCase

#: The weakest slice handed to a task's failure selection: its id and its mask over the
#: evaluated rows (caller's order); None when no slice is worse than overall.
WorstSlice = tuple[str, NDArray[np.bool_]]


@dataclass(frozen=True)
class TaskMetrics:
    """A task's metrics on the evaluated rows, laid out for the bootstrap kernels.

    ``arrays`` and ``baseline`` hold the rows in the layout ``order`` (position ``j``
    holds caller row ``order[j]``), which the task picks for its kernels; replicates are
    drawn in the caller's order whatever it is.
    """

    #: every metric the task reports, in metrics.json order
    names: Sequence[str]
    higher_is_better: Mapping[str, bool]
    #: the headline when ``EvalConfig.headline`` is None; its first metric is also the
    #: headline when none of the requested metrics is defined on these rows
    default_headline: Sequence[str]
    arrays: WeightedMetrics
    order: NDArray[np.intp]
    #: point estimates of ``names`` (None where undefined, e.g. ROC-AUC without scores)
    point: dict[str, float | None]
    #: metrics.json ``notes``: why a metric is computed as it is, or missing
    notes: dict[str, str]
    #: the baseline's predictions on the same rows and layout; None without them
    baseline: WeightedMetrics | None = None


@dataclass(frozen=True)
class StressContext:
    """What the pipeline hands a task's stress tests."""

    #: the rows the tests score: every evaluated row, or the seeded stress sample
    frame: pd.DataFrame
    #: the key feature of the whole test set (EvalConfig.key_feature, else the rule)
    key: str | None
    #: the metric the tests report: the report's primary metric
    metric: str
    cfg: EvalConfig
    #: the minimum slice size: a scenario scoring a segment of the rows needs as many
    min_rows: int


class StressSource(Protocol):
    """A task's stress tests: its models' predictions on the rows the tests score."""

    def on_rows(self, rows: NDArray[np.intp]) -> StressSource:
        """The same tests on the caller rows ``rows`` only (the seeded stress sample)."""
        ...

    def clean(self, metric: str) -> dict[str, float | None]:
        """Each model's uncorrupted ``metric`` on these rows (None without predictions)."""
        ...

    def cases(self, ctx: StressContext) -> tuple[list[StressCase], dict[str, str]]:
        """Every (scenario, model, severity) case, and each scenario's description."""
        ...


@dataclass(frozen=True)
class TaskSpec:
    """Everything one task contributes to an evaluation (see the module docstring)."""

    #: the task's name: metrics.json and eval_summary.json ``task``, and the rules of the
    #: single-feature leak check
    name: str
    #: the true targets as the caller gave them (the leak check reads them itself)
    y_true: ArrayLike
    #: the true targets as numbers in the caller's row order (class codes or values), for
    #: the key-feature rule
    y: NDArray[Any]
    metrics: TaskMetrics
    #: the report's slice families: the caller's, else the task's built-in ones
    slices: Sequence[SliceFamily]
    #: the weak-slice search's per-row loss, and what it is in words (slices.json)
    search_loss: NDArray[np.float64]
    search_loss_description: str
    #: the failure examples, given the weakest slice
    failures: Callable[[WorstSlice | None], list[Failure]]
    #: adds the task's plots (drawn after the stress plot)
    plots: Callable[[PlotSet], None]
    stress: StressSource
    #: metrics.json ``classes`` and ``confusion_matrix`` (None for tasks without classes)
    classes: list[str] | None = None
    confusion_matrix: S.ConfusionMatrix | None = None
    #: what the evaluated units are, in the plural, when they are not rows ("queries")
    units: str | None = None
    #: the task's own contract files (``{stem: (file name, bytes)}``, e.g. ranking.json),
    #: written beside the shared ones and listed in eval_summary.json ``files``
    files: Callable[[], dict[str, tuple[str, bytes]]] | None = None


def check_rows(frame: pd.DataFrame, n: int) -> None:
    """``frame`` must hold one row per evaluated example.

    :raises ContractError: it does not.
    """
    if len(frame) != n:
        raise ContractError(f"frame has {len(frame)} rows but y_true has {n}")
