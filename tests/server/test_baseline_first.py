"""Baseline-first is one request: the service queues both runs, and the candidate waits
on its baseline in the service (not in a client that may go away)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from modellab.runs.lifecycle import claim_run
from modellab.store.database import open_database
from tests.server.conftest import PENGUINS, Api, embedded
from tests.server.test_run_lifecycle import BODY

CANDIDATE = BODY | {"model": "xgboost", "n_bootstrap": 20, "with_baseline": True}


def _penguins(api: Api) -> None:
    api.upload("p", "penguins", PENGUINS, target="sex", split="stratified")


def _runs(api: Api) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in api.ok("GET", "/api/projects/p/runs")["items"]}


@pytest.fixture
def warm_api(api_factory: Callable[..., Api]) -> Api:
    """The embedded executor with its training processes started ahead, and project p."""
    a = api_factory(embedded(spares=2))
    a.ok("POST", "/api/projects", 201, json={"name": "p"})
    return a


def test_with_baseline_queues_the_baseline_and_a_candidate_that_waits(queued_api: Api) -> None:
    api = queued_api
    _penguins(api)
    cand = api.ok("POST", "/api/runs", 202, json=CANDIDATE)
    runs = _runs(api)
    assert len(runs) == 2
    base = runs[cand["waits_on"]]
    assert (base["model"], base["role"], base["waits_on"]) == (
        "logistic_regression",
        "baseline",
        None,
    )
    assert base["status"] == cand["status"] == "queued"
    # The baseline shares the candidate's seed, bootstrap count and options.
    assert (base["seed"], base["options"]["eval"]) == (0, {"n_bootstrap": 20})

    async def claims() -> tuple[bool, bool]:
        async with open_database(api.settings.database_url) as db:
            early = await claim_run(db, cand["id"])
            return early, await claim_run(db, base["id"])

    # The candidate cannot start before its baseline succeeded; the baseline can.
    assert asyncio.run(claims()) == (False, True)
    assert _runs(api)[cand["id"]]["status"] == "queued"


def test_the_candidate_trains_after_its_baseline_succeeded(warm_api: Api) -> None:
    api = warm_api
    _penguins(api)
    cand = api.ok("POST", "/api/runs", 202, json=CANDIDATE)
    ended = api.wait(cand["id"], timeout=120)
    base = api.ok("GET", f"/api/runs/{cand['waits_on']}")
    assert base["status"] == ended["status"] == "succeeded", ended["status_reason"]
    assert ended["started_at"] >= base["finished_at"]
    assert ended["metrics"]["baseline"]["name"] == "logistic_regression"
    # A baseline now exists: the next candidate queues alone and starts at once.
    again = api.ok("POST", "/api/runs", 202, json=CANDIDATE | {"seed": 1})
    assert again["waits_on"] is None
    assert api.wait(again["id"], timeout=120)["status"] == "succeeded"
    assert len(_runs(api)) == 3


def test_a_failed_baseline_fails_its_candidate_with_its_reason(warm_api: Api) -> None:
    api = warm_api
    _penguins(api)
    # The time limit applies to both runs: the baseline cannot finish in it.
    cand = api.ok("POST", "/api/runs", 202, json=CANDIDATE | {"timeout_seconds": 0.05})
    ended = api.wait(cand["id"], timeout=120)
    base = api.ok("GET", f"/api/runs/{cand['waits_on']}")
    assert base["status"] == "timed_out"
    assert ended["status"] == "failed"
    assert ended["status_reason"] == (
        f"its baseline run {base['id']} timed out: timed out after 0.05 s"
    )
    assert ended["started_at"] is None


def test_cancelling_a_queued_baseline_cancels_its_candidate(queued_api: Api) -> None:
    api = queued_api
    _penguins(api)
    cand = api.ok("POST", "/api/runs", 202, json=CANDIDATE)
    api.ok("POST", f"/api/runs/{cand['waits_on']}/cancel", 202)
    ended = api.ok("GET", f"/api/runs/{cand['id']}")
    assert ended["status"] == "cancelled"
    assert ended["status_reason"].startswith(f"its baseline run {cand['waits_on']} cancelled")


def test_a_second_candidate_waits_on_the_baseline_already_queued(queued_api: Api) -> None:
    api = queued_api
    _penguins(api)
    first = api.ok("POST", "/api/runs", 202, json=CANDIDATE)
    second = api.ok("POST", "/api/runs", 202, json=CANDIDATE | {"seed": 2})
    assert second["waits_on"] == first["waits_on"]
    assert len(_runs(api)) == 3


def test_a_bad_candidate_queues_no_baseline(queued_api: Api) -> None:
    api = queued_api
    _penguins(api)
    response = api.client.post("/api/runs", json=CANDIDATE | {"config": {"nope": 1}})
    assert response.status_code == 400
    assert "nope" in response.text
    assert _runs(api) == {}
    # A baseline asked for with_baseline is queued alone: it is its own reference.
    alone = api.ok("POST", "/api/runs", 202, json=CANDIDATE | {"model": "most_frequent"})
    assert alone["waits_on"] is None and len(_runs(api)) == 1
