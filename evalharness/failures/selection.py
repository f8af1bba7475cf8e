"""Stable selection of failure examples; ties are always broken by example id.

Each task fills its lists in a fixed order (classification: confident_wrong,
low_confidence_correct, worst_slice_errors; regression: largest_abs_error,
under_prediction, over_prediction). An example appears at most once: it belongs to the
first list that selects it, later lists skip it and take their next rows instead, and its
one category follows from that list (see ``DEDUP_RULE``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from evalharness.failures.neighbours import NearestTraining
from evalharness.failures.texts import cut_text, joined_texts
from evalharness.metrics.classification import CONFIDENT
from evalharness.schemas import files as S
from evalharness.slicing.fixed import missingness_share

MAX_SUMMARY_FEATURES = 8
#: How overlapping lists are resolved; written into failure_examples.json's selection.
DEDUP_RULE = (
    "each example appears once, in the first list (in list order) that selects it; later "
    "lists skip it and take their next rows; its category follows from that list"
)


@dataclass(frozen=True)
class Failure:
    """One selected example (before serialization)."""

    example_id: str
    list: str
    input_summary: dict[str, Any]
    prediction: Any
    truth: Any
    confidence: float | None
    reason: str
    category: str
    nearest_training: S.NearestTrainingExample | None = None


def _scalar(v: Any) -> Any:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        if np.isnan(v):
            return None
        return float(f"{v:.6g}")
    if isinstance(v, str):
        return cut_text(v)
    if isinstance(v, bool | int):
        return v
    return str(v)


def input_summary(frame: pd.DataFrame, row: int) -> dict[str, Any]:
    """Up to 8 features of a row, by column name."""
    cols = sorted(map(str, frame.columns))[:MAX_SUMMARY_FEATURES]
    record = frame.iloc[row]
    return {c: _scalar(record[c]) for c in cols}


def _ids(frame: pd.DataFrame) -> NDArray[np.str_]:
    return np.asarray([str(i) for i in frame.index.tolist()])


def _ordered(
    ids: NDArray[np.str_], rows: NDArray[np.intp], key: NDArray[np.float64], n: int
) -> list[int]:
    """The first ``n`` rows by ``key`` ascending, ties by example id."""
    if rows.size > n > 0:
        # Keep every row tied with the n-th key so the id tie-break stays exact.
        k = key[rows]
        kth = np.partition(k, n - 1)[n - 1]
        rows = rows[k <= kth]
    ranked = sorted(rows.tolist(), key=lambda r: (float(key[r]), str(ids[r])))
    return [int(r) for r in ranked[:n]]


class _Picker:
    """Fills the lists in order; a row already taken by an earlier list is skipped.

    The lists overlap (a confident error is often also an error in the worst slice, the
    largest errors are also the largest under- or over-predictions); concatenating them
    listed such rows twice, under two categories, and counted them twice.
    """

    def __init__(self, ids: NDArray[np.str_]) -> None:
        self.ids = ids
        # Taken is tracked per example id, not per row: a frame whose index repeats a
        # label must still not list that id twice.
        _, self.code = np.unique(ids, return_inverse=True)
        self.taken = np.zeros(ids.size, dtype=bool)

    def take(self, rows: NDArray[np.intp], key: NDArray[np.float64], n: int) -> list[int]:
        """The first ``n`` rows of ``rows`` by ``key`` (ties by id) whose id is not taken."""
        free = rows[~self.taken[self.code[rows]]]
        picked: list[int] = []
        while free.size and len(picked) < n:
            batch = _ordered(self.ids, free, key, n - len(picked))
            for r in batch:
                if not self.taken[self.code[r]]:  # a repeated id within one batch
                    self.taken[self.code[r]] = True
                    picked.append(r)
            # Every batch row is now taken or shares a taken id, so this always shrinks.
            free = free[~self.taken[self.code[free]]]
        return picked


def classification_failures(
    frame: pd.DataFrame,
    y: NDArray[np.intp],
    p: NDArray[np.intp],
    labels: list[Any],
    confidence: NDArray[np.float64] | None,
    worst_slice: tuple[str, NDArray[np.bool_]] | None,
    n: int,
    nearest: tuple[NearestTraining, Sequence[str]] | None = None,
) -> list[Failure]:
    """Top-N confident wrong, top-N low-confidence correct, top-N errors in the worst slice.

    Each example at most once (see the module docstring). With ``nearest`` (the
    training texts, and the text columns of ``frame``) each example names its nearest
    training example, and an error whose nearest training text carries the predicted
    class says so.
    """
    ids = _ids(frame)
    pick = _Picker(ids)
    miss = missingness_share(frame)
    conf = confidence if confidence is not None else np.zeros(len(y))
    wrong = np.flatnonzero(y != p)
    right = np.flatnonzero(y == p)
    # A model that answers the same for every row (a prior or majority baseline) ignores
    # the features: its confident errors say nothing about the labels.
    constant = bool(len(y)) and np.unique(p).size == 1 and float(np.ptp(conf)) == 0.0
    out: list[Failure] = []

    def make(row: int, lst: str) -> Failure:
        c = None if confidence is None else float(conf[row])
        truth, pred = labels[y[row]], labels[p[row]]
        if constant and lst != "low_confidence_correct" and miss[row] == 0:
            category, reason = (
                "model_representation",
                (
                    f"the model predicts {pred!r} for every row, whatever its features; "
                    f"truth {truth!r}"
                ),
            )
        else:
            category, reason = _classify_reason(lst, c, miss[row], truth, pred)
        return Failure(
            str(ids[row]),
            lst,
            input_summary(frame, row),
            _scalar(pred),
            _scalar(truth),
            None if c is None else float(f"{c:.6g}"),
            reason,
            category,
        )

    picked = [(r, "confident_wrong") for r in pick.take(wrong, -conf, n)]
    if confidence is not None:
        # Right and sure is no failure: only rows under CONFIDENT can be "unsure".
        unsure = right[conf[right] < CONFIDENT]
        picked += [(r, "low_confidence_correct") for r in pick.take(unsure, conf, n)]
    if worst_slice is not None:
        name, mask = worst_slice
        rows = np.flatnonzero(mask & (y != p))
        picked += [(r, f"worst_slice_errors:{name}") for r in pick.take(rows, -conf, n)]
    out = [make(r, lst) for r, lst in picked]
    if nearest is None or not picked:
        return out
    finder, columns = nearest
    texts = joined_texts(frame.iloc[[r for r, _ in picked]], columns)
    return [with_nearest(f, near) for f, near in zip(out, finder.find(texts), strict=True)]


def with_nearest(failure: Failure, near: S.NearestTrainingExample | None) -> Failure:
    """``failure`` naming its nearest training example; a wrong prediction that the
    nearest training text's label explains says so in its reason."""
    if near is None:
        return failure
    reason = failure.reason
    if str(near.label) == str(failure.prediction) != str(failure.truth):
        reason += (
            f"; the nearest training text (similarity {near.similarity:.2f}) is labelled "
            f"{failure.prediction!r}, as predicted"
        )
    return dataclasses.replace(failure, nearest_training=near, reason=reason)


