"""Text classification on Banking77 (its own train/test split): the query text is an
input of the text template, never of the tabular one, and the TF-IDF baseline's numbers
are scikit-learn's on the same rows."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from tests.conftest import Env

BANKING77 = Path(str(files("modellab_classification.demo_data") / "banking77" / "data"))


def _sample(folder: Path) -> Path:
    """Banking77's train and test files cut to their first 20 intents (a quarter of the
    rows): the same text, in a third of the time."""
    folder.mkdir()
    for name in ("train.csv", "test.csv"):
        frame = pd.read_csv(BANKING77 / name)
        kept = sorted(frame["category"].unique())[:20]
        frame[frame["category"].isin(kept)].to_csv(folder / name, index=False)
    return folder


def test_free_text_is_the_text_templates_input_and_its_baseline_is_sklearns(
    ml: Env, tmp_path: Path
) -> None:
    data = _sample(tmp_path / "banking20")
    added = ml.json("dataset", "add", "-p", "p", "-n", "bank", "-t", "category", str(data))
    assert added["split"]["strategy"] == "predefined"
    roles = {c["name"]: c["role"] for c in ml.json("dataset", "show", "p/bank")["schema"]}
    assert roles == {"text": "text", "category": "target"}
    # The text column's profile: words per row and vocabulary as scikit-learn counts them.
    shown = ml.json("dataset", "show", "p/bank")["profile"]["column_profiles"]
    text = next(c for c in shown if c["name"] == "text")["text"]
    every = pd.concat([pd.read_csv(data / "train.csv"), pd.read_csv(data / "test.csv")])
    counter = CountVectorizer(token_pattern=r"(?u)\b\w+\b").fit(every["text"])
    assert text["vocabulary"] == len(counter.vocabulary_)
    analyze = counter.build_analyzer()
    lengths = [len(analyze(t)) for t in every["text"]]
    assert text["words"]["mean"] == pytest.approx(np.mean(lengths), rel=1e-6)
    assert text["words"]["max"] == max(lengths)
    assert {s["label"] for s in text["samples"]} <= set(every["category"])
    # The tabular template has nothing to train on, and says where the text goes.
    tabular = ml.run(
        "run",
        "-p",
        "p",
        "-d",
        "bank",
        "-t",
        "tabular-classification",
        "-m",
        "logistic_regression",
        ok=False,
    )
    assert tabular.exit_code != 0
    assert "its free text (text) is for a template that takes text" in (
        tabular.stdout + tabular.stderr
    )
    run = ml.train("bank", "tfidf_logistic", template="text-classification", n_bootstrap=20)
    assert run["status"] == "succeeded", run
    folder = Path(run["artifact_dir"])
    assert json.loads((folder / "run.json").read_text())["dataset"]["run_features"] == ["text"]
    # Independent reference: the same vectorizer and model in scikit-learn, on the files.
    train = pd.read_csv(data / "train.csv")
    test = pd.read_csv(data / "test.csv")
    vec = TfidfVectorizer(token_pattern=r"(?u)\b\w+\b", ngram_range=(1, 2), sublinear_tf=True)
    lr = LogisticRegression(C=10.0, max_iter=1000, random_state=run["seed"])
    lr.fit(vec.fit_transform(train["text"]), train["category"])
    expected = lr.predict(vec.transform(test["text"]))
    metrics = json.loads((folder / "eval" / "metrics.json").read_text())["metrics"]
    assert metrics["accuracy"] == pytest.approx(
        accuracy_score(test["category"], expected), abs=1e-9
    )
    assert metrics["f1"] == pytest.approx(
        f1_score(test["category"], expected, average="macro"), abs=1e-9
    )
    assert np.mean(expected == test["category"]) > 0.85
    # Text slices: word-count terciles, and words unseen in training counted against
    # scikit-learn's own vocabulary of the train texts (its analyzer, not ours).
    report = json.loads((folder / "eval" / "slices.json").read_text())
    got = {s["id"]: s["n"] for s in report["slices"]}
    assert {"text_length:01", "text_length:02", "text_length:03"} <= set(got)
    assert sum(got[f"text_length:0{b}"] for b in (1, 2, 3)) == len(test)
    seen = set(CountVectorizer(token_pattern=r"(?u)\b\w+\b").fit(train["text"]).vocabulary_)
    analyze = CountVectorizer(token_pattern=r"(?u)\b\w+\b").build_analyzer()
    unseen = np.array([np.mean([w not in seen for w in analyze(t)]) for t in test["text"]])
    assert got.get("text_oov:none", 0) == int((unseen == 0).sum())
    assert got.get("text_oov:high", 0) == int((unseen > 0.2).sum())
    # Text stress: the vectorizer lower-cases, so capitals change nothing (a verdict known
    # in advance); half the words misspelt or cut off costs accuracy.
    stress = json.loads((folder / "eval" / "stress.json").read_text())
    rows = {(r["scenario"], r["severity"]): r for r in stress["rows"] if r["model"] == "candidate"}
    worst = max(sev for _, sev in rows)
    assert rows["text_case", worst]["degradation"] == 0
    for scenario in ("text_typos", "text_truncation", "text_dropped_words"):
        assert rows[scenario, worst]["degradation"] < 0, scenario
    # The candidate's stress tests load the baseline's model back and corrupt the same
    # texts for it: its truncated-text accuracy is scikit-learn's on texts cut the same way.
    cand = ml.train(
        "bank", "char_word_tfidf_calibrated_svm", template="text-classification", n_bootstrap=20
    )
    assert cand["status"] == "succeeded", cand
    cand_stress = json.loads((Path(cand["artifact_dir"]) / "eval" / "stress.json").read_text())
    theirs = {
        (r["scenario"], r["severity"]): r for r in cand_stress["rows"] if r["model"] == "baseline"
    }
    assert cand_stress["metric"] == "accuracy"
    assert {s for s, _ in theirs} >= {"text_typos", "text_truncation", "text_case"}
    assert theirs["text_case", worst]["degradation"] == 0

    def cut(text: str) -> str:
        words = text.split()
        return " ".join(words[: max(1, len(words) - round(worst * len(words)))])

    truncated = lr.predict(vec.transform(test["text"].map(cut)))
    assert theirs["text_truncation", worst]["value"] == pytest.approx(
        accuracy_score(test["category"], truncated), abs=1e-9
    )


CLINC150 = Path(str(files("modellab_classification.demo_data") / "clinc150" / "data"))


def test_out_of_scope_queries_are_a_slice_with_their_confident_error(
    ml: Env, tmp_path: Path
) -> None:
    """CLINC150 cut to 15 intents and its out-of-scope queries: the out_of_scope slice
    holds exactly the `oos` test rows, and its confident error (wrong with at least 80%
    confidence) is scikit-learn's model's on the same rows."""
    data = tmp_path / "clinc"
    data.mkdir()
    for name in ("train.csv", "test.csv"):
        frame = pd.read_csv(CLINC150 / name)
        kept = [*sorted(set(frame["intent"]) - {"oos"})[:15], "oos"]
        frame[frame["intent"].isin(kept)].to_csv(data / name, index=False)
    ml.json("dataset", "add", "-p", "p", "-n", "clinc", "-t", "intent", str(data))
    run = ml.train("clinc", "tfidf_logistic", template="text-classification", n_bootstrap=20)
    assert run["status"] == "succeeded", run
    folder = Path(run["artifact_dir"])
    train, test = pd.read_csv(data / "train.csv"), pd.read_csv(data / "test.csv")
    vec = TfidfVectorizer(token_pattern=r"(?u)\b\w+\b", ngram_range=(1, 2), sublinear_tf=True)
    lr = LogisticRegression(C=10.0, max_iter=1000, random_state=run["seed"])
    lr.fit(vec.fit_transform(train["text"]), train["intent"])
    proba = lr.predict_proba(vec.transform(test["text"]))
    predicted = lr.classes_[proba.argmax(axis=1)]
    confident_error = (predicted != test["intent"]) & (proba.max(axis=1) >= 0.8)
    oos = (test["intent"] == "oos").to_numpy()
    slices = {
        s["id"]: s for s in json.loads((folder / "eval" / "slices.json").read_text())["slices"]
    }
    queries = slices["out_of_scope:queries"]
    assert queries["n"] == int(oos.sum()) == 1000
    assert slices["out_of_scope:in_scope"]["n"] == int((~oos).sum())
    assert queries["metrics"]["confident_error"]["value"] == pytest.approx(
        confident_error[oos].mean(), abs=1e-9
    )
    assert queries["metrics"]["accuracy"]["value"] == pytest.approx(
        (predicted[oos] == "oos").mean(), abs=1e-9
    )
    # Other families report the accuracy they are ranked by, nothing more.
    assert set(slices["text_length:01"]["metrics"]) == {"accuracy"}
    metrics = json.loads((folder / "eval" / "metrics.json").read_text())["metrics"]
    assert metrics["confident_error"] == pytest.approx(confident_error.mean(), abs=1e-9)


def test_a_tab_separated_label_and_text_file_is_detected_and_trains(
    ml: Env, tmp_path: Path
) -> None:
    """The layout of many text data sets: label first, a tab, then the text (which holds
    commas). The delimiter is detected, the text is free text, the text template trains."""
    frame = pd.read_csv(BANKING77 / "train.csv")
    kept = sorted(frame["category"].unique())[:6]
    sample = frame[frame["category"].isin(kept)].groupby("category").head(50)
    assert sample["text"].str.contains(",").any()
    path = tmp_path / "intents.tsv"
    sample[["category", "text"]].to_csv(path, sep="\t", index=False)
    ml.run("dataset", "add", "-p", "p", "-n", "tsv", "-t", "category", str(path))
    shown = ml.json("dataset", "show", "p/tsv")
    assert shown["provenance"]["files"][0]["delimiter"] == "\t"
    roles = {c["name"]: c["role"] for c in shown["schema"]}
    assert roles == {"category": "target", "text": "text"}
    run = ml.train("tsv", "tfidf_logistic", template="text-classification", n_bootstrap=10)
    assert run["status"] == "succeeded", run
