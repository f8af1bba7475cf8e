"""Ingest flags separators by value, missingness and zero/non-zero (issue 12), with the
same rule as EvalHarness' single-feature check, and leaves the real demo data alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from modellab.datasets.profile import leaking_columns
from modellab.datasets.schema import build_schema, column_facts
from modellab.plugins import load_registry
from tests.conftest import REPO, Env

PENGUINS = REPO / "core" / "demo_data" / "penguins.csv"

#: the installed task types, as ingest gets them
TASKS = load_registry().task_types


def planted_penguins(path: Path) -> Path:
    """The penguins with ``hours`` (0 exactly for females, positive otherwise) and
    ``tag_weight`` (missing exactly for females)."""
    rng = np.random.default_rng(0)
    frame = pl.read_csv(PENGUINS, null_values="NA")
    female = (frame["sex"] == "female").fill_null(False).to_numpy()
    positive = rng.uniform(1.0, 60.0, frame.height).round(1)
    frame = frame.with_columns(
        pl.Series("hours", np.where(female, 0.0, positive)),
        pl.Series(
            "tag_weight", [None if f else float(w) for f, w in zip(female, positive, strict=True)]
        ),
    )
    frame.write_csv(path)
    return path


def leak_warnings(shown: dict) -> list[str]:  # type: ignore[type-arg]
    """The target_leak warnings of ``dataset show --json``, each naming its column."""
    found = [w for w in shown["profile"]["warnings"] if w["code"] == "target_leak"]
    assert all(w["message"].startswith(f"column {w['column']!r}") for w in found)
    return [w["message"] for w in found]


def test_ingest_flags_the_zero_nonzero_and_missingness_columns(ml: Env, tmp_path: Path) -> None:
    path = planted_penguins(tmp_path / "penguins.csv")
    ml.run("dataset", "add", "-p", "p", "-n", "peng", "-t", "sex", str(path))
    shown = ml.json("dataset", "show", "p/peng")
    found = leak_warnings(shown)
    assert len(found) == 2, found
    hours = next(w for w in found if w.startswith("column 'hours'"))
    assert hours.startswith(
        "column 'hours' may leak the target: it is zero exactly when the target is 'female'"
    )
    assert "zero/non-zero pattern" in hours
    tag = next(w for w in found if w.startswith("column 'tag_weight'"))
    assert "is missing exactly when the target is 'female'" in tag
    assert tag.endswith("check that it is known at prediction time")


def test_ingest_of_the_demo_data_flags_nothing(ml: Env) -> None:
    for name, target in (("penguins", "sex"), ("cars", "miles_per_gallon")):
        path = REPO / "core" / "demo_data" / f"{name}.csv"
        ml.run("dataset", "add", "-p", "p", "-n", name, "-t", target, str(path))
        assert leak_warnings(ml.json("dataset", "show", f"p/{name}")) == []


def test_leaking_columns_uses_the_evalharness_rule() -> None:
    rng = np.random.default_rng(3)
    n = 400
    y = rng.choice(["yes", "no"], size=n)
    df = pl.DataFrame(
        {
            "hours": np.where(y == "no", 0.0, rng.uniform(1, 60, n)),
            "tenure": rng.uniform(0, 10, n),
            "y": y,
        }
    )
    facts = column_facts(df)
    schema = build_schema(df, facts, "y", set())
    found = leaking_columns(df, schema, "y", TASKS["classification"])
    assert [name for name, _ in found] == ["hours"]
    assert found[0][1].startswith("is zero exactly when the target is 'no'")
