"""The classification plugin keeps every hook contract of the plugin test kit.

Its three models are fitted, saved and loaded back (the loaded model predicts the
same), sliced and run end to end on the penguins' sex; the majority-class baseline and
XGBoost run twice for byte-identical reports (logistic regression once, to keep it fast).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest

import modellab_classification.plugin
from modellab.demo import demo_file
from modellab.testing.check import ContractReport


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
    assert report.slicers == ("confidence_decile", "missingness", "key_feature", "class")
    assert [r.status for r in report.runs] == ["succeeded"] * 5
