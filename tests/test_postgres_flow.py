"""The CLI's loop on a real PostgreSQL: the same migrations and queries as on SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, Env


def test_datasets_and_runs_on_postgres(
    postgres_url: str, app_role_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two roles, as in production: the CLI migrates as the tables' owner and works as an
    # app role under row-level security.
    env = {
        "MODELLAB_HOME": str(tmp_path / "home"),
        "MODELLAB_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "MODELLAB_DATABASE_URL": app_role_url,
        "MODELLAB_MIGRATION_DATABASE_URL": postgres_url,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ml = Env(tmp_path / "home", tmp_path / "artifacts", env)
    ml.run("project", "create", "pg")
    added = ml.json(
        "dataset",
        "add",
        "-p",
        "pg",
        "-n",
        "cars",
        "-t",
        "miles_per_gallon",
        str(REPO / "core" / "demo_data" / "cars.csv"),
    )
    assert added["version"] == 1 and added["task"] == "regression"
    again = ml.json(
        "dataset",
        "add",
        "-p",
        "pg",
        "-n",
        "cars",
        "-t",
        "miles_per_gallon",
        str(REPO / "core" / "demo_data" / "cars.csv"),
    )
    assert again["id"] == added["id"] and again["created"] is False
    ml.run("dataset", "note", "pg/cars@1", "horsepower missing for 6 cars")
    shown = ml.json("dataset", "show", "pg/cars")
    assert shown["notes"][0]["text"] == "horsepower missing for 6 cars"
    assert shown["profile"]["dropped_missing_target"] == 8
    out = ml.run(
        "run",
        "-p",
        "pg",
        "-d",
        "cars",
        "-t",
        "tabular-regression",
        "-m",
        "mean",
        "--n-bootstrap",
        "20",
        "--json",
    )
    run = json.loads(out.stdout)
    assert run["status"] == "succeeded"
    listed = ml.json("runs", "--project", "pg")
    assert [r["id"] for r in listed] == [run["id"]]
    assert not (tmp_path / "home" / "modellab.db").exists(), "SQLite was used instead of PostgreSQL"
