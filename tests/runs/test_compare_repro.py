"""Comparisons between runs and reproducibility packs, on real data."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from modellab.compare import verdict
from tests.conftest import REPO, Env

PENGUINS = REPO / "core" / "demo_data" / "penguins.csv"
FAST = ("--n-bootstrap", "50")


def run(ml: Env, model: str, *extra: str, dataset: str = "sex") -> Any:
    out = ml.run(
        "run",
        "-p",
        "p",
        "-d",
        dataset,
        "-t",
        "tabular-classification",
        "-m",
        model,
        *FAST,
        *extra,
        "--json",
    )
    return json.loads(out.stdout)


@pytest.fixture
def two_runs(penguins_sex: Env) -> tuple[Env, Any, Any]:
    ml = penguins_sex
    base = run(ml, "logistic_regression")
    cand = run(ml, "xgboost", "--set", "n_estimators=50", "--set", "max_depth=3")
    return ml, base, cand


def test_compare_like_for_like(two_runs: tuple[Env, Any, Any]) -> None:
    ml, base, cand = two_runs
    ml.run("note", base["id"], "baseline looks solid on males")
    ml.run("note", cand["id"], "trees overfit on small data: what changed my mind")
    doc = ml.json("compare", base["id"], cand["id"])
    assert doc["like_for_like"] is True
    assert doc["paired_bootstrap"]["rows"] == cand["metrics"]["n_test"]
    by_metric = {m["metric"]: m for m in doc["metrics"]}
    acc = by_metric["accuracy"]
    assert acc["a"] == base["metrics"]["headline"]["accuracy"]["value"]
    assert acc["b"] == cand["metrics"]["headline"]["accuracy"]["value"]
    assert acc["paired"]["ci_low"] <= acc["paired"]["delta"] <= acc["paired"]["ci_high"]
    assert acc["verdict"] in ("improved", "worse", "within noise", "unchanged")
    # A slice holding the whole test set is the overall metric again: not a slice shift.
    cand_slices = json.loads((ml.artifacts / "p" / cand["id"] / "eval" / "slices.json").read_text())
    whole = {s["id"] for s in cand_slices["slices"] if s["status"] == "all_rows"}
    assert whole and not whole & {s["slice"] for s in doc["slices"]}
    assert doc["slices"]
    assert doc["config"]["changed"]["model"] == {"a": "logistic_regression", "b": "xgboost"}
    assert doc["config"]["added"]["config.max_depth"] == 3
    assert "config.C" in doc["config"]["removed"]
    assert doc["dataset"]["same_data"] and doc["dataset"]["same_split"]
    assert (
        "model/model.ubj" in doc["artifacts"]["added"]
        and "model/model.skops" in doc["artifacts"]["removed"]
    )
    assert set(doc["failures"]) >= {"new", "fixed", "failure_modes", "basis"}
    assert [n["text"] for n in doc["notes"]["b"]] == [
        "trees overfit on small data: what changed my mind"
    ]
    folder = Path(doc["folder"])
    assert folder == Path(cand["artifact_dir"]) / "compare" / base["id"]
    assert (folder / "compare.json").exists() and (
        folder / "plots" / "confusion_matrix.png"
    ).exists()
    text = ml.run("compare", base["id"], cand["id"]).stdout
    assert "Notes:" in text and "baseline looks solid on males" in text and "Failures" in text


def test_compare_flags_runs_on_different_data(
    two_runs: tuple[Env, Any, Any], tmp_path: Path
) -> None:
    ml, base, _ = two_runs
    trimmed = tmp_path / "trimmed.csv"
    trimmed.write_text("".join(PENGUINS.read_text().splitlines(keepends=True)[:-40]))
    ml.run(
        "dataset", "add", "-p", "p", "-n", "sex", "-t", "sex", "--split", "stratified", str(trimmed)
    )
    other = run(ml, "logistic_regression", dataset="sex@2")
    doc = ml.json("compare", base["id"], other["id"])
    assert doc["like_for_like"] is False and doc["paired_bootstrap"] is None
    assert doc["dataset"]["same_data"] is False
    assert "not like-for-like" in ml.run("compare", base["id"], other["id"]).stdout


def test_repro_pack_reproduces(two_runs: tuple[Env, Any, Any], tmp_path: Path) -> None:
    ml, _, cand = two_runs
    pack = tmp_path / "pack.tar.gz"
    ml.run("repro", "export", cand["id"], "-o", str(pack))
    first = pack.read_bytes()
    ml.run("repro", "export", cand["id"], "-o", str(pack))
    assert pack.read_bytes() == first, "exporting twice must give the same archive"
    with tarfile.open(pack) as tar:
        names = set(tar.getnames())
    assert {
        "manifest.json",
        "run.json",
        "config.json",
        "data/penguins.csv",
        "env/uv.lock",
        "model/model.ubj",
        "eval/metrics.json",
    } <= names
    result = ml.run("reproduce", str(pack))
    assert result.stdout.startswith("REPRODUCED")


def rewrite(pack: Path, out: Path, change: dict[str, bytes]) -> None:
    with tarfile.open(pack) as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            data = change.get(member.name, data)
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))


def test_tampered_dataset_fails_with_the_checksum_named(
    two_runs: tuple[Env, Any, Any], tmp_path: Path
) -> None:
    ml, _, cand = two_runs
    pack = tmp_path / "pack.tar.gz"
    ml.run("repro", "export", cand["id"], "-o", str(pack))
    bad = tmp_path / "tampered.tar.gz"
    rewrite(pack, bad, {"data/penguins.csv": PENGUINS.read_bytes().replace(b"female", b"male", 3)})
    result = ml.run("reproduce", str(bad), ok=False)
    assert result.exit_code != 0
    assert "dataset checksum mismatch: data/penguins.csv has sha256" in result.stderr


def test_drift_is_reported_with_what_and_how_much(
    two_runs: tuple[Env, Any, Any], tmp_path: Path
) -> None:
    ml, _, cand = two_runs
    pack = tmp_path / "pack.tar.gz"
    ml.run("repro", "export", cand["id"], "-o", str(pack))
    with tarfile.open(pack) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    manifest["metrics"]["headline"]["accuracy"]["value"] -= 0.05
    rewrite(pack, tmp_path / "drift.tar.gz", {"manifest.json": json.dumps(manifest).encode()})
    result = ml.run("reproduce", str(tmp_path / "drift.tar.gz"), ok=False)
    assert result.exit_code == 1
    assert "NOT REPRODUCED" in result.stdout
    assert "metric headline.accuracy.value:" in result.stdout and "(drift +0.05)" in result.stdout


def test_a_change_without_any_ci_is_not_called_noise() -> None:
    paired = {"delta": 0.2, "ci_low": 0.1, "ci_high": 0.3}
    assert verdict(0.2, True, paired, None) == "improved"
    assert verdict(0.2, True, None, False) == "improved"
    assert verdict(0.2, True, None, True) == "within noise"
    # No paired CI and not both runs' CIs: nothing tells noise from signal.
    assert verdict(0.2, True, None, None) == "no CI"
    assert verdict(0.0, True, None, None) == "unchanged"
