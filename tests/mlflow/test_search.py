"""runs/search: ModelLab's answer to each filter and order equals MLflow's own.

The reference is MLflow's in-memory search (``mlflow.utils.search_utils.SearchUtils``,
what its file store uses), applied to the same runs as the client parses them.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.json_format import ParseDict
from mlflow.entities import Run as MlflowRun
from mlflow.protos.service_pb2 import Run as RunProto
from mlflow.utils.search_utils import SearchUtils

from modellab.mlflow.search import parse_filter
from tests.server.conftest import PENGUINS, Api

BASE = "/mlflow/p/api/2.0/mlflow"
PROVENANCE = [
    {"key": "modellab.dataset", "value": "penguins@1"},
    {"key": "modellab.seed", "value": "1"},
    {"key": "modellab.git_commit", "value": "0123abcd"},
]

#: name, params, tags, metrics {key: [(step, value), ...]}, how it ends
RUNS: list[tuple[str, dict[str, str], dict[str, str], dict[str, list[Any]], str | None]] = [
    (
        "a",
        {"lr": "0.1", "opt": "sgd"},
        {"team": "rank"},
        {"loss": [(0, 0.9), (1, 0.5)]},
        "FINISHED",
    ),
    (
        "b",
        {"lr": "0.01", "opt": "adam"},
        {"team": "Rankers"},
        {"loss": [(0, 0.3)], "acc": [(0, 0.8)]},
        "FAILED",
    ),
    ("c", {"lr": "0.1"}, {"team": "search"}, {"loss": [(0, 1.5)], "acc": [(3, 0.95)]}, None),
    ("d", {"opt": "sgd"}, {}, {"acc": [(0, 0.8)]}, "KILLED"),
    ("e", {"lr": "1"}, {"team": "rank", "x.y": "1"}, {"loss": [(0, -2.0)]}, "FINISHED"),
    ("f_1", {}, {"team": "a_b"}, {"loss": [(0, 0.5)], "acc": [(0, 0.1)]}, "FINISHED"),
]

FILTERS = [
    "",
    "metrics.loss < 1",
    "metrics.loss <= 0.5",
    "metrics.loss >= 0.5 and metrics.acc > 0.5",
    "metrics.acc = 0.8",
    "metrics.acc != 0.8",
    "params.lr = '0.1'",
    "params.lr != '0.1'",
    "params.opt LIKE 's%'",
    "tags.team ILIKE 'rank%'",
    "tags.team LIKE 'rank%'",
    "tags.team LIKE 'a_b'",
    "tags.\"x.y\" = '1'",
    "tags.`team` = 'search'",
    "attributes.status = 'FINISHED'",
    "attributes.status != 'FINISHED'",
    "attributes.run_name = 'c'",
    "attributes.run_name LIKE 'f%'",
    "params.opt = 'sgd' and tags.team = 'rank'",
    "metric.loss > -5 and param.lr = '0.1' and tag.team = 'rank'",
]
ORDERS = [
    [],
    ["metrics.loss"],
    ["metrics.loss DESC"],
    ["metrics.acc DESC", "metrics.loss ASC"],
    ["params.lr"],
    ["params.lr DESC"],
    ["tags.team"],
    ["attributes.run_name DESC"],
    ["attributes.start_time ASC"],
]


@pytest.fixture
def runs(api: Api) -> dict[str, str]:
    """The runs of RUNS in experiment 1, started a second apart; name to run id."""
    api.upload("p", "penguins", PENGUINS, target="sex")
    api.ok("POST", f"{BASE}/experiments/create", json={"name": "grid"})
    ids = {}
    for i, (name, params, tags, metrics, ending) in enumerate(RUNS):
        body = {
            "experiment_id": "1",
            "run_name": name,
            "start_time": 1_700_000_000_000 + 1000 * i,
            "tags": PROVENANCE + [{"key": k, "value": v} for k, v in tags.items()],
        }
        run_id = api.ok("POST", f"{BASE}/runs/create", json=body)["run"]["info"]["run_id"]
        points = [
            {"key": k, "value": v, "step": s, "timestamp": 5}
            for k, series in metrics.items()
            for s, v in series
        ]
        api.ok(
            "POST",
            f"{BASE}/runs/log-batch",
            json={
                "run_id": run_id,
                "params": [{"key": k, "value": v} for k, v in params.items()],
                "metrics": points,
            },
        )
        if ending:
            api.ok("POST", f"{BASE}/runs/update", json={"run_id": run_id, "status": ending})
        ids[name] = run_id
    return ids


def _search(api: Api, **body: Any) -> list[str]:
    out = api.ok("POST", f"{BASE}/runs/search", json={"experiment_ids": ["1"], **body})
    return [r["info"]["run_name"] for r in out.get("runs", [])]


def _filtered(runs: list[MlflowRun], text: str) -> list[MlflowRun]:
    """MLflow's own filter, then its default order."""
    return _ordered(SearchUtils.filter(runs, text), [])  # type: ignore[no-untyped-call]