def _classify_reason(
    lst: str, conf: float | None, miss: float, truth: Any, pred: Any
) -> tuple[str, str]:
    if miss > 0:
        return (
            "data",
            f"{miss:.0%} of its features are missing; predicted {pred!r}, truth {truth!r}",
        )
    if lst == "low_confidence_correct":
        return "model_representation", (
            f"correct ({truth!r}) but only {conf:.0%} confident: the row sits near the boundary"
        )
    if conf is not None and conf >= CONFIDENT:
        return "data", (
            f"{conf:.0%} confident in {pred!r} but labelled {truth!r}: possible label error "
            "or a spurious feature"
        )
    if lst.startswith("worst_slice_errors"):
        return "objective_metric", (
            f"error in the weakest slice ({pred!r} for {truth!r}): the objective underweights it"
        )
    shown = "unknown" if conf is None else f"{conf:.0%}"
    return "model_representation", (
        f"predicted {pred!r} for {truth!r} at {shown} confidence: the features do not separate them"
    )


def regression_failures(
    frame: pd.DataFrame, y: NDArray[np.float64], pred: NDArray[np.float64], n: int
) -> list[Failure]:
    """Top-N absolute errors, top-N under-predictions, top-N over-predictions.

    Each example at most once (see the module docstring).
    """
    ids = _ids(frame)
    pick = _Picker(ids)
    miss = missingness_share(frame)
    err = pred - y
    lo, hi = np.quantile(y, [0.05, 0.95]) if y.size else (0.0, 0.0)
    every = np.arange(y.size)
    out: list[Failure] = []

    def make(row: int, lst: str) -> Failure:
        e = float(err[row])
        if miss[row] > 0:
            cat, why = "data", f"{miss[row]:.0%} of its features are missing"
        elif y[row] < lo or y[row] > hi:
            cat, why = "data", "target lies in the outer 5% of the evaluation targets"
        else:
            cat, why = "model_representation", "typical target the model still misses"
        direction = "over" if e > 0 else "under"
        reason = f"{direction}-predicted by {abs(e):.4g}; {why}"
        return Failure(
            str(ids[row]),
            lst,
            input_summary(frame, row),
            _scalar(float(pred[row])),
            _scalar(float(y[row])),
            None,
            reason,
            cat,
        )

    out += [make(r, "largest_abs_error") for r in pick.take(every, -np.abs(err), n)]
    under = np.flatnonzero(err < 0)
    out += [make(r, "under_prediction") for r in pick.take(under, err, n)]
    over = np.flatnonzero(err > 0)
    out += [make(r, "over_prediction") for r in pick.take(over, -err, n)]
    return out
