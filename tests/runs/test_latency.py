"""Inference latency of every template run: latency.json beside a byte-identical eval/."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from evalharness import validate_folder
from modellab.runs.latency import BATCH_ROWS
from tests.conftest import Env

FAST = ("--n-bootstrap", "50")


def run(ml: Env, model: str, *extra: str) -> Any:
    result = ml.run(
        "run",
        "-p",
        "p",
        "-d",
        "sex",
        "-t",
        "tabular-classification",
        "-m",
        model,
        *FAST,
        *extra,
        "--json",
    )
    doc = json.loads(result.stdout)
    assert doc["status"] == "succeeded", doc.get("status_reason")
    return doc


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def runs(penguins_sex: Env) -> tuple[Env, Any, Any]:
    """Two runs of one command with one seed: the same eval/, two sets of timings."""
    return (
        penguins_sex,
        run(penguins_sex, "logistic_regression"),
        run(penguins_sex, "logistic_regression"),
    )


def test_every_run_measures_latency_outside_its_eval_folder(runs: tuple[Env, Any, Any]) -> None:
    _, a, b = runs
    n_test = a["metrics"]["n_test"]
    for r in (a, b):
        folder = Path(r["artifact_dir"])
        lat = json.loads((folder / "latency.json").read_text())
        assert lat["measured"] is True and lat["call"] == "predict"
        assert lat["batch_size"] == min(BATCH_ROWS, n_test)
        assert 0 < lat["p50_ms"] <= lat["p95_ms"] <= lat["p99_ms"]
        assert lat["per_sample_ms"] == pytest.approx(lat["p50_ms"] / lat["batch_size"])
        assert lat["per_sample_ms"] > 0
        assert lat["warmup"] >= 1 and lat["repeats"] >= 10
        assert lat["device"] == "cpu" and lat["platform"]["python"]
        # eval_summary.json points at the timings instead of holding them.
        summary = json.loads((folder / "eval" / "eval_summary.json").read_text())
        assert summary["latency"] == "../latency.json"
        assert not (folder / "eval" / "latency.json").exists()
        assert validate_folder(folder / "eval") == []
        assert "latency: p50" in (folder / "logs.txt").read_text()
    da = digest(Path(a["artifact_dir"]) / "eval")
    db = digest(Path(b["artifact_dir"]) / "eval")
    assert len(da) > 8 and da == db


def test_compare_shows_both_runs_latency(runs: tuple[Env, Any, Any]) -> None:
    ml, a, b = runs
    doc = ml.json("compare", a["id"], b["id"])
    for side, r in (("a", a), ("b", b)):
        lat = doc["latency"][side]
        assert lat == json.loads((Path(r["artifact_dir"]) / "latency.json").read_text())
    text = ml.run("compare", a["id"], b["id"]).stdout
    assert "Latency: A p50 " in text and "-> B p50 " in text and "ms per batch of" in text


def test_reproduce_ignores_latency_json(runs: tuple[Env, Any, Any], tmp_path: Path) -> None:
    ml, _, b = runs
    folder = Path(b["artifact_dir"])
    # Timings no re-run can match: reproduce must still call the run reproduced.
    lat = json.loads((folder / "latency.json").read_text())
    lat["p50_ms"] = lat["p95_ms"] = lat["p99_ms"] = 123456.0
    (folder / "latency.json").write_text(json.dumps(lat))
    pack = tmp_path / "pack.tar.gz"
    ml.run("repro", "export", b["id"], "-o", str(pack))
    report = ml.json("reproduce", str(pack))
    assert report["reproduced"] is True, report
    assert report["not_compared"] == ["latency.json"]
    again = json.loads((ml.artifacts / "p" / report["new_run"] / "latency.json").read_text())
    assert again["p50_ms"] != 123456.0
