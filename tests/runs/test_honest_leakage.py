"""Issue 12, points 1 and 2: leak rules that detect leaks, not low cardinality, and column
roles chosen by the user (on real data: Titanic passengers, Palmer penguins)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tests.conftest import REPO, Env

TITANIC = REPO / "tests" / "data" / "titanic_passengers.csv"
PENGUINS = REPO / "core" / "demo_data" / "penguins.csv"
FAST = ("--n-bootstrap", "50")


def _eval(ml: Env, run: Any, name: str) -> Any:
    return json.loads((Path(run["artifact_dir"]) / "eval" / name).read_text())


def test_low_cardinality_titanic_evaluates_with_a_note(ml: Env) -> None:
    ml.run("dataset", "add", "-p", "p", "-n", "titanic", "-t", "survived", str(TITANIC))
    shown = ml.json("dataset", "show", "p/titanic")
    dup = shown["split"]["duplicates"]
    # Every passenger repeats another: expected with 12 feature rows, so they stay spread.
    assert dup["grouped"] is False and dup["share"] > 0.99 and dup["chance_share"] > 0.99
    assert shown["split"]["test"]["rows"] == 263
    run = ml.train("titanic", "logistic_regression")
    assert run["status"] == "succeeded", run.get("status_reason")
    summary = _eval(ml, run, "eval_summary.json")
    notes = [w for w in summary["warnings"] if w.startswith("low_cardinality")]
    assert notes and "263 of 263 test rows" in notes[0] and "not a leak" in notes[0]


def _planted_copies(tmp: Path) -> Path:
    """Penguins as a predefined split whose train file holds copies of 20 test rows."""
    frame = pl.read_csv(PENGUINS, null_values=["NA"]).drop_nulls("sex")
    test = frame[::5]
    train = frame.filter(~pl.int_range(pl.len()).is_in(list(range(0, frame.height, 5))))
    train = pl.concat([train, test.head(20)])
    folder = tmp / "planted"
    folder.mkdir()
    train.write_csv(folder / "train.csv")
    test.write_csv(folder / "test.csv")
    return folder


def test_planted_copies_fail_before_the_fit_and_name_the_rows(ml: Env, tmp_path: Path) -> None:
    ml.run(
        "dataset", "add", "-p", "p", "-n", "planted", "-t", "sex", str(_planted_copies(tmp_path))
    )
    run = ml.train("planted", "logistic_regression")
    assert run["status"] == "failed"
    reason = run["status_reason"]
    assert "[duplicate_rows] 20 of 67 test rows" in reason and "e.g. test row" in reason
    assert "duplicate_excess_error" in reason
    logs = (Path(run["artifact_dir"]) / "logs.txt").read_text()
    assert "fitting" not in logs  # refused before training
    # The threshold is a run setting: recorded in the run and its config.json.
    lenient = ml.train("planted", "logistic_regression", "--eval", "duplicate_excess_error=0.5")
    assert lenient["status"] == "succeeded", lenient.get("status_reason")
    config = json.loads((Path(lenient["artifact_dir"]) / "config.json").read_text())
    assert config["options"]["eval"] == {"duplicate_excess_error": 0.5, "n_bootstrap": 50}
    run_json = json.loads((Path(lenient["artifact_dir"]) / "run.json").read_text())
    assert "--eval duplicate_excess_error=0.5" in run_json["reproduce"]
    # Compare shows the changed threshold in its config diff.
    looser = ml.train("planted", "logistic_regression", "--eval", "duplicate_excess_error=0.6")
    compared = ml.json("compare", lenient["id"], looser["id"])
    assert compared["config"]["changed"]["options.eval.duplicate_excess_error"] == {
        "a": 0.5,
        "b": 0.6,
    }
    # A setting that does not exist, or a value out of range, is refused before any run.
    for bad, words in (
        ("nope=1", "unknown evaluation setting 'nope'"),
        ("duplicate_excess_error=2", "duplicate_excess_error=2: must be a number >= 0 and < 1"),
        ("min_slice_size=2.5", "min_slice_size=2.5: must be a whole number >= 2"),
        ("min_slice_size=true", "min_slice_size=True: must be a whole number >= 2"),
        ("key_feature=nope", "key_feature='nope' is not a feature column of the run"),
    ):
        refused = ml.run(
            "run",
            "-p",
            "p",
            "-d",
            "planted",
            "-t",
            "tabular-classification",
            "-m",
            "logistic_regression",
            "--eval",
            bad,
            ok=False,
        )
        assert refused.exit_code == 2 and words in refused.output, refused.output


def test_copied_records_are_kept_on_one_side_of_a_random_split(ml: Env, tmp_path: Path) -> None:
    frame = pl.read_csv(PENGUINS, null_values=["NA"])
    copied = pl.concat([frame, frame.head(40)])
    path = tmp_path / "penguins_with_copies.csv"
    copied.write_csv(path)
    ml.run("dataset", "add", "-p", "p", "-n", "copies", "-t", "species", str(path))
    dup = ml.json("dataset", "show", "p/copies")["split"]["duplicates"]
    assert dup["grouped"] is True and dup["rows"] == 80 and dup["groups"] == 40
    run = ml.train("copies", "logistic_regression")
    assert run["status"] == "succeeded", run.get("status_reason")
    summary = _eval(ml, run, "eval_summary.json")
    assert not [w for w in summary["warnings"] if w.startswith("duplicate_rows")]


def _with_hours(tmp: Path) -> Path:
    """Penguins plus 'hours': 0 exactly for the females, a positive number otherwise."""
    frame = pl.read_csv(PENGUINS, null_values=["NA"]).drop_nulls("sex")
    rng = np.random.default_rng(7)
    hours = np.where(frame["sex"].to_numpy() == "female", 0.0, rng.uniform(1, 60, frame.height))
    path = tmp / "penguins_hours.csv"
    frame.with_columns(pl.Series("hours", hours.round(1))).write_csv(path)
    return path


def test_a_leak_suspect_travels_with_the_run_and_is_one_flag_away(ml: Env, tmp_path: Path) -> None:
    ml.run("dataset", "add", "-p", "p", "-n", "hours", "-t", "sex", str(_with_hours(tmp_path)))
    shown = ml.json("dataset", "show", "p/hours")
    assert any("'hours'" in w["message"] for w in shown["profile"]["warnings"])
    run = ml.train("hours", "logistic_regression")
    assert run["status"] == "succeeded", run.get("status_reason")
    summary = _eval(ml, run, "eval_summary.json")
    assert any("'hours'" in w for w in summary["warnings"])
    assert [s["column"] for s in summary["leak_suspects"]] == ["hours"]
    takeaway = (Path(run["artifact_dir"]) / "eval" / "takeaway.txt").read_text()
    assert "'hours'" in takeaway and len(takeaway.strip().splitlines()) == 5
    assert (
        "possible target leak in feature 'hours'"
        in (Path(run["artifact_dir"]) / "logs.txt").read_text()
    )

    text = ml.run(
        "run", "-p", "p", "-d", "hours", "-t", "tabular-classification", "-m", "xgboost", *FAST
    ).output
    assert "WARNING: feature 'hours' may leak the target" in text and "--exclude hours" in text
    clean = ml.train("hours", "logistic_regression", "--exclude", "hours")
    assert clean["status"] == "succeeded", clean.get("status_reason")
    assert clean["id"] != run["id"]
    folder = Path(clean["artifact_dir"])
    doc = json.loads((folder / "run.json").read_text())
    assert "hours" not in doc["dataset"]["run_features"]
    assert doc["run"]["options"]["exclude"] == ["hours"] and "--exclude hours" in doc["reproduce"]
    assert json.loads((folder / "config.json").read_text())["options"]["exclude"] == ["hours"]
    assert not _eval(ml, clean, "eval_summary.json").get("leak_suspects")
    # Compare shows the option in its config diff.
    compared = ml.json("compare", run["id"], clean["id"])
    assert compared["config"]["added"] == {"options.exclude": ["hours"]} or (
        "options.exclude" in compared["config"]["changed"]
    )


def test_columns_left_out_at_ingest_are_recorded_in_the_schema(ml: Env, tmp_path: Path) -> None:
    path = _with_hours(tmp_path)
    ml.run("dataset", "add", "-p", "p", "-n", "hours", "-t", "sex", "--exclude", "hours", str(path))
    shown = ml.json("dataset", "show", "p/hours")
    column = next(c for c in shown["schema"] if c["name"] == "hours")
    assert column["role"] == "excluded" and "--exclude" in column["excluded_reason"]
    assert "hours" not in shown["feature_columns"]
    bad = ml.run(
        "dataset",
        "add",
        "-p",
        "p",
        "-n",
        "other",
        "-t",
        "sex",
        "--exclude",
        "nope",
        str(path),
        ok=False,
    )
    assert bad.exit_code == 2 and "--exclude names 'nope'" in bad.output


def test_row_counts_sent_as_json_numbers_stay_whole_numbers() -> None:
    from modellab.runs.options import parse_options

    options = parse_options({"eval": {"min_slice_size": 12.0, "leak_min_r2": 0.95}})
    assert options.eval.given() == {"leak_min_r2": 0.95, "min_slice_size": 12}
    assert isinstance(options.eval.min_slice_size, int)
