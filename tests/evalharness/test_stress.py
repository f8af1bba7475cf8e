"""Stress tests on a seeded sample: the same sample for clean and corrupted scores."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from tests.evalharness.conftest import FAST, Split, classify, regress


def test_large_sets_are_stressed_on_a_seeded_sample(cancer: Split, tmp_path: Path) -> None:
    config = dataclasses.replace(FAST, stress_max_rows=80)
    classify(cancer, tmp_path / "a", config=config)
    classify(cancer, tmp_path / "b", config=config)
    a = (tmp_path / "a" / "stress.json").read_bytes()
    assert a == (tmp_path / "b" / "stress.json").read_bytes()
    stress = json.loads(a)
    n_test = len(cancer.y_test)
    for text in stress["scenarios"].values():
        assert f"seeded sample of 80 of the {n_test:,} rows" in text
    # No corruption at all would score exactly the clean value on the same rows: the
    # label-noise rows at the lowest severity degrade from the sample's clean value.
    rows = [
        r for r in stress["rows"] if r["scenario"] == "label_noise" and r["model"] == "candidate"
    ]
    assert rows and all(r["degradation"] is not None for r in rows)


def test_small_sets_are_stressed_on_every_row(cancer: Split, tmp_path: Path) -> None:
    classify(cancer, tmp_path / "c")
    stress = json.loads((tmp_path / "c" / "stress.json").read_text())
    assert not any("seeded sample" in text for text in stress["scenarios"].values())


def test_regression_is_stressed_on_the_same_seeded_sample(diabetes: Split, tmp_path: Path) -> None:
    """The sampling rule is the pipeline's, for every task: regression samples too, and its
    degradations are taken against the clean metric on the sample."""
    config = dataclasses.replace(FAST, stress_max_rows=80)
    regress(diabetes, tmp_path / "a", config=config)
    regress(diabetes, tmp_path / "b", config=config)
    a = (tmp_path / "a" / "stress.json").read_bytes()
    assert a == (tmp_path / "b" / "stress.json").read_bytes()
    stress = json.loads(a)
    n_test = len(diabetes.y_test)
    for text in stress["scenarios"].values():
        assert f"seeded sample of 80 of the {n_test:,} rows" in text
    # The mean baseline ignores its inputs: corrupted, it scores exactly its clean MAE on
    # the same rows, so a degradation against the whole test set's MAE would not be 0.
    rows = [r for r in stress["rows"] if r["model"] == "baseline" and r["status"] == "ok"]
    assert rows and all(r["degradation"] == 0.0 for r in rows)


def test_cases_on_the_same_rows_share_one_bootstrap() -> None:
    """Two identical cases get identical intervals: the resampled rows are shared."""
    import numpy as np

    from evalharness.metrics import classification as MC
    from evalharness.stress.runner import StressCase, run_stress

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.where(rng.random(400) < 0.8, y, 1 - y)

    def build() -> MC.ClassificationArrays:
        return MC.build_arrays(y, p, None, 2, "binary")

    cases = [
        StressCase("s", "candidate", 0.1, build, ""),
        StressCase("s", "candidate", 0.3, build, ""),
    ]
    rows = run_stress(cases, {"candidate": 0.8}, "accuracy", 200, 0, "multinomial")
    assert rows[0].ci_low is not None and rows[0].ci_high is not None
    assert (rows[0].ci_low, rows[0].ci_high) == (rows[1].ci_low, rows[1].ci_high)


def test_stress_predictions_are_batched_per_model(cancer: Split) -> None:
    """Each model predicts all corrupted frames in one call; each frame gets its own rows."""
    import numpy as np
    import pandas as pd

    from evalharness.stress.classification import predict_batch

    calls: list[int] = []

    def predict(frame: pd.DataFrame) -> tuple[Any, Any]:
        calls.append(len(frame))
        first = frame.iloc[:, 0].to_numpy()
        score = np.clip(first / 30.0, 0, 1)
        return (score > 0.5).astype(int), np.column_stack([1 - score, score])

    frames = {
        ("missing", 0): cancer.x_test.iloc[:30],
        ("shuffle", 0): cancer.x_test.iloc[30:50],
        ("missing", 1): cancer.x_test.iloc[50:90],
    }
    batched = predict_batch(predict, frames, [0, 1], "binary")
    assert calls == [90]
    for key, frame in frames.items():
        alone_pred, alone_scores = predict(frame)
        assert list(batched[key].p) == list(np.asarray(alone_pred))
        assert batched[key].scores is not None
        np.testing.assert_array_equal(batched[key].scores, np.asarray(alone_scores))


def _row(scenario: str, model: str, severity: float) -> Any:
    from evalharness.stress.runner import StressResult

    return StressResult(scenario, model, severity, "accuracy", 0.8, 0.7, 0.9, -0.1, "ok")


def test_stress_lines_of_a_lone_run_are_not_called_candidate() -> None:
    from evalharness.plots.stress import stress_series

    rows = [_row("label_noise", "candidate", 0.1), _row("missing_values", "candidate", 0.1)]
    alone = stress_series(rows, {"candidate": 0.9}, None)
    assert [s[0] for s in alone] == ["label_noise", "missing_values"]
    paired = stress_series(
        [*rows, _row("label_noise", "baseline", 0.1)],
        {"candidate": 0.9, "baseline": 0.6},
        "prior",
    )
    assert [s[0] for s in paired] == [
        "label_noise (baseline prior)",
        "label_noise (candidate)",
        "missing_values (candidate)",
    ]


def test_stress_plot_legend_of_a_baseline_free_report(
    cancer: Split, tmp_path: Path, monkeypatch: Any
) -> None:
    """A report without a separate baseline (e.g. of a baseline run) draws no "candidate"."""
    import evalharness.core.pipeline as P
    from evalharness.plots.stress import stress_plot as real

    drawn: list[str] = []

    def spy(series: Any, metric: str, fmt: str) -> bytes:
        drawn.extend(label for label, *_ in series)
        return real(series, metric, fmt)

    monkeypatch.setattr(P, "stress_plot", spy)
    classify(cancer, tmp_path / "alone", baseline=False)
    assert drawn and not any("candidate" in label for label in drawn)
    drawn.clear()
    classify(cancer, tmp_path / "paired")
    assert any(label.endswith("(candidate)") for label in drawn)
    assert any(label.endswith("(baseline prior)") for label in drawn)
