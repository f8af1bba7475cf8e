"""The ranking plugin keeps every hook contract of the plugin test kit.

Its three learning-to-rank models are fitted, saved and loaded back (the loaded model
scores the same) and run end to end on the Vaswani candidates table, split by query;
the single-feature baseline and XGBRanker run twice for byte-identical reports.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from types import ModuleType

import pandas as pd
import pytest

import modellab_ranking.plugin
from modellab.testing.check import ContractReport

LTR = files("modellab_ranking.demo_data") / "vaswani_ltr.csv"


@pytest.fixture
def modellab_plugin() -> ModuleType:
    return modellab_ranking.plugin


def test_the_ranking_plugin_keeps_every_contract(
    modellab_contract: Callable[..., ContractReport],
) -> None:
    # The document id is not a feature; the kit's ingest takes no roles, so it goes.
    table = pd.read_csv(str(LTR), dtype={"query_id": str, "doc_id": str}).drop(columns="doc_id")
    report = modellab_contract(
        data=table,
        target="relevance",
        task="ranking",
        group_column="query_id",
        twice=("single_feature", "xgb_ranker"),
        n_bootstrap=10,
    )
    assert (report.plugin, report.task) == ("ranking", "ranking")
    assert report.variants == (
        "learning-to-rank/linear",
        "learning-to-rank/single_feature",
        "learning-to-rank/xgb_ranker",
    )
    assert report.slicers == ()
    assert [r.status for r in report.runs] == ["succeeded"] * 5
