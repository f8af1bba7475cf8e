"""Classification: the task's part of an evaluation (its :class:`TaskSpec`), the public
evaluator and the paired deltas of two classifiers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from evalharness.bench.latency import LatencyResult
from evalharness.bootstrap.paired import PairedDeltas, paired_bootstrap, point_metrics
from evalharness.bootstrap.resample import resolve_method
from evalharness.core.config import (
    AUTO_MULTINOMIAL_MAX_ROWS,
    BaselineResult,
    ClassifierPredict,
    EvalConfig,
    LeakageInputs,
    RunInfo,
)
from evalharness.core.pipeline import evaluate
from evalharness.core.task import TaskMetrics, TaskSpec, check_rows
from evalharness.failures.neighbours import NearestTraining, TrainingTexts
from evalharness.failures.selection import classification_failures
from evalharness.metrics import classification as MC
from evalharness.plots import classification as PC
from evalharness.plots.collect import PlotSet
from evalharness.schemas import files as S
from evalharness.slicing.families import SliceFamily, classification_families
from evalharness.stress.classification import ClassificationStress, StressedClassifier

DEFAULT_HEADLINE = ("accuracy", "roc_auc", "f1")
#: what the weak-slice search treats as loss (slices.json ``search.loss``)
SEARCH_LOSS = "error indicator (1 - correct)"


def bootstrap_layout(
    y: NDArray[np.intp], scores: NDArray[np.float64] | None, n_classes: int
) -> NDArray[np.intp]:
    """The row layout of the bootstrap kernels (position ``j`` holds caller row ``order[j]``).

    Binary rows with scores are laid out once as (negatives by score, positives by score),
    so every ROC kernel, slices included, reads contiguous slices instead of gathering;
    other tasks keep the caller's order. Replicates are drawn in the caller's order and
    permuted into this layout, so the layout never changes which rows a replicate draws.
    """
    if scores is not None and n_classes == 2:
        return np.lexsort((scores[:, 1], y)).astype(np.intp)
    return np.arange(y.size, dtype=np.intp)


def _laid_out(
    y: NDArray[np.intp],
    p: NDArray[np.intp],
    scores: NDArray[np.float64] | None,
    order: NDArray[np.intp],
    n_classes: int,
    f1_average: str,
) -> MC.ClassificationArrays:
    """One classifier's arrays with the rows in the layout ``order``."""
    laid = None if scores is None else scores[order]
    return MC.build_arrays(y[order], p[order], laid, n_classes, f1_average)


def paired_classification_deltas(
    y_true: ArrayLike,
    a_pred: ArrayLike,
    b_pred: ArrayLike,
    *,
    a_scores: ArrayLike | None = None,
    b_scores: ArrayLike | None = None,
    classes: Sequence[Any] | None = None,
    config: EvalConfig | None = None,
) -> PairedDeltas:
    """Paired bootstrap intervals of (B - A) for every metric defined for both classifiers.

    A and B scored the same rows (``y_true``). Labels, scores and ``classes`` are read as
    :func:`evaluate_classification` reads them, and ``config``'s ``n_bootstrap``, ``seed``
    and ``bootstrap_method`` pick the replicates, so the result equals the deltas of B's
    report against baseline A (``metrics.json`` ``deltas``) number for number.
    """
    cfg = config or EvalConfig()
    if classes is None:
        seen = np.concatenate([np.asarray(v).ravel() for v in (y_true, a_pred, b_pred)])
        classes = sorted(set(seen.tolist()))
    y, pb, scb, labels = MC.encode(y_true, b_pred, b_scores, classes)
    _, pa, sca, _ = MC.encode(y_true, a_pred, a_scores, labels)
    k = len(labels)
    f1_avg, _ = MC.choose_f1_average(y, k)
    order = bootstrap_layout(y, scb, k)
    method = resolve_method(cfg.bootstrap_method, y.size, AUTO_MULTINOMIAL_MAX_ROWS)
    return paired_bootstrap(
        _laid_out(y, pb, scb, order, k, f1_avg),
        _laid_out(y, pa, sca, order, k, f1_avg),
        MC.CLASSIFICATION_METRICS,
        MC.HIGHER_IS_BETTER,
        cfg.n_bootstrap,
        cfg.seed,
        method,
        order,
    )


