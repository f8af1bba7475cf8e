"""What a report's metrics, plots and failure modes mean comes from EvalHarness and the
plugins, through GET /api/plugins; the web UI keeps no copy of the words."""

from __future__ import annotations

import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from litestar.testing import TestClient

from evalharness import EvalConfig
from evalharness.failures.categories import CATEGORIES
from evalharness.metrics import classification, queries, regression
from modellab import hookimpl
from modellab.plugins import build_registry, get_plugin_manager, load_registry
from modellab.server.app import create_app
from modellab.tasks import Evaluator, MetricInfo
from tests import toy_task
from tests.server.conftest import Api, make_settings

WEB = Path(__file__).resolve().parents[2] / "server" / "web"


def test_every_metric_plot_and_failure_mode_is_described(api: Api) -> None:
    words = api.ok("GET", "/api/plugins")["descriptions"]
    ranking = dict.fromkeys(queries.metric_names(EvalConfig().ranking_cutoffs), True)
    computed = {**classification.HIGHER_IS_BETTER, **regression.HIGHER_IS_BETTER, **ranking}
    assert set(words["metrics"]) == set(computed)
    assert words["metrics"]["ndcg@10"]["description"].endswith("of the ideal top 10")
    for name, better in computed.items():
        assert words["metrics"][name]["higher_is_better"] is better
        assert words["metrics"][name]["description"]
    assert words["metrics"]["log_loss"]["higher_is_better"] is False
    # Every plot a classification and a regression report draws has a title and words.
    plots = {"calibration", "confusion_matrix", "roc_curve", "residuals", "stress", "metric_vs_k"}
    assert plots <= set(words["plots"])
    assert all(p["title"] and p["shows"] for p in words["plots"].values())
    assert words["failure_modes"] == {
        key: {"title": title, "description": text} for key, (title, text) in CATEGORIES.items()
    }


def test_a_plugin_evaluator_adds_the_words_of_its_own_metrics(
    tmp_path: Path, database_url: str
) -> None:
    hits = Evaluator(
        "toy",
        toy_task.TASK,
        lambda request: None,
        metrics={"hits_at_3": MetricInfo("share of queries with a hit in the top 3", True)},
    )
    ns = types.SimpleNamespace(
        register_task_types=hookimpl(cast(Callable[..., object], lambda: [toy_task.TOY_TASK])),
        register_evaluators=hookimpl(cast(Callable[..., object], lambda: [hits])),
    )
    installed = load_registry()
    registry = build_registry(get_plugin_manager([("toy", ns)], discover=False))
    registry.evaluators.update(installed.evaluators)
    app = create_app(make_settings(tmp_path, database_url), registry=registry)
    with TestClient(app=app, base_url="http://127.0.0.1") as client:
        words: dict[str, Any] = client.get("/api/plugins").json()["descriptions"]
    assert words["metrics"]["hits_at_3"] == {
        "description": "share of queries with a hit in the top 3",
        "higher_is_better": True,
    }
    assert "accuracy" in words["metrics"]


def test_the_web_ui_keeps_no_copy_of_the_words() -> None:
    scripts = "\n".join(p.read_text() for p in sorted(WEB.rglob("*.js")))
    phrases = [
        *classification.DESCRIPTIONS.values(),
        *regression.DESCRIPTIONS.values(),
        *(text for _, text in CATEGORIES.values()),
        "true class (rows) against predicted class (columns)",
    ]
    for phrase in phrases:
        assert phrase not in scripts, phrase
