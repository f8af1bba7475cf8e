"""Each failed text names its nearest training text and that text's label: the one
scikit-learn's brute-force cosine neighbour search finds on the same TF-IDF vectors, and
an error that the neighbour's label explains says so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neighbors import NearestNeighbors

from evalharness import EvalConfig, RunInfo, TrainingTexts, evaluate_classification
from evalharness.failures.neighbours import NearestTraining

TRAIN = pd.DataFrame(
    {
        "text": [
            "how do I reset my card pin",
            "my card was declined at the shop",
            "where is my new card",
            "I want to cancel a transfer",
            "the transfer has not arrived yet",
            "why was I charged a fee for the transfer",
            "x" * 400 + " card",
        ]
    },
    index=[10, 11, 12, 13, 14, 15, 16],
)
LABELS = ["pin", "declined", "delivery", "cancel", "pending", "fee", "delivery"]


def test_the_nearest_training_text_is_scikit_learns_cosine_neighbour() -> None:
    asked = ["reset the pin of my card", "transfer not arrived", "fee charged on transfer"]
    found = NearestTraining(TrainingTexts.of(TRAIN, ["text"], LABELS)).find([*asked, "zzz"])
    vec = TfidfVectorizer(token_pattern=r"(?u)\b\w+\b", sublinear_tf=True)
    matrix = vec.fit_transform(TRAIN["text"])
    nn = NearestNeighbors(n_neighbors=1, metric="cosine", algorithm="brute").fit(matrix)
    dist, idx = nn.kneighbors(vec.transform(asked))
    for near, d, i in zip(found[:3], dist[:, 0], idx[:, 0], strict=True):
        assert near is not None
        assert near.example_id == str(TRAIN.index[i]) and near.label == LABELS[i]
        assert near.similarity == float(f"{1 - d:.6g}")
    # A text sharing no word with any training text has no neighbour, not a random one.
    assert found[3] is None
    long = NearestTraining(TrainingTexts.of(TRAIN, ["text"], LABELS)).find(["x" * 400])[0]
    assert long is not None and long.text.endswith("… [405 characters]")


def test_a_confident_error_says_its_nearest_training_text_has_the_predicted_class(
    tmp_path: Path,
) -> None:
    test = pd.DataFrame({"text": ["my transfer has not arrived", "reset my card pin please"]})
    y = np.array(["cancel", "pin"])  # the first is mislabelled: it reads as "pending"
    p = np.array(["pending", "pin"])
    classes = sorted(set(LABELS))
    scores = np.full((2, len(classes)), 0.01)
    scores[0, classes.index("pending")] = 0.95
    scores[1, classes.index("pin")] = 0.1
    scores /= scores.sum(axis=1, keepdims=True)
    evaluate_classification(
        tmp_path,
        test,
        y,
        p,
        run=RunInfo("r", "d", "1", "abc", "deadbeef"),
        scores=scores,
        classes=classes,
        config=EvalConfig(n_bootstrap=20),
        text_columns=["text"],
        train_texts=TrainingTexts.of(TRAIN, ["text"], LABELS),
    )
    examples = json.loads((tmp_path / "failure_examples.json").read_text())["examples"]
    wrong = next(e for e in examples if e["list"] == "confident_wrong")
    assert wrong["nearest_training"]["example_id"] == "14"
    assert wrong["nearest_training"]["label"] == "pending"
    assert "nearest training text" in wrong["reason"] and "as predicted" in wrong["reason"]
    unsure = next(e for e in examples if e["list"] == "low_confidence_correct")
    assert unsure["nearest_training"]["label"] == "pin"
    assert "nearest training text" not in unsure["reason"]
    # Without training texts the field is left out, as in every tabular report.
    evaluate_classification(
        tmp_path / "plain",
        test,
        y,
        p,
        run=RunInfo("r", "d", "1", "abc", "deadbeef"),
        scores=scores,
        classes=classes,
        config=EvalConfig(n_bootstrap=20),
    )
    plain = json.loads((tmp_path / "plain" / "failure_examples.json").read_text())["examples"]
    assert plain and all("nearest_training" not in e for e in plain)
