"""The JSON API end to end: real child processes train, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.conftest import PENGUINS, Api

PROBLEM = "application/problem+json"


def _upload_penguins(api: Api) -> dict[str, Any]:
    result: dict[str, Any] = api.upload(
        "p", "penguins", PENGUINS, target="sex", split="stratified", seed="0"
    )
    return result


# SQLite only: training on PostgreSQL (under row-level security) is walked end to end by
# test_postgres_flow.py and the worker tests; this loop is the slowest test there is.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_train_evaluate_compare_through_the_api(api: Api) -> None:
    version = _upload_penguins(api)
    assert version["version"] == 1
    assert version["target"] == "sex" and version["split"]["strategy"] == "stratified"
    # The same bytes again: the same version, nothing new stored.
    again = _upload_penguins(api)
    assert again["id"] == version["id"]
    assert [v["id"] for v in api.ok("GET", "/api/projects/p/datasets")] == [version["id"]]
    assert api.ok("GET", "/api/projects/p/datasets/penguins/versions/1")["id"] == version["id"]

    body = {"project": "p", "dataset": "penguins", "template": "tabular-classification"}
    baseline = api.ok("POST", "/api/runs", 202, json=body | {"model": "logistic_regression"})
    assert baseline["status"] == "queued"
    done = api.wait(baseline["id"])
    assert done["status"] == "succeeded", done["status_reason"]
    assert done["metrics"]["headline"]
    candidate = api.ok(
        "POST",
        "/api/runs",
        202,
        json=body | {"model": "xgboost", "config": {"n_estimators": 50}},
    )
    cand = api.wait(candidate["id"])
    assert cand["status"] == "succeeded", cand["status_reason"]
    assert cand["config"]["n_estimators"] == 50

    page = api.ok("GET", "/api/projects/p/runs")
    assert [r["id"] for r in page["items"]] == [cand["id"], done["id"]]
    report = api.ok("GET", f"/api/runs/{cand['id']}/eval")
    assert "metrics.json" in report["files"] and "eval_summary.json" in report["files"]
    assert report["files"]["metrics.json"]["baseline"] is not None
    assert len(report["takeaway"].strip().splitlines()) == 5
    # Inference latency comes from latency.json beside eval/, not from the eval folder.
    latency = report["latency"]
    assert latency["measured"] is True and 0 < latency["p50_ms"] <= latency["p95_ms"]
    assert latency["batch_size"] > 0 and latency["device"] == "cpu"
    assert report["files"]["eval_summary.json"]["latency"] == "../latency.json"

    files = {f["path"]: f for f in api.ok("GET", f"/api/runs/{cand['id']}/artifacts")}
    assert {"run.json", "config.json", "logs.txt", "eval/metrics.json"} <= set(files)
    plot = next(p for p in files if p.endswith(".png"))
    response = api.client.get(f"/api/runs/{cand['id']}/artifacts/{plot}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-disposition"].startswith("inline")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    response = api.client.get(f"/api/runs/{cand['id']}/artifacts/eval/metrics.json")
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json()["baseline"] is not None

    logs = api.client.get(f"/api/runs/{cand['id']}/logs")
    assert "timing:" in logs.text and int(logs.headers["x-next-offset"]) == len(logs.content)
    stream = api.client.get(f"/api/runs/{cand['id']}/logs/stream")
    assert "event: log" in stream.text and "timing:" in stream.text

    diff = api.ok("GET", "/api/compare", params={"a": done["id"], "b": cand["id"]})
    assert diff["like_for_like"] is True and diff["metrics"]
    assert diff["latency"]["b"] == latency and diff["latency"]["a"]["measured"] is True
    assert diff["plots"] and "folder" not in diff
    drawn = api.client.get(
        f"/api/compare/{diff['plots'][0]}", params={"a": done["id"], "b": cand["id"]}
    )
    assert drawn.status_code == 200 and drawn.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert drawn.headers["content-disposition"].startswith("inline")
    assert "default-src 'none'" in drawn.headers["content-security-policy"]
    # A read of a comparison writes nothing into a run folder.
    assert not (api.settings.artifact_root / "p" / cand["id"] / "compare").exists()
    noted = api.ok("POST", f"/api/runs/{cand['id']}/notes", 201, json={"text": "deeper trees won"})
    assert noted["notes"][-1]["text"] == "deeper trees won"

    pack = api.client.get(f"/api/runs/{cand['id']}/repro")
    assert pack.status_code == 200 and pack.content[:2] == b"\x1f\x8b"


def test_errors_are_problem_documents(queued_api: Api) -> None:
    api = queued_api
    dup = api.client.post("/api/projects", json={"name": "p"})
    assert dup.status_code == 409
    assert dup.headers["content-type"].startswith(PROBLEM)
    assert dup.json()["type"].endswith("/conflict") and "p" in dup.json()["detail"]

    bad = api.client.post("/api/projects", json={"nme": "x"})
    assert bad.status_code == 400 and bad.json()["type"].endswith("/invalid-input")
    assert "nme" in bad.json()["detail"] or "name" in bad.json()["detail"]

    missing = api.client.get("/api/runs/0190aaaa-0000-7000-8000-000000000000")
    assert missing.status_code == 404 and missing.json()["type"].endswith("/not-found")
    assert api.client.get("/api/nothing-here").json()["type"].endswith("/not-found")

    unknown = api.client.post(
        "/api/runs",
        json={
            "project": "p",
            "dataset": "nope",
            "template": "tabular-classification",
            "model": "x",
        },
    )
    assert unknown.status_code in (400, 404) and unknown.json()["detail"]
    bad_cursor = api.client.get("/api/projects/p/runs", params={"cursor": "!!"})
    assert bad_cursor.status_code == 400 and "cursor" in bad_cursor.json()["detail"]


def test_a_bad_upload_leaves_nothing_behind(queued_api: Api) -> None:
    api = queued_api
    response = api.client.post(
        "/api/projects/p/datasets",
        files={"file": ("bad.csv", b"a,b\n1,2\n3\n", "text/csv")},
        data={"name": "bad", "target": "b"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/invalid-input")
    assert "line" in response.json()["detail"] or "row" in response.json()["detail"]
    # The file is named as it was sent, never by this server's scratch path.
    assert response.json()["detail"].startswith("bad.csv")
    assert str(api.settings.home) not in response.json()["detail"]
    assert api.ok("GET", "/api/projects/p/datasets") == []
    stored = [p for p in api.settings.artifact_root.rglob("*") if p.is_file()]
    assert stored == []
    assert not any((api.settings.home / "uploads").rglob("*.csv"))

    wrong = api.client.post(
        "/api/projects/p/datasets",
        files={"file": ("evil.exe", b"MZ", "application/octet-stream")},
        data={"name": "x", "target": "y"},
    )
    assert wrong.status_code == 400 and ".csv" in wrong.json()["detail"]


def test_uploads_over_the_limit_are_refused_with_413(api_factory: Any) -> None:
    from tests.server.conftest import QueueOnly

    api = api_factory(QueueOnly, max_upload_bytes=2048)
    api.ok("POST", "/api/projects", 201, json={"name": "p"})
    big = b"a,b\n" + b"1,2\n" * 300_000  # 1.2 MB: over the limit plus the form allowance
    response = api.client.post(
        "/api/projects/p/datasets",
        files={"file": ("big.csv", big, "text/csv")},
        data={"name": "big", "target": "b"},
    )
    assert response.status_code == 413
    assert response.json()["type"].endswith("/too-large")
    medium = b"a,b\n" + b"1,2\n" * 1000  # under the body allowance, over the file limit
    response = api.client.post(
        "/api/projects/p/datasets",
        files={"file": ("medium.csv", medium, "text/csv")},
        data={"name": "medium", "target": "b"},
    )
    assert response.status_code == 413 and "MODELLAB_MAX_UPLOAD_MB" in response.json()["detail"]
    assert [p for p in api.settings.artifact_root.rglob("*") if p.is_file()] == []


def test_keyset_pagination_and_filters(queued_api: Api) -> None:
    api = queued_api
    _upload_penguins(api)
    ids = []
    for seed in range(5):
        body = {
            "project": "p",
            "dataset": "penguins",
            "template": "tabular-classification",
            "model": "most_frequent" if seed % 2 else "logistic_regression",
            "seed": seed,
        }
        ids.append(api.ok("POST", "/api/runs", 202, json=body)["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.ok("GET", "/api/projects/p/runs", params=params)
        assert len(page["items"]) <= 2
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    only = api.ok("GET", "/api/projects/p/runs", params={"model": "most_frequent"})
    assert [r["id"] for r in only["items"]] == [ids[3], ids[1]]
    queued = api.ok("GET", "/api/projects/p/runs", params={"status": "queued", "limit": 1})
    assert len(queued["items"]) == 1 and queued["next_cursor"]
    assert api.ok("GET", "/api/projects/p/runs", params={"status": "failed"})["items"] == []


def test_cancel_a_queued_run(queued_api: Api) -> None:
    api = queued_api
    _upload_penguins(api)
    run = api.ok(
        "POST",
        "/api/runs",
        202,
        json={
            "project": "p",
            "dataset": "penguins",
            "template": "tabular-classification",
            "model": "most_frequent",
        },
    )
    cancelled = api.ok("POST", f"/api/runs/{run['id']}/cancel", 202)
    assert cancelled["status"] == "cancelled"
    # The run folder's run.json says so too, as for a run that ended any other way.
    written = api.client.get(f"/api/runs/{run['id']}/artifacts/run.json").json()["run"]
    assert (written["status"], written["status_reason"]) == (
        "cancelled",
        "cancelled before it started",
    )
    again = api.client.post(f"/api/runs/{run['id']}/cancel")
    assert again.status_code == 409 and again.json()["type"].endswith("/conflict")


def test_plugins_describe_each_models_config(queued_api: Api) -> None:
    out = queued_api.ok("GET", "/api/plugins")
    names = {p["name"] for p in out["plugins"]}
    assert {"classification", "regression"} <= names
    template = next(t for t in out["templates"] if t["name"] == "tabular-classification")
    xgb = next(m for m in template["models"] if m["name"] == "xgboost")
    assert xgb["role"] == "candidate"
    schema = xgb["config_schema"]
    props = schema["$defs"][schema["$ref"].rsplit("/", 1)[-1]]["properties"]
    assert props["n_estimators"]["default"] == 400
    # Each field says what it does, for the UI's form.
    assert all(p.get("description") for p in props.values()), props
    # The baseline the UI's "baseline first" trains is the CLI's --with-baseline one.
    assert template["reference_baseline"] == "logistic_regression"
    assert queued_api.ok("GET", "/api/health")["status"] == "ok"


def test_openapi_schema_is_served(queued_api: Api) -> None:
    schema = queued_api.ok("GET", "/schema/openapi.json")
    assert "/api/runs" in schema["paths"] and "/api/projects/{slug}/runs" in schema["paths"]


def test_column_roles_and_rule_thresholds_through_the_api(queued_api: Api) -> None:
    queued_api.ok("POST", "/api/projects", 201, json={"name": "roles"})
    version = queued_api.upload("roles", "penguins", PENGUINS, target="sex", exclude="island, year")
    assert "island" not in version["feature_columns"] and "year" not in version["feature_columns"]
    reasons = {c["name"]: c["excluded_reason"] for c in version["schema"]}
    assert "--exclude" in reasons["island"]
    only = queued_api.upload(
        "roles", "two", PENGUINS, target="sex", features="bill_length_mm,bill_depth_mm"
    )
    assert only["feature_columns"] == ["bill_length_mm", "bill_depth_mm"]
    # The settings a run may change, with their defaults, for clients' forms.
    listed = {s["name"]: s for s in queued_api.ok("GET", "/api/plugins")["eval_settings"]}
    assert listed["duplicate_excess_error"]["default"] == 0.05
    assert listed["min_slice_size"]["default"] is None
    body = {
        "project": "roles",
        "dataset": "penguins",
        "template": "tabular-classification",
        "model": "logistic_regression",
        "exclude": ["flipper_length_mm"],
        "eval": {"min_slice_size": 12, "duplicate_excess_error": 0.1},
    }
    run = queued_api.ok("POST", "/api/runs", 202, json=body)
    assert run["options"] == {
        "eval": {"duplicate_excess_error": 0.1, "min_slice_size": 12},
        "exclude": ["flipper_length_mm"],
        "features": None,
    }
    refused = queued_api.client.post("/api/runs", json={**body, "eval": {"nope": 1}})
    assert refused.status_code == 400 and "unknown evaluation setting 'nope'" in refused.text
    again = queued_api.client.post("/api/runs", json={**body, "exclude": ["island"]})
    assert again.status_code == 202  # left out already: excluding it again changes nothing
    refused = queued_api.client.post("/api/runs", json={**body, "exclude": ["nope"]})
    assert refused.status_code == 400 and "column 'nope' is not in dataset" in refused.text
