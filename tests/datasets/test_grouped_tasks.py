"""A task whose units are groups of rows (ranking: a query's documents) is split by group.

The ranking plugin's task type is the grouped task here; core knows it only through
``TaskType.grouped``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from modellab.plugins import load_registry
from tests.conftest import Env


def ltr_table(path: Path, queries: range, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    rows = [
        {"qid": f"q{q}", "score": float(rng.normal()), "grade": int(rng.integers(0, 3))}
        for q in queries
        for _ in range(10)
    ]
    pl.DataFrame(rows).write_csv(path)
    return path


def test_a_ranking_dataset_must_be_split_by_query(ml: Env, tmp_path: Path) -> None:
    path = ltr_table(tmp_path / "ltr.csv", range(20))
    args = ("dataset", "add", "-p", "p", "-n", "ltr", "-t", "grade", "--task", "ranking")
    out = ml.run(*args, str(path), ok=False)
    assert "task 'ranking' scores each query as a group of rows" in out.output
    assert "--split group --group-column COLUMN" in out.output
    assert "Traceback" not in out.output
    assert ml.stored_files() == []
    added = ml.json(*args, "--split", "group", "--group-column", "qid", str(path))
    assert added["split"]["strategy"] == "group"
    assert added["split"]["train_rows"] + added["split"]["test_rows"] == 200


def test_train_and_test_files_may_not_share_a_query(ml: Env, tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    ltr_table(folder / "train.csv", range(0, 12), seed=1)
    ltr_table(folder / "test.csv", range(10, 16), seed=2)
    args = ("dataset", "add", "-p", "p", "-n", "ltr", "-t", "grade", "--task", "ranking")
    out = ml.run(*args, "--group-column", "qid", str(folder), ok=False)
    assert "2 query(s) of --group-column 'qid' have rows in both the train and the test" in (
        out.output
    )
    assert "'q10', 'q11'" in out.output
    assert ml.stored_files() == []
    ltr_table(folder / "test.csv", range(12, 16), seed=2)
    added = ml.json(*args, "--group-column", "qid", str(folder))
    assert added["split"]["strategy"] == "predefined"
    assert (added["split"]["train_rows"], added["split"]["test_rows"]) == (120, 40)


def test_slicers_of_rows_do_not_apply_to_a_grouped_task() -> None:
    registry = load_registry()
    row_slicers = {"missingness", "key_feature"}
    assert row_slicers <= {s.name for s in registry.slicers_for("regression")}
    assert not row_slicers & {s.name for s in registry.slicers_for("ranking")}


def test_grades_must_be_whole_numbers(ml: Env, tmp_path: Path) -> None:
    path = ltr_table(tmp_path / "ltr.csv", range(20))
    frame = pl.read_csv(path).with_columns(pl.col("grade").cast(pl.Float64) / 2)
    frame.write_csv(path)
    out = ml.run(
        "dataset", "add", "-p", "p", "-n", "ltr", "-t", "grade", "--task", "ranking",
        "--split", "group", "--group-column", "qid", str(path), ok=False,
    )  # fmt: skip
    assert "target 'grade' holds 0.5, not a whole-number grade" in out.output
    assert ml.stored_files() == []
