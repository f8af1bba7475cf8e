"""Stress tests on a seeded sample: the same sample for clean and corrupted scores."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from tests.evalharness.conftest import FAST, Split, classify


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