def _ordered(runs: list[MlflowRun], order: list[str]) -> list[MlflowRun]:
    """MLflow's own order."""
    found: list[MlflowRun] = SearchUtils.sort(runs, order)  # type: ignore[no-untyped-call]
    return found


def _reference(api: Api, ids: dict[str, str]) -> list[MlflowRun]:
    parsed = []
    for run_id in ids.values():
        got = api.ok("GET", f"{BASE}/runs/get", params={"run_id": run_id})["run"]
        parsed.append(MlflowRun.from_proto(ParseDict(got, RunProto(), ignore_unknown_fields=True)))
    return parsed


def test_every_filter_matches_what_mlflow_matches(api: Api, runs: dict[str, str]) -> None:
    reference = _reference(api, runs)
    sizes = set()
    for text in FILTERS:
        expected = _filtered(reference, text)
        assert _search(api, filter=text) == [r.info.run_name for r in expected], text
        sizes.add(len(expected))
    assert len(sizes) >= 4  # the filters tell the runs apart: nothing passes by emptiness


def test_every_order_sorts_as_mlflow_sorts(api: Api, runs: dict[str, str]) -> None:
    reference = _reference(api, runs)
    for order in ORDERS:
        expected = [r.info.run_name for r in _ordered(reference, order)]
        assert _search(api, order_by=order) == expected, order


def test_pages_cover_the_results_once(api: Api, runs: dict[str, str]) -> None:
    seen, token = [], None
    while True:
        body: dict[str, Any] = {"experiment_ids": ["1"], "max_results": 4}
        if token:
            body["page_token"] = token
        out = api.ok("POST", f"{BASE}/runs/search", json=body)
        seen += [r["info"]["run_name"] for r in out["runs"]]
        token = out.get("next_page_token")
        if not token:
            break
    assert seen == _search(api)
    assert sorted(seen) == sorted(runs)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("metrics.loss < 1 OR metrics.loss > 2", "OR is not supported"),
        ("params.lr > '0.1'", "params.lr takes"),
        ("metrics.loss = 'x'", "compares with a number"),
        ("attributes.colour = 'red'", "unknown attribute 'colour'"),
        ("datasets.name = 'penguins'", "datasets is not supported"),
        ("metrics.loss <", "expected a value at the end"),
        ("loss.metrics < 1", "must start with metrics."),
    ],
)
def test_what_cannot_be_searched_is_a_400_that_says_why(api: Api, text: str, says: str) -> None:
    with pytest.raises(Exception, match=says):
        parse_filter(text)
    api.upload("p", "penguins", PENGUINS, target="sex")
    response = api.client.post(
        f"{BASE}/runs/search", json={"experiment_ids": ["0"], "filter": text}
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert says in response.json()["message"]
