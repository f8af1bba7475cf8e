"""The predictions table is keyed by unit and item ids, and a baseline pairs by key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from modellab.errors import ModelLabError
from modellab.runs.predictions import (
    PredictionKeys,
    aligned_baseline,
    baseline_predictions,
    predictions_table,
    read_predictions,
    same_keys,
)
from modellab.tasks import BaselinePredictions, TaskPredictions


def _baseline(table: pl.DataFrame) -> BaselinePredictions:
    return baseline_predictions(
        table, name="mean", run_key="k" * 64, dataset_version="p/d@1", split_checksum="s"
    )


def test_rows_are_keyed_by_unit_and_sorted() -> None:
    predicted = TaskPredictions(np.array([0.3, 0.1, 0.2]))
    table = predictions_table(PredictionKeys(np.array([7, 2, 5])), [3.0, 1.0, 2.0], predicted)
    assert table.columns == ["unit_id", "truth", "prediction"]
    assert table["unit_id"].to_list() == [2, 5, 7]
    assert table["prediction"].to_list() == [0.1, 0.2, 0.3]


def test_a_task_that_scores_items_keys_rows_by_unit_and_item() -> None:
    predicted = TaskPredictions(
        np.array([0.9, 0.2, 0.5]),
        units=np.array(["q2", "q1", "q1"]),
        items=np.array(["d1", "d9", "d3"]),
    )
    keys = PredictionKeys.of(np.arange(3), predicted)
    table = predictions_table(keys, [1, 0, 2], predicted)
    assert table.select("unit_id", "item_id").rows() == [("q1", "d3"), ("q1", "d9"), ("q2", "d1")]
    assert table["truth"].to_list() == [2, 0, 1]


def test_a_baseline_is_paired_by_key_not_by_position() -> None:
    base = pl.DataFrame(
        {"unit_id": [1, 2, 3], "truth": [0.0, 0.0, 0.0], "prediction": [10.0, 20.0, 30.0]}
    )
    mine = PredictionKeys(np.array([3, 1, 2]))
    aligned = aligned_baseline(_baseline(base), mine)
    assert list(aligned.y_pred) == [30.0, 10.0, 20.0]
    assert list(aligned.units) == [3, 1, 2]


def test_a_baseline_that_scored_other_units_is_refused_naming_one() -> None:
    base = pl.DataFrame({"unit_id": [1, 2, 4], "truth": [0, 0, 0], "prediction": [1, 2, 4]})
    with pytest.raises(ModelLabError) as caught:
        aligned_baseline(_baseline(base), PredictionKeys(np.array([1, 2, 3])))
    message = str(caught.value)
    assert "scored other test units than this run: 2 key(s) differ" in message
    assert "unit_id=" in message


def test_a_table_written_before_units_had_a_name_reads_as_keyed(tmp_path: Path) -> None:
    path = tmp_path / "predictions.parquet"
    pl.DataFrame({"row_id": [4, 1], "truth": [1, 0], "prediction": [1, 1]}).write_parquet(path)
    table = read_predictions(path)
    assert table is not None and table["unit_id"].to_list() == [1, 4]
    assert read_predictions(tmp_path / "missing.parquet") is None


def test_tables_with_the_same_keys_line_up() -> None:
    a = pl.DataFrame({"unit_id": ["q1", "q1"], "item_id": ["d1", "d2"], "prediction": [1, 2]})
    b = a.with_columns(pl.col("prediction") * 2)
    assert same_keys(a, b)
    assert not same_keys(a, b.with_columns(pl.Series("item_id", ["d1", "d3"])))
    assert not same_keys(a, a.drop("item_id"))