def classification_task(
    frame: pd.DataFrame,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    cfg: EvalConfig,
    *,
    scores: ArrayLike | None = None,
    classes: Sequence[Any] | None = None,
    predict: ClassifierPredict | None = None,
    baseline: BaselineResult | None = None,
    slices: Sequence[SliceFamily] | None = None,
    text_columns: Sequence[str] = (),
    train_texts: TrainingTexts | None = None,
) -> TaskSpec:
    """The classification task's part of an evaluation (arguments as
    :func:`evaluate_classification` takes them)."""
    check_rows(frame, len(np.asarray(y_true)))
    y, p, sc, labels = MC.encode(y_true, y_pred, scores, classes)
    k = len(labels)
    f1_avg, f1_reason = MC.choose_f1_average(y, k)
    order = bootstrap_layout(y, sc, k)
    arrays = _laid_out(y, p, sc, order, k, f1_avg)
    point = point_metrics(arrays, MC.CLASSIFICATION_METRICS)
    b_arrays = None
    models = [StressedClassifier("candidate", predict, p, sc)]
    if baseline is not None:
        b_p = b_sc = None
        if baseline.y_pred is not None:
            _, b_p, b_sc, _ = MC.encode(y_true, baseline.y_pred, baseline.scores, labels)
            b_arrays = _laid_out(y, b_p, b_sc, order, k, f1_avg)
        models.append(StressedClassifier("baseline", baseline.predict, b_p, b_sc))
    confidence = None if sc is None else sc.max(axis=1)
    conf_m = arrays.confusion()
    str_labels = [str(x) for x in labels]

    def plots(out: PlotSet) -> None:
        out.add("confusion_matrix", PC.confusion_matrix_plot, conf_m, str_labels)
        if sc is not None:
            if k == 2:
                out.add("roc_curve", PC.roc_plot, y, sc[:, 1], point["roc_auc"])
                out.add("pr_curve", PC.pr_plot, y, sc[:, 1], point["pr_auc"])
            assert confidence is not None
            out.add("calibration", PC.calibration_plot, y == p, confidence)
            out.add("confidence_histogram", PC.confidence_histogram, y == p, confidence)

    return TaskSpec(
        name="classification",
        y_true=y_true,
        y=y,
        metrics=TaskMetrics(
            names=MC.CLASSIFICATION_METRICS,
            higher_is_better=MC.HIGHER_IS_BETTER,
            default_headline=DEFAULT_HEADLINE,
            arrays=arrays,
            order=order,
            point=point,
            notes=_notes(point, sc is not None, k, f"average={f1_avg}: {f1_reason}"),
            baseline=b_arrays,
        ),
        slices=classification_families(frame, y, labels, sc, cfg) if slices is None else slices,
        search_loss=(y != p).astype(np.float64),
        search_loss_description=SEARCH_LOSS,
        failures=lambda worst: classification_failures(
            frame,
            y,
            p,
            labels,
            confidence,
            worst,
            cfg.n_failures,
            nearest=(NearestTraining(train_texts), text_columns)
            if train_texts is not None and text_columns
            else None,
        ),
        plots=plots,
        stress=ClassificationStress(y, labels, f1_avg, tuple(models), tuple(text_columns)),
        classes=str_labels,
        confusion_matrix=S.ConfusionMatrix(labels=str_labels, matrix=conf_m.tolist()),
    )


def _notes(
    point: dict[str, float | None], has_scores: bool, n_classes: int, f1: str
) -> dict[str, str]:
    """metrics.json ``notes``: the F1 average and why, and why a metric is missing."""
    notes = {"f1": f1}
    if not has_scores:
        for m in ("roc_auc", "pr_auc", *MC.LOSS_METRICS):
            notes[m] = "needs scores, none were given"
    else:
        if n_classes > 2:
            notes["pr_auc"] = "average precision is reported for binary tasks only"
        if point["roc_auc"] is None:
            notes["roc_auc"] = "undefined: some class lacks positive or negative examples"
    return notes


def evaluate_classification(
    out_dir: Path,
    frame: pd.DataFrame,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    run: RunInfo,
    scores: ArrayLike | None = None,
    classes: Sequence[Any] | None = None,
    predict: ClassifierPredict | None = None,
    baseline: BaselineResult | None = None,
    leakage: LeakageInputs | None = None,
    config: EvalConfig | None = None,
    latency: LatencyResult | str | None = None,
    slices: Sequence[SliceFamily] | None = None,
    text_columns: Sequence[str] = (),
    train_texts: TrainingTexts | None = None,
) -> S.EvalSummaryFile:
    """Evaluate a classifier on the test rows in ``frame`` and (re)write ``out_dir``.

    ``text_columns`` are ``frame``'s free-text columns: the stress tests then also give
    their words typos, drop and cut them, and write them in capitals
    (:data:`~evalharness.stress.text.TEXT_SCENARIOS`); with ``train_texts`` each failure
    example names its nearest training text and that text's label.

    ``slices`` are the report's slice families, masks in ``frame``'s row order (default:
    :func:`~evalharness.slicing.families.classification_families`).

    ``scores`` is ``(n, K)`` probabilities in ``classes`` order (or the positive-class column
    for binary). ``predict(frame) -> (y_pred, scores)`` enables the feature stress tests.
    ``latency`` is a measure_latency result written into eval_summary.json (the folder is
    then no longer byte-identical between machines), or a path relative to ``out_dir`` of a
    file outside it that holds the timings.
    Leakage checks finish before anything is written; on LeakageError nothing is.
    """
    return evaluate(
        out_dir,
        frame,
        lambda cfg: classification_task(
            frame,
            y_true,
            y_pred,
            cfg,
            scores=scores,
            classes=classes,
            predict=predict,
            baseline=baseline,
            slices=slices,
            text_columns=text_columns,
            train_texts=train_texts,
        ),
        run=run,
        baseline=baseline,
        leakage=leakage,
        config=config,
        latency=latency,
    )
