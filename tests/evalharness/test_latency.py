"""Latency helper and its place in eval_summary.json."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

import evalharness as eh


def test_measure_latency_fields() -> None:
    batch = np.ones((64, 4))
    res = eh.measure_latency(lambda b: b.sum(axis=1), batch, warmup=2, repeats=15)
    assert res.batch_size == 64 and res.device == "cpu"
    assert 0 <= res.p50_ms <= res.p95_ms <= res.p99_ms
    assert res.per_sample_ms == res.p50_ms / 64


def _evaluate(s: Any, tmp_path: Path, harness: Any, latency: Any) -> None:
    """A fast regression report into ``tmp_path/eval`` with ``latency`` as given."""
    cfg = replace(harness.fast, run_stress=False, run_search=False)
    eh.evaluate_regression(
        tmp_path / "eval",
        s.x_test,
        s.y_test.to_numpy(),
        s.model.predict(s.x_test),
        run=harness.run,
        config=cfg,
        latency=latency,
    )


def test_latency_recorded_in_summary(diabetes: Any, tmp_path: Path, harness: Any) -> None:
    s = diabetes
    _evaluate(
        s, tmp_path, harness, eh.measure_latency(s.model.predict, s.x_test, warmup=1, repeats=5)
    )
    summary = json.loads((tmp_path / "eval" / "eval_summary.json").read_text())
    assert summary["latency"]["batch_size"] == len(s.x_test)
    assert summary["latency"]["p95_ms"] >= summary["latency"]["p50_ms"]
    assert eh.validate_folder(tmp_path / "eval") == []


def test_a_latency_pointer_keeps_the_folder_machine_free(
    diabetes: Any, tmp_path: Path, harness: Any
) -> None:
    # Timings kept in a file outside the folder: the summary names it and holds no number.
    _evaluate(diabetes, tmp_path, harness, "../latency.json")
    summary = json.loads((tmp_path / "eval" / "eval_summary.json").read_text())
    assert summary["latency"] == "../latency.json"
    assert eh.validate_folder(tmp_path / "eval") == []
