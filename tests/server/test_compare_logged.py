"""``GET /api/compare`` of two tracked runs without eval reports: 200, what they logged.

The runs and the checks are those of tests/runs/test_compare_logged.py (the service and
the CLI): the API answers the same document.
"""

from __future__ import annotations

from typing import Any

from tests.runs.test_compare_logged import LOGS, check_logged, points
from tests.server.conftest import PENGUINS, Api


def _log_run(api: Api, log: dict[str, Any]) -> str:
    """One tracked run over HTTP, as the client logs it: no eval report."""
    code = {"modellab_version": "outside", "git_commit": log["commit"], "git_dirty": False}
    body = {"project": "p", "dataset": "penguins@1", "name": log["name"], "seed": log["seed"]}
    run_id: str = api.ok(
        "POST",
        "/api/tracked-runs",
        201,
        json=body | {"code_version": code, "params": log["params"]},
    )["id"]
    metrics = [{"key": p.key, "value": p.value, "step": p.step} for p in points(log)]
    api.ok("POST", f"/api/runs/{run_id}/log", json={"metrics": metrics, "tags": log["tags"]})
    api.ok(
        "POST",
        f"/api/runs/{run_id}/files",
        201,
        files={"file": ("w.bin", log["name"].encode())},
        data={"path": "weights.bin"},
    )
    api.ok("POST", f"/api/runs/{run_id}/finish", json={"status": "succeeded"})
    return run_id


def test_the_api_compares_tracked_runs_without_eval_reports(api: Api) -> None:
    api.upload("p", "penguins", PENGUINS, target="sex", split="stratified", seed="0")
    a, b = (_log_run(api, log) for log in LOGS)
    histories = {
        key: [api.ok("GET", f"/api/runs/{run}/metrics/{key}")[-1]["value"] for run in (a, b)]
        for key in ("loss", "val_acc")
    }
    doc = api.ok("GET", "/api/compare", params={"a": a, "b": b})
    check_logged(doc, a, b, histories)
    # No report plots in common: a plot of this comparison is not found, not a 500.
    missing = api.client.get("/api/compare/plots/roc_curve.png", params={"a": a, "b": b})
    assert missing.status_code == 404
    # A read writes nothing into a run folder.
    assert not (api.settings.artifact_root / "p" / b / "compare").exists()
