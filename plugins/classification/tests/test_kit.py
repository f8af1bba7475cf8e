"""The classification plugin keeps every hook contract of the plugin test kit.

Its three models are fitted, saved and loaded back (the loaded model predicts the
same), sliced and run end to end on the penguins' sex; the majority-class baseline and
XGBoost run twice for byte-identical reports (logistic regression once, to keep it fast).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

import modellab_classification.plugin
from modellab.demo import demo_file
from modellab.testing.check import ContractReport

BANKING77 = Path(str(files("modellab_classification.demo_data") / "banking77"))


@pytest.fixture
def modellab_plugin() -> ModuleType:
    return modellab_classification.plugin


def test_the_classification_plugin_keeps_every_contract(
    modellab_contract: Callable[..., ContractReport],
) -> None:
    report = modellab_contract(
        data=demo_file("penguins.csv"),
        target="sex",
        twice=("most_frequent", "xgboost"),
        n_bootstrap=10,
    )
    assert (report.plugin, report.task) == ("classification", "classification")
    assert report.variants == (
        "tabular-classification/most_frequent",
        "tabular-classification/logistic_regression",
        "tabular-classification/xgboost",
    )
    assert report.slicers == (
        "confidence_decile",
        "missingness",
        "key_feature",
        "class",
        "text_length",
        "text_out_of_vocabulary",
        "out_of_scope",
    )
    assert [r.status for r in report.runs] == ["succeeded"] * 5


def _banking_sample() -> pd.DataFrame:
    """Banking77's first 8 intents, 60 train queries each: the contract on real text in
    seconds."""
    train = pd.read_csv(BANKING77 / "data" / "train.csv")
    kept = sorted(train["category"].unique())[:8]
    sample = train[train["category"].isin(kept)].groupby("category").head(60)
    return sample.reset_index(drop=True)


def test_the_text_template_keeps_every_contract_on_banking77_queries(
    modellab_contract: Callable[..., ContractReport],
) -> None:
    report = modellab_contract(data=_banking_sample(), target="category", twice=(), n_bootstrap=10)
    # The tabular template takes no free text: only the text template runs on it.
    assert report.variants == (
        "text-classification/most_frequent",
        "text-classification/tfidf_logistic",
        "text-classification/char_word_tfidf_calibrated_svm",
        "text-classification/tfidf_svd_mlp",
    )
    assert [r.status for r in report.runs] == ["succeeded"] * 4
    # The query text is never the key feature: its "categories" are single rows.
    slices = json.loads((report.runs[1].eval_dir / "slices.json").read_text())
    assert not any(name.startswith("key_feature") for name in slices["families"])
    assert {"text_length", "text_out_of_vocabulary"} <= set(slices["families"])
