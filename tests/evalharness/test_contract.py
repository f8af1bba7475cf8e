"""The eval/ folder contract: files, schemas, validate, byte-identical output, takeaway."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from evalharness.cli import main
from evalharness.schemas.export import ALL_FILE_TYPES, SCHEMA_DIR, schema_bytes, schema_file_name
from evalharness.schemas.validate import count_sentences, validate_folder

REQUIRED = [
    "eval_summary.json",
    "metrics.json",
    "confidence_intervals.json",
    "slices.json",
    "failure_examples.json",
    "takeaway.txt",
    "repro.md",
    "stress.json",
    "failure_modes.md",
]


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("fixture", ["binary_dir", "multiclass_dir", "regression_dir"])
def test_folder_is_complete_and_valid(fixture: str, request: pytest.FixtureRequest) -> None:
    folder: Path = request.getfixturevalue(fixture)
    for name in REQUIRED:
        assert (folder / name).is_file(), name
    assert list((folder / "plots").glob("*.png"))
    assert validate_folder(folder) == []
    assert main(["validate", str(folder)]) == 0


def test_binary_plots(binary_dir: Path) -> None:
    names = {p.stem for p in (binary_dir / "plots").iterdir()}
    assert {
        "confusion_matrix",
        "roc_curve",
        "pr_curve",
        "calibration",
        "confidence_histogram",
        "stress",
    } <= names


def test_regression_plots(regression_dir: Path) -> None:
    names = {p.stem for p in (regression_dir / "plots").iterdir()}
    assert {
        "residuals",
        "predicted_vs_actual",
        "error_histogram",
        "error_by_target_quantile",
        "stress",
    } <= names


def test_byte_identical_rerun(cancer: Any, tmp_path: Path, harness: Any) -> None:
    a, b = tmp_path / "a" / "eval", tmp_path / "b" / "eval"
    harness.classify(cancer, a)
    harness.classify(cancer, b)
    ha, hb = _hashes(a), _hashes(b)
    assert ha == hb
    assert any(k.endswith(".png") for k in ha)


def test_byte_identical_rerun_regression_with_svg(
    diabetes: Any, tmp_path: Path, harness: Any
) -> None:
    from dataclasses import replace

    cfg = replace(harness.fast, plot_formats=("png", "svg"))
    a = tmp_path / "eval"
    harness.regress(diabetes, a, config=cfg)
    first = _hashes(a)
    harness.regress(diabetes, a, config=cfg)  # rewriting in place is atomic and identical
    assert _hashes(a) == first
    assert any(k.endswith(".svg") for k in first)


def test_no_paths_or_timestamps(binary_dir: Path) -> None:
    for p in binary_dir.rglob("*"):
        if p.suffix in (".json", ".md", ".txt"):
            text = p.read_text()
            assert str(binary_dir) not in text
            assert "/tmp/" not in text


@pytest.mark.parametrize("fixture", ["binary_dir", "multiclass_dir", "regression_dir"])
def test_takeaway_has_five_sentences(fixture: str, request: pytest.FixtureRequest) -> None:
    text = (request.getfixturevalue(fixture) / "takeaway.txt").read_text()
    lines = text.strip().split("\n")
    assert len(lines) == 5
    assert all(line.endswith(".") for line in lines)
    assert count_sentences(text) == 5


def test_takeaway_mentions_numbers(binary_dir: Path) -> None:
    text = (binary_dir / "takeaway.txt").read_text()
    ci = json.loads((binary_dir / "confidence_intervals.json").read_text())
    acc = ci["intervals"]["accuracy"]
    assert f"{acc['estimate']:.3g}" in text
    assert "baseline prior" in text


def test_validate_names_violations(
    binary_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "eval"
    shutil.copytree(binary_dir, broken)
    summary = json.loads((broken / "eval_summary.json").read_text())
    summary["n_examples"] = "many"
    (broken / "eval_summary.json").write_text(json.dumps(summary) + "\n")
    (broken / "stress.json").unlink()
    (broken / "takeaway.txt").write_text("Too short. Only two.\n")
    (broken / "repro.md").write_text("cd /home/alice/project\n")
    problems = validate_folder(broken)
    joined = "\n".join(problems)
    assert "eval_summary.json: schema violation" in joined and "n_examples" in joined
    assert "stress.json: missing" in joined
    assert "takeaway.txt: 2 sentences" in joined
    assert "repro.md: contains an absolute machine path" in joined
    assert main(["validate", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "violation: stress.json: missing" in err


def test_validate_rejects_unknown_field_and_missing_plot(binary_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "eval"
    shutil.copytree(binary_dir, broken)
    m = json.loads((broken / "metrics.json").read_text())
    m["surprise"] = 1
    (broken / "metrics.json").write_text(json.dumps(m) + "\n")
    (broken / "plots" / "roc_curve.png").unlink()
    joined = "\n".join(validate_folder(broken))
    assert "metrics.json: schema violation" in joined
    assert "plots/roc_curve.png" in joined


def test_validate_rejects_duplicate_failure_examples(binary_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "eval"
    shutil.copytree(binary_dir, broken)
    f = json.loads((broken / "failure_examples.json").read_text())
    first = f["examples"][0]
    f["examples"].append(first)
    f["category_counts"][first["category"]] += 1  # counted twice, as the bug did
    (broken / "failure_examples.json").write_text(json.dumps(f) + "\n")
    joined = "\n".join(validate_folder(broken))
    assert f"example {first['example_id']!r} is listed twice" in joined
    f["examples"].pop()
    (broken / "failure_examples.json").write_text(json.dumps(f) + "\n")
    assert "category_counts" in "\n".join(validate_folder(broken))


def test_committed_schemas_match_structs() -> None:
    for name in ALL_FILE_TYPES:
        assert (SCHEMA_DIR / schema_file_name(name)).read_bytes() == schema_bytes(name), name


def test_summary_contents(binary_dir: Path) -> None:
    s = json.loads((binary_dir / "eval_summary.json").read_text())
    assert s["run"]["dataset_checksum"] == "abc123"
    assert s["run"]["commit"] == "deadbeef"
    assert s["task"] == "classification"
    assert set(s["headline"]) == {"accuracy", "roc_auc", "f1"}
    assert s["plots"]["roc_curve"] == "plots/roc_curve.png"
    assert s["files"]["slices"] == "slices.json"
    assert s["latency"] is None


def test_confidence_intervals_file(binary_dir: Path) -> None:
    ci = json.loads((binary_dir / "confidence_intervals.json").read_text())
    assert ci["n_bootstrap"] == 60
    assert ci["seed"] == 3
    assert ci["method"] == "percentile"
    assert ci["resampling"] == "multinomial"  # auto: small n uses the classic bootstrap
    assert ci["reduced_replicates"] is True
    assert "Reduced replicates" in ci["note"]
    for iv in ci["intervals"].values():
        assert iv["ci_low"] <= iv["estimate"] <= iv["ci_high"]


def test_metrics_file_classification(binary_dir: Path, multiclass_dir: Path) -> None:
    m = json.loads((binary_dir / "metrics.json").read_text())
    assert set(m["metrics"]) >= {
        "accuracy",
        "balanced_accuracy",
        "roc_auc",
        "pr_auc",
        "f1",
        "log_loss",
        "brier",
        "confident_error",
    }
    assert "average=" in m["notes"]["f1"]
    assert sum(map(sum, m["confusion_matrix"]["matrix"])) == m["n_examples"]
    assert m["baseline"]["source"] == "predictions"
    assert m["deltas"]["accuracy"]["value"] > 0
    assert m["improvement_is_meaningful"] is True
    mc = json.loads((multiclass_dir / "metrics.json").read_text())
    assert mc["metrics"]["pr_auc"] is None
    assert mc["metrics"]["roc_auc"] is not None
    assert len(mc["classes"]) == 3


def test_no_baseline_is_not_meaningful(multiclass_dir: Path) -> None:
    m = json.loads((multiclass_dir / "metrics.json").read_text())
    s = json.loads((multiclass_dir / "eval_summary.json").read_text())
    assert m["baseline"] is None and s["baseline"] is None
    assert m["improvement_is_meaningful"] is False and s["improvement_is_meaningful"] is False


def test_stress_table_shape(binary_dir: Path, regression_dir: Path) -> None:
    st = json.loads((binary_dir / "stress.json").read_text())
    scen = {r["scenario"] for r in st["rows"]}
    assert scen == {"missing_values", "label_noise", "shuffle:area error"} or len(scen) == 3
    assert len(st["rows"]) == 3 * 3 * 2  # scenarios x severities x (candidate, baseline)
    for r in st["rows"]:
        assert r["status"] == "ok"
        assert r["ci_low"] <= r["value"] <= r["ci_high"]
    noise = sorted(
        (r for r in st["rows"] if r["scenario"] == "label_noise" and r["model"] == "candidate"),
        key=lambda r: r["severity"],
    )
    assert noise[0]["value"] > noise[-1]["value"]
    rs = json.loads((regression_dir / "stress.json").read_text())
    scen = {r["scenario"].split(":")[0] for r in rs["rows"]}
    assert scen == {"feature_noise", "missing_values", "distribution_shift"}


def test_failure_examples(binary_dir: Path, regression_dir: Path) -> None:
    f = json.loads((binary_dir / "failure_examples.json").read_text())
    lists = {e["list"].split(":")[0] for e in f["examples"]}
    assert {"confident_wrong", "low_confidence_correct"} <= lists
    for e in f["examples"]:
        assert e["reason"] and e["category"]
    wrong = [e for e in f["examples"] if e["list"] == "confident_wrong"]
    conf = [e["confidence"] for e in wrong]
    assert conf == sorted(conf, reverse=True)
    r = json.loads((regression_dir / "failure_examples.json").read_text())
    lists = {e["list"] for e in r["examples"]}
    assert lists == {"largest_abs_error", "under_prediction", "over_prediction"}
    md = (binary_dir / "failure_modes.md").read_text()
    for title in (
        "Data",
        "Objective / metric",
        "Model / representation",
        "Optimization",
        "Systems / infra",
        "Human / UX",
    ):
        assert f"## {title}" in md


def test_evalharness_never_imports_modellab() -> None:
    root = Path(__file__).resolve().parents[2] / "evalharness"
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert "import modellab" not in text and "from modellab" not in text, path
