"""Text stress tests of a classifier: each corruption changes what it says, seeded, and on
a model whose answer is known (one that reads capitals, one that reads the first word)
the degradation table says the right thing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from evalharness import EvalConfig, RunInfo, evaluate_classification
from evalharness.stress.text import TEXT_SCENARIOS, corrupt_texts, truncate


def test_each_text_corruption_does_what_its_severity_says() -> None:
    texts = pd.Series(["one two three four", None, "single"], name="text")

    def rng() -> np.random.Generator:
        return np.random.default_rng(7)

    assert truncate("one two three four", 0.5) == "one two"
    assert truncate("one two three four", 1.0) == "one" and truncate("single", 0.9) == "single"
    capitals = corrupt_texts(texts, "text_case", 1.0, rng())
    assert capitals[0] == "ONE TWO THREE FOUR" and capitals[2] == "SINGLE"
    assert pd.isna(capitals[1])
    unchanged = corrupt_texts(texts, "text_case", 0.0, rng())
    assert unchanged[0] == texts[0] and unchanged[2] == texts[2]
    for scenario in TEXT_SCENARIOS:
        first = corrupt_texts(texts, scenario, 0.5, rng())
        again = corrupt_texts(texts, scenario, 0.5, rng())
        assert (first[0], first[2]) == (again[0], again[2]), scenario
        assert pd.isna(first[1]), scenario  # a missing text stays missing
    dropped = corrupt_texts(texts, "text_dropped_words", 0.5, rng())[0]
    assert len(dropped.split()) == 2


def test_the_degradation_table_knows_what_a_model_reads(tmp_path: Path) -> None:
    """A model that reads the first word's case: capitals break it, truncation never
    does (the first word always stays); typos hurt."""
    n = 400
    rng = np.random.default_rng(0)
    first = rng.choice(["Yes", "no"], n)
    frame = pd.DataFrame({"text": [f"{w} and some more words here" for w in first]})
    y = np.where(first == "Yes", "a", "b")

    def predict(f: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        head = f["text"].fillna("").str.split().str[0].fillna("")
        p = np.where(head == "Yes", "a", "b")
        return p, np.column_stack([p == "a", p == "b"]).astype(float)

    p, scores = predict(frame)
    evaluate_classification(
        tmp_path,
        frame,
        y,
        p,
        run=RunInfo("r", "d", "1", "abc", "deadbeef"),
        scores=scores,
        classes=["a", "b"],
        predict=predict,
        config=EvalConfig(n_bootstrap=50, stress_n_bootstrap=20),
        text_columns=["text"],
    )
    stress = json.loads((tmp_path / "stress.json").read_text())
    rows = {(r["scenario"], r["severity"]): r for r in stress["rows"] if r["model"] == "candidate"}
    assert set(TEXT_SCENARIOS) <= set(stress["scenarios"])
    worst = max(r["severity"] for r in rows.values())
    assert rows["text_truncation", worst]["degradation"] == 0
    assert rows["text_case", worst]["degradation"] < -0.1
    assert rows["text_typos", worst]["degradation"] < 0


def test_a_failure_example_cuts_a_long_text_and_says_its_length() -> None:
    from evalharness.failures.selection import input_summary
    from evalharness.failures.texts import MAX_TEXT_CHARS

    long = "word " * 200
    frame = pd.DataFrame({"text": [long.strip(), "short"], "n": [1, 2]})
    cut = input_summary(frame, 0)["text"]
    assert cut.startswith(long[:MAX_TEXT_CHARS]) and cut.endswith("… [999 characters]")
    assert input_summary(frame, 1) == {"n": 2, "text": "short"}
