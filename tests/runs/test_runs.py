"""Runs from the CLI: baseline first, artifacts, determinism, metadata, failures."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import xgboost

from evalharness import validate_folder
from tests.conftest import REPO, Env, write

PENGUINS = REPO / "core" / "demo_data" / "penguins.csv"
CARS = REPO / "core" / "demo_data" / "cars.csv"
FAST = ("--n-bootstrap", "50")


@pytest.fixture
def penguins(ml: Env) -> Env:
    ml.run(
        "dataset",
        "add",
        "-p",
        "p",
        "-n",
        "peng",
        "-t",
        "species",
        "--split",
        "stratified",
        str(PENGUINS),
    )
    return ml


def run(
    ml: Env,
    model: str,
    *extra: str,
    template: str = "tabular-classification",
    dataset: str = "peng",
) -> Any:
    result = ml.run(
        "run",
        "-p",
        "p",
        "-d",
        dataset,
        "-t",
        template,
        "-m",
        model,
        *FAST,
        *extra,
        "--json",
        ok=False,
    )
    return json.loads(result.stdout), result


def folder_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_baseline_then_candidate_carries_deltas(penguins: Env) -> None:
    base, _ = run(penguins, "logistic_regression")
    assert base["status"] == "succeeded", base
    assert base["role"] == "baseline"
    cand, _ = run(penguins, "xgboost")
    assert cand["status"] == "succeeded", cand
    for key in ("id", "status", "metrics", "artifact_dir"):
        assert key in cand
    assert cand["metrics"]["baseline"]["name"] == "logistic_regression"
    assert "accuracy" in cand["metrics"]["baseline"]["deltas"]
    folder = Path(cand["artifact_dir"])
    for name in (
        "run.json",
        "config.json",
        "logs.txt",
        "model/signature.json",
        "model/model.ubj",
        "predictions.parquet",
        "eval/eval_summary.json",
    ):
        assert (folder / name).exists(), name
    assert validate_folder(folder / "eval") == []
    preds = pl.read_parquet(folder / "predictions.parquet")
    assert {"unit_id", "truth", "prediction", "score_Adelie"} <= set(preds.columns)
    assert preds.height == cand["metrics"]["n_test"]
    signature = json.loads((folder / "model" / "signature.json").read_text())
    assert signature["format"] == "xgboost-ubj"
    assert [i["name"] for i in signature["inputs"]][:2] == ["island", "bill_length_mm"]
    logs = (folder / "logs.txt").read_text()
    assert "validation rows carved from train (never test)" in logs
    assert (Path(base["artifact_dir"]) / "model" / "model.skops").exists()


def test_candidate_without_baseline_is_not_meaningful(penguins: Env) -> None:
    result = penguins.run(
        "run", "-p", "p", "-d", "peng", "-t", "tabular-classification", "-m", "xgboost", *FAST
    )
    assert "improvement is not meaningful" in result.stdout
    assert "--model <baseline>" in result.stdout and "--with-baseline" in result.stdout
    summary = json.loads(next(penguins.artifacts.glob("p/*/eval/eval_summary.json")).read_text())
    assert summary["baseline"] is None and summary["improvement_is_meaningful"] is False


def test_with_baseline_runs_the_reference_baseline_first(penguins: Env) -> None:
    result = penguins.run(
        "run",
        "-p",
        "p",
        "-d",
        "peng",
        "-t",
        "tabular-classification",
        "-m",
        "xgboost",
        "--with-baseline",
        *FAST,
        "--json",
    )
    first, second = json.loads(result.stdout)
    assert (first["model"], first["role"]) == ("logistic_regression", "baseline")
    assert second["metrics"]["baseline"]["name"] == "logistic_regression"


def test_the_same_command_twice_gives_an_identical_eval_folder(penguins: Env) -> None:
    a, _ = run(penguins, "xgboost", "--set", "n_estimators=60")
    b, _ = run(penguins, "xgboost", "--set", "n_estimators=60")
    assert a["id"] != b["id"]
    assert a["metrics"] == b["metrics"]
    da = folder_digest(Path(a["artifact_dir"]) / "eval")
    db = folder_digest(Path(b["artifact_dir"]) / "eval")
    assert len(da) > 8 and da == db


def test_run_records_code_version_environment_and_data(
    penguins: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    write(repo / "train.py", "print('v1')\n")
    for cmd in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "v1"],
    ):
        subprocess.run(["git", *cmd], cwd=repo, check=True)
    write(repo / "train.py", "print('v2')\n")  # uncommitted change
    write(repo / "uv.lock", "version = 1\n")
    monkeypatch.chdir(repo)
    out, _ = run(penguins, "most_frequent")
    doc = json.loads((Path(out["artifact_dir"]) / "run.json").read_text())
    code = doc["run"]["code_version"]
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    diff = subprocess.run(
        ["git", "diff", "HEAD", "--no-color", "--no-ext-diff"],
        cwd=repo,
        capture_output=True,
        text=True,
    ).stdout
    assert code["git_commit"] == head and code["git_dirty"] is True
    assert code["diff_sha256"] == hashlib.sha256(diff.encode()).hexdigest()
    assert (Path(out["artifact_dir"]) / "code.diff").read_text() == diff
    assert doc["run"]["environment"]["plugin"] == {
        "name": "classification",
        "distribution": "modellab-classification",
        "version": "0.1.0",
    }
    env = doc["run"]["environment"]
    assert env["python"] and env["key_packages"]["scikit-learn"]
    # Whichever build installs it (xgboost-cpu by default), XGBoost's version is recorded.
    assert env["key_packages"]["xgboost"] == xgboost.__version__
    assert env["uv_lock_sha256"] == hashlib.sha256(b"version = 1\n").hexdigest()
    shown = penguins.json("dataset", "show", "p/peng")
    assert doc["run"]["dataset_checksum"] == shown["checksum"]
    assert doc["run"]["split_checksum"] == shown["split"]["checksum"]
    assert doc["run"]["seed"] == 0 and doc["run"]["config"] == {}
    assert doc["reproduce"].startswith("modellab run --project p --dataset p/peng@1")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("depth=3", "unknown config key 'depth' for model 'xgboost'; known keys: colsample_bytree"),
        (
            "max_depth=0",
            "invalid config for model 'xgboost': Expected `int` >= 1 - at `$.max_depth`",
        ),
        ("max_depth", "--set takes key=value, got 'max_depth'"),
    ],
)
def test_bad_config_is_refused_before_a_run_exists(
    penguins: Env, override: str, message: str
) -> None:
    result = penguins.run(
        "run",
        "-p",
        "p",
        "-d",
        "peng",
        "-t",
        "tabular-classification",
        "-m",
        "xgboost",
        "--set",
        override,
        ok=False,
    )
    assert result.exit_code == 2
    assert message in result.stderr
    assert penguins.json("runs", "--project", "p") == []


def test_unknown_template_and_model(penguins: Env) -> None:
    r = penguins.run("run", "-p", "p", "-d", "peng", "-t", "nope", "-m", "x", ok=False)
    assert (
        r.exit_code == 2
        and "unknown template 'nope'; installed: learning-to-rank, retrieval, "
        "tabular-classification, tabular-regression"
        in r.stderr
    )
    r = penguins.run(
        "run", "-p", "p", "-d", "peng", "-t", "tabular-regression", "-m", "mean", ok=False
    )
    assert r.exit_code == 2 and "is a classification dataset" in r.stderr


def test_a_leak_fails_the_run_with_the_reason(
    ml: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Outside any git work tree: a dirty checkout would add code.diff to the folder.
    monkeypatch.chdir(tmp_path)
    # Train and test files that share every test row: copies far above chance. (A single
    # file with every row twice is no leak: its split keeps each copy with its twin.)
    rows = pl.read_csv(PENGUINS, null_values=["NA"]).drop_nulls()
    (tmp_path / "dup").mkdir()
    rows.write_csv(tmp_path / "dup" / "train.csv")
    rows[::4].write_csv(tmp_path / "dup" / "test.csv")
    ml.run("dataset", "add", "-p", "p", "-n", "dup", "-t", "species", str(tmp_path / "dup"))
    out, result = run(ml, "logistic_regression", dataset="dup")
    assert result.exit_code == 1
    assert out["status"] == "failed"
    assert out["status_reason"].startswith("leakage check failed:")
    folder = Path(out["artifact_dir"])
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "logs.txt", "run.json"]
    assert "failed" in (folder / "logs.txt").read_text()


def test_runs_list_and_notes(penguins: Env) -> None:
    out, _ = run(penguins, "most_frequent")
    listed = penguins.json("runs", "--project", "p")
    assert [r["id"] for r in listed] == [out["id"]]
    penguins.run("note", out["id"], "accuracy equals the majority share: as expected")
    penguins.run("note", out["id"][:13], "second thought")
    text = penguins.run("runs", "--project", "p").stdout
    assert "most_frequent" in text and "succeeded" in text


def test_regression_run(ml: Env) -> None:
    ml.run("dataset", "add", "-p", "p", "-n", "cars", "-t", "miles_per_gallon", str(CARS))
    base, _ = run(ml, "linear_regression", template="tabular-regression", dataset="cars")
    cand, _ = run(ml, "xgboost", template="tabular-regression", dataset="cars")
    assert base["status"] == cand["status"] == "succeeded", (base, cand)
    assert {"mae", "rmse"} <= set(cand["metrics"]["headline"])
    assert cand["metrics"]["baseline"]["name"] == "linear_regression"
    assert validate_folder(Path(cand["artifact_dir"]) / "eval") == []


@pytest.mark.parametrize(
    "split",
    [("--split", "time", "--time-column", "t"), ("--split", "group", "--group-column", "g")],
    ids=["time-column-not-a-feature", "group"],
)
def test_runs_on_time_and_group_splits(ml: Env, tmp_path: Path, split: tuple[str, ...]) -> None:
    # `t` counts rows, so it is identifier-like and not a feature; the time-order
    # leakage check must still see it.
    n = 300
    rows = "".join(
        f"{i},{i % 17},{(i * 7919) % 1000 / 100},{'a' if (i * 7919) % 1000 > 480 else 'b'}\n"
        for i in range(n)
    )
    write(tmp_path / "s.csv", "t,g,x,y\n" + rows)
    ml.run("dataset", "add", "-p", "p", "-n", "s", "-t", "y", *split, str(tmp_path / "s.csv"))
    out, _ = run(ml, "logistic_regression", dataset="s")
    assert out["status"] == "succeeded", out["status_reason"]


def test_a_class_seen_only_in_test_counts_as_errors(ml: Env, tmp_path: Path) -> None:
    train = "".join(f"{i / 10},{'a' if i % 2 else 'b'}\n" for i in range(120))
    test = "".join(f"{i / 10 + 0.05},{'a' if i % 2 else 'b'}\n" for i in range(30)) + "1.55,c\n"
    write(tmp_path / "f" / "train.csv", "x,y\n" + train)
    write(tmp_path / "f" / "test.csv", "x,y\n" + test)
    ml.run("dataset", "add", "-p", "p", "-n", "rare", "-t", "y", str(tmp_path / "f"))
    out, _ = run(ml, "logistic_regression", dataset="rare")
    assert out["status"] == "succeeded", out["status_reason"]
    metrics = json.loads((Path(out["artifact_dir"]) / "eval" / "metrics.json").read_text())
    assert metrics["classes"] == ["a", "b", "c"]
    assert metrics["confusion_matrix"]["matrix"][2][2] == 0  # never predicted: it was never learned


def test_a_boolean_feature_survives_the_missing_values_stress_case(ml: Env, tmp_path: Path) -> None:
    rows = "".join(
        f"{i / 400:.4f},{'true' if i % 3 else 'false'},{'yes' if (i % 3 and i > 150) else 'no'}\n"
        for i in range(400)
    )
    ml.run(
        "dataset",
        "add",
        "-p",
        "p",
        "-n",
        "flags",
        "-t",
        "y",
        str(write(tmp_path / "f.csv", "x,flag,y\n" + rows)),
    )
    out, _ = run(ml, "xgboost", dataset="flags")
    assert out["status"] == "succeeded", out["status_reason"]
