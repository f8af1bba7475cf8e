"""A task type that core has never heard of runs end to end, through the CLI and the API.

The plugin is :mod:`tests.toy_task` (a counting task with its own template, evaluator
and slicer, and a model for the built-in regression template), loaded through
``MODELLAB_PLUGIN_MODULES`` so that the training processes load it too. Nothing in core
changes for it: the ingest infers its task, the run trains and evaluates with its
functions, its slicer's slices reach ``slices.json``, and compare pairs its runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from evalharness.schemas.validate import validate_folder
from tests.conftest import REPO, Env, write
from tests.server.conftest import Api, embedded

CARS = REPO / "core" / "demo_data" / "cars.csv"


def counts_csv(folder: Path) -> Path:
    """Visits per day of a toy shop: an integer target that a count task claims."""
    rows = [f"{d % 7},{(d * 7) % 11},{(d % 7) + (d % 3)}" for d in range(120)]
    return write(folder / "counts.csv", "weekday,promo,visits\n" + "\n".join(rows) + "\n")


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELLAB_PLUGIN_MODULES", "tests.toy_task")


def parity_slices(folder: Path) -> dict[str, str]:
    doc = json.loads((folder / "slices.json").read_text())
    return {s["id"]: s["definition"] for s in doc["slices"] if s["family"] == "parity"}


def test_a_new_task_type_through_the_cli(ml: Env, toy: None) -> None:
    ml.env["MODELLAB_PLUGIN_MODULES"] = "tests.toy_task"
    listed = {p["name"]: p for p in ml.json("plugins")}
    assert listed["tests.toy_task"]["task_types"] == ["toy-count"]

    added = ml.json(
        "dataset", "add", "-p", "p", "-n", "visits", "-t", "visits", str(counts_csv(ml.home.parent))
    )
    assert added["task"] == "toy-count"
    base = ml.train("visits", "median", template="toy-counts")
    assert base["status"] == "succeeded", base
    cand = ml.train("visits", "mean", template="toy-counts")
    assert cand["status"] == "succeeded", cand
    folder = ml.artifacts / "p" / cand["id"] / "eval"
    assert validate_folder(folder) == []
    # The plugin's slicer ran and its slices are in the report, with their definitions.
    assert parity_slices(folder) == {
        "parity:even": "the true count is even",
        "parity:odd": "the true count is odd",
    }
    # The task's unit_failures decides new and fixed failures, row by row.
    doc = ml.json("compare", base["id"], cand["id"])
    assert doc["failures"]["basis"] == "every test row's prediction"

    # A model another plugin added to the built-in regression template trains like its own.
    ml.run(
        "dataset",
        "add",
        "-p",
        "p",
        "-n",
        "cars",
        "-t",
        "miles_per_gallon",
        "--task",
        "regression",
        str(CARS),
    )
    extra = ml.train("cars", "toy_median", template="tabular-regression")
    assert extra["status"] == "succeeded", extra
    report = ml.artifacts / "p" / extra["id"] / "eval"
    families = {s["family"] for s in json.loads((report / "slices.json").read_text())["slices"]}
    assert {"target_quintile", "missingness"} <= families and "parity" not in families


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_new_task_type_through_the_api(
    api_factory: Callable[..., Api], toy: None, tmp_path: Path
) -> None:
    api = api_factory(embedded())
    api.ok("POST", "/api/projects", 201, json={"name": "p"})
    types = {t["name"] for t in api.ok("GET", "/api/plugins")["task_types"]}
    assert "toy-count" in types
    version = api.upload(
        "p", "visits", counts_csv(tmp_path), target="visits", task="toy-count", roles="promo=weight"
    )
    assert version["task"] == "toy-count"
    # Column roles arrive through the API as through --role, and are recorded.
    assert {c["name"]: c["role"] for c in version["schema"]}["promo"] == "weight"
    assert version["provenance"]["roles"] == {"promo": "weight"}
    assert version["feature_columns"] == ["weekday"]
    body = {"project": "p", "dataset": "visits", "template": "toy-counts", "model": "mean"}
    queued = api.ok("POST", "/api/runs", 202, json=body | {"with_baseline": True})
    baseline = api.wait(queued["waits_on"])
    assert (baseline["model"], baseline["status"]) == ("median", "succeeded"), baseline
    run = api.wait(queued["id"])
    assert run["status"] == "succeeded", run["status_reason"]
    report = api.ok("GET", f"/api/runs/{run['id']}/eval")
    slices = {s["id"]: s["definition"] for s in report["files"]["slices.json"]["slices"]}
    assert slices["parity:odd"] == "the true count is odd"
    refused = api.client.post(
        "/api/projects/p/datasets",
        files={"file": ("c.csv", b"a,b\n1,2\n3,4\n", "text/csv")},
        data={"name": "bad", "target": "b", "task": "nope"},
    )
    assert refused.status_code == 400
    assert "unknown task 'nope'" in refused.json()["detail"]
