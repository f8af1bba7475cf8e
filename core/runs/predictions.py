"""A run's predictions table (``predictions.parquet``), keyed by unit and item ids.

One row per prediction: the test unit it belongs to (``unit_id``: a row id for tabular
tasks, a query id for ranking) and, for a task that scores several items within a unit,
the item (``item_id``: a document id), then ``truth``, ``prediction`` and a
``score_<label>`` column per score. Rows are sorted by their key, so two runs that scored
the same units line up row by row, and a baseline is paired with a candidate by key,
never by position.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from modellab.errors import ModelLabError
from modellab.tasks import BaselinePredictions, TaskPredictions

UNIT_ID = "unit_id"
ITEM_ID = "item_id"
#: the unit column of tables written before units had a name of their own
_LEGACY_UNIT_ID = "row_id"


@dataclass(frozen=True)
class PredictionKeys:
    """The ids of a run's prediction rows, in the order its evaluator sees them."""

    units: np.ndarray
    #: None: one prediction per unit
    items: np.ndarray | None = None

    @classmethod
    def of(cls, row_ids: Any, predicted: TaskPredictions) -> PredictionKeys:
        """The keys of ``predicted``: its own unit (and item) ids, else the test row ids."""
        units = row_ids if predicted.units is None else predicted.units
        items = None if predicted.items is None else np.asarray(predicted.items)
        return cls(np.asarray(units), items)

    def frame(self) -> pl.DataFrame:
        """The keys as the table's key columns."""
        data = {UNIT_ID: self.units} | ({} if self.items is None else {ITEM_ID: self.items})
        return pl.DataFrame(data)


def predictions_table(keys: PredictionKeys, truth: Any, predicted: TaskPredictions) -> pl.DataFrame:
    """The predictions table of ``predicted`` on the rows ``keys`` names, sorted by key."""
    data: dict[str, Any] = {
        "truth": truth,
        "prediction": np.asarray(predicted.y_pred),
    }
    if predicted.scores is not None and predicted.score_labels is not None:
        scores = np.asarray(predicted.scores)
        for i, label in enumerate(predicted.score_labels):
            data[f"score_{label}"] = scores[:, i]
    frame = pl.concat([keys.frame(), pl.DataFrame(data)], how="horizontal")
    return frame.sort(key_columns(frame))


def retrieval_table(
    keys: PredictionKeys, predicted: TaskPredictions, units: Any, items: Any, truth: Any
) -> pl.DataFrame:
    """The predictions table of a retrieving task (``TaskType.retrieves``): the items the
    model retrieved (``keys``, scored by ``predicted``) and the judged test rows (``units``,
    ``items``, ``truth``), one row per (unit, item), sorted by key. ``prediction`` is null
    for a judged item the model did not retrieve, ``truth`` for a retrieved item nobody
    judged.

    :raises ModelLabError: the model retrieved an item twice for one unit.
    """
    if keys.items is None:
        raise ModelLabError("a retrieving task's predictions must name their items")
    retrieved = keys.frame().with_columns(
        pl.col(UNIT_ID).cast(pl.String),
        pl.col(ITEM_ID).cast(pl.String),
        prediction=pl.Series(np.asarray(predicted.y_pred, dtype=np.float64)),
    )
    twice = retrieved.filter(retrieved.select(UNIT_ID, ITEM_ID).is_duplicated())
    if twice.height:
        unit, item = twice.row(0)[:2]
        raise ModelLabError(f"the model retrieved item {item!r} twice for unit {unit!r}")
    judged = pl.DataFrame(
        {
            UNIT_ID: pl.Series(np.asarray(units)).cast(pl.String),
            ITEM_ID: pl.Series(np.asarray(items)).cast(pl.String),
            "truth": np.asarray(truth),
        }
    )
    table = judged.join(retrieved, on=[UNIT_ID, ITEM_ID], how="full", coalesce=True)
    return table.select(UNIT_ID, ITEM_ID, "truth", "prediction").sort(UNIT_ID, ITEM_ID)


def key_columns(table: pl.DataFrame) -> list[str]:
    """The key columns of a predictions table: ``unit_id``, then ``item_id`` if any."""
    return [c for c in (UNIT_ID, ITEM_ID) if c in table.columns]


def read_predictions(path: Path) -> pl.DataFrame | None:
    """The predictions table at ``path`` sorted by key, or None when the run has none."""
    if not path.exists():
        return None
    table = pl.read_parquet(path)
    if UNIT_ID not in table.columns and _LEGACY_UNIT_ID in table.columns:
        table = table.rename({_LEGACY_UNIT_ID: UNIT_ID})
    return table.sort(key_columns(table))


def same_keys(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    """Both tables hold predictions for exactly the same (unit, item) keys."""
    cols = key_columns(a)
    return cols == key_columns(b) and a.select(cols).equals(b.select(cols))


def baseline_predictions(
    table: pl.DataFrame,
    *,
    name: str,
    run_key: str,
    dataset_version: str,
    split_checksum: str,
    folder: Path | None = None,
) -> BaselinePredictions:
    """A baseline run's predictions table as the evaluator's :class:`BaselinePredictions`."""
    score_cols = [c for c in table.columns if c.startswith("score_")]
    return BaselinePredictions(
        name=name,
        run_key=run_key,
        y_pred=table["prediction"].to_numpy(),
        scores=table.select(score_cols).to_numpy() if score_cols else None,
        dataset_version=dataset_version,
        split_checksum=split_checksum,
        units=table[UNIT_ID].to_numpy(),
        items=table[ITEM_ID].to_numpy() if ITEM_ID in table.columns else None,
        truth=table["truth"].to_numpy(),
        folder=folder,
    )


def aligned_baseline(baseline: BaselinePredictions, keys: PredictionKeys) -> BaselinePredictions:
    """``baseline`` reordered to the candidate's prediction rows ``keys``.

    :raises ModelLabError: the baseline scored other units or items than the candidate
        (its paired deltas would compare different examples).
    """
    mine = keys.frame().with_row_index("position")
    theirs = PredictionKeys(np.asarray(baseline.units), baseline.items).frame()
    cols = mine.columns[1:]
    if theirs.columns != cols:
        raise ModelLabError(
            f"baseline run {baseline.run_key} keys its predictions by {', '.join(theirs.columns)}"
            f", this run by {', '.join(cols)}"
        )
    order = theirs.with_row_index("theirs").join(mine, on=cols, how="full", coalesce=True)
    unmatched = order.filter(pl.col("theirs").is_null() | pl.col("position").is_null())
    if unmatched.height:
        example = unmatched.row(0, named=True)
        raise ModelLabError(
            f"baseline run {baseline.run_key} scored other test units than this run: "
            f"{unmatched.height} key(s) differ, e.g. "
            + ", ".join(f"{c}={example[c]!r}" for c in cols)
        )
    take = order.sort("position")["theirs"].to_numpy()
    return dataclasses.replace(
        baseline,
        y_pred=np.asarray(baseline.y_pred)[take],
        scores=None if baseline.scores is None else np.asarray(baseline.scores)[take],
        units=keys.units,
        items=keys.items,
    )
