"""Slices and stress tests that tell the truth, through the CLI on the demo data.

Auto MPG (80 test rows, MAE): weakest first, unmeasured slices said, the top target
quintile visible, shift refits on a few dozen rows skipped with their sizes, every stress
line in logs.txt labelled, and a byte-identical eval/ on re-run. Palmer penguins: label
noise is a metric-sensitivity reference, never the worst stress.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evalharness import validate_folder
from tests.conftest import REPO, Env, write
from tests.runs.test_runs import folder_digest, run

CARS = REPO / "core" / "demo_data" / "cars.csv"
PENGUINS = REPO / "core" / "demo_data" / "penguins.csv"


@dataclass
class Runs:
    env: Env
    cars_base: dict[str, Any]
    cars: dict[str, Any]
    cars_again: dict[str, Any]
    penguins: dict[str, Any]
    wide: dict[str, Any]


def _env(root: Path) -> Env:
    home, artifacts = root / "home", root / "artifacts"
    env = {
        "MODELLAB_HOME": str(home),
        "MODELLAB_ARTIFACT_ROOT": str(artifacts),
        "MODELLAB_DATABASE_URL": "",
    }
    return Env(home, artifacts, env)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    root = tmp_path_factory.mktemp("honest")
    ml = _env(root)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in ml.env.items():
            mp.setenv(key, value)
        mp.delenv("MODELLAB_PLUGINS", raising=False)
        ml.run("project", "create", "p")
        ml.run("dataset", "add", "-p", "p", "-n", "cars", "-t", "miles_per_gallon", str(CARS))
        reg = {"template": "tabular-regression", "dataset": "cars"}
        cars_base, _ = run(ml, "linear_regression", **reg)
        cars, _ = run(ml, "xgboost", **reg)
        cars_again, _ = run(ml, "xgboost", **reg)
        ml.run(
            "dataset", "add", "-p", "p", "-n", "peng", "-t", "species", "--split",
            "stratified", str(PENGUINS),
        )  # fmt: skip
        run(ml, "logistic_regression")
        penguins, _ = run(ml, "xgboost")
        # Enough rows that every shift refit clears its bar: the refit lines must be labelled.
        rng = np.random.default_rng(0)
        a, b, c = rng.normal(size=(3, 1000))
        y = 3 * a + b**2 + 0.5 * c + rng.normal(0, 0.3, 1000)
        rows = "".join(
            f"{i:.6f},{j:.6f},{k:.6f},{t:.6f}\n" for i, j, k, t in zip(a, b, c, y, strict=True)
        )
        csv = write(root / "wide.csv", "a,b,c,y\n" + rows)
        ml.run("dataset", "add", "-p", "p", "-n", "wide", "-t", "y", str(csv))
        wide, _ = run(ml, "xgboost", template="tabular-regression", dataset="wide")
        yield Runs(ml, cars_base, cars, cars_again, penguins, wide)


def _eval(r: dict[str, Any], name: str) -> Any:
    assert r["status"] == "succeeded", r
    path = Path(r["artifact_dir"]) / "eval" / name
    return path.read_text() if name.endswith(".txt") else json.loads(path.read_text())


def _evaluation_log(r: dict[str, Any]) -> list[str]:
    """logs.txt lines from the evaluation on (timestamps cut off)."""
    lines = (Path(r["artifact_dir"]) / "logs.txt").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if "evaluating with" in line)
    return [line.split(" ", 2)[2] for line in lines[start + 1 :]]


@pytest.mark.parametrize("which", ["cars_base", "cars"])
def test_cars_slices_weakest_first_and_unmeasured_said(runs: Runs, which: str) -> None:
    r = getattr(runs, which)
    sl = _eval(r, "slices.json")
    assert sl["metric"] == "mae" and sl["min_slice_size"] == 10
    assert "derived from the 80 test rows" in sl["min_slice_rule"]
    by_id = {s["id"]: s for s in sl["slices"]}
    deltas = [by_id[i]["delta"]["mae"]["value"] for i in sl["ranking"]]
    assert deltas == sorted(deltas, reverse=True)  # MAE: the largest error delta first
    assert [by_id[i]["rank"] for i in sl["ranking"]] == list(range(1, len(deltas) + 1))
    # The top target quintile (about twice the overall error) is measured and weakest.
    assert sl["ranking"][0] == "target_quintile:05"
    assert all(by_id[f"target_quintile:0{q}"]["status"] == "ok" for q in range(1, 6))
    listed = [s for s in sl["slices"] if s["status"] != "all_rows"]
    small = [s for s in listed if s["status"] == "too_small"]
    assert small and all(s["n"] < 10 for s in small)
    s3 = _eval(r, "takeaway.txt").splitlines()[2]
    assert s3.startswith("The weakest slice is target >= ")
    assert s3.endswith(f"; {len(small)} of {len(listed)} slices had too few rows to measure.")
    assert "No slice scores worse" not in s3


def test_cars_shift_on_a_few_dozen_rows_is_skipped_with_its_sizes(runs: Runs) -> None:
    stress = _eval(runs.cars, "stress.json")
    shift = [r for r in stress["rows"] if r["scenario"].startswith("distribution_shift")]
    assert len(shift) == 3
    for r in shift:
        assert r["kind"] == "model_robustness" and r["degradation"] is None
        assert re.fullmatch(
            r"skipped: the refit segment \(\w+ below its [\d.]+ quantile\) has \d+ rows, "
            r"fewer than the 70 a refit needs \(10 per feature column x 7, at least 50\)",
            r["status"],
        ), r["status"]
    s4 = _eval(runs.cars, "takeaway.txt").splitlines()[3]
    assert "under distribution_shift" not in s4
    assert "3 of 9 robustness cases did not run (distribution_shift:" in s4
    # logs.txt says why, and no model was refit on those rows.
    log = _evaluation_log(runs.cars)
    assert not any("rows to fit" in line for line in log), log
    for sev in ("0.1", "0.3", "0.5"):
        assert any(
            re.match(
                rf"INFO evalharness\.stress: stress distribution_shift:\w+ severity {sev}: ", x
            )
            and ": skipped: the refit segment" in x
            for x in log
        ), log
    assert validate_folder(Path(runs.cars["artifact_dir"]) / "eval") == []


def test_every_stress_line_in_the_log_names_its_scenario(runs: Runs) -> None:
    log = _evaluation_log(runs.wide)
    stress = _eval(runs.wide, "stress.json")
    shift = [r for r in stress["rows"] if r["scenario"].startswith("distribution_shift")]
    assert [r["status"] for r in shift] == ["ok", "ok", "ok"], shift
    train = [line for line in log if line.startswith("INFO modellab.train: ")]
    assert len([x for x in train if "rows to fit" in x]) == 3  # one per refit
    pattern = r"INFO modellab\.train: stress distribution_shift:\w+ severity (0\.1|0\.3|0\.5): "
    assert train and all(re.match(pattern, line) for line in train), train
    for sev in ("0.1", "0.3", "0.5"):
        assert any(
            re.match(rf".*: stress distribution_shift:\w+ severity {sev}: refit on \d+ rows", x)
            for x in log
        ), log


def test_cars_eval_folder_is_byte_identical_on_rerun(runs: Runs) -> None:
    a = folder_digest(Path(runs.cars["artifact_dir"]) / "eval")
    b = folder_digest(Path(runs.cars_again["artifact_dir"]) / "eval")
    assert len(a) > 8 and a == b


def test_penguins_label_noise_is_a_reference_never_the_worst_stress(runs: Runs) -> None:
    stress = _eval(runs.penguins, "stress.json")
    kinds = {r["scenario"]: r["kind"] for r in stress["rows"]}
    assert kinds.pop("label_noise") == "metric_sensitivity"
    assert kinds and set(kinds.values()) == {"model_robustness"}
    assert set(stress["kinds"]) == {"metric_sensitivity", "model_robustness"}
    assert "perfect model" in stress["scenarios"]["label_noise"]
    ran = [r for r in stress["rows"] if r["model"] == "candidate" and r["status"] == "ok"]
    noise = [r["degradation"] for r in ran if r["scenario"] == "label_noise"]
    robust = [r["degradation"] for r in ran if r["kind"] == "model_robustness"]
    # Label noise costs more than anything done to the inputs, and still is not named.
    assert len(noise) == 3 and robust and min(noise) < min(robust)
    s4 = _eval(runs.penguins, "takeaway.txt").splitlines()[3]
    assert s4.startswith("The worst stress degradation is ") and "label_noise" not in s4
    assert validate_folder(Path(runs.penguins["artifact_dir"]) / "eval") == []
