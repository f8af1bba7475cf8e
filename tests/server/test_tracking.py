"""Outside training code logs into ModelLab with modellab.client over real HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from modellab.client import ApiError, Client
from modellab.settings import Settings
from tests.evalharness.conftest import _split, classify
from tests.server.conftest import seed_project

CODE = {"modellab_version": "outside", "git_commit": "0123abcd", "git_dirty": False}


def test_outside_code_logs_a_full_run(live: tuple[str, Settings], tmp_path: Path) -> None:
    url, settings = live
    seed_project(url)
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    split = _split(x, y, LogisticRegression(max_iter=2000))
    eval_dir = tmp_path / "eval"
    classify(split, eval_dir)  # the outside project's own EvalHarness report
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"\x00\x01" * 100)

    with Client(url) as client:
        run = client.start_run(
            "p", "penguins@1", name="my-gbm", seed=7, config={"depth": 6}, code_version=CODE
        )
        assert run.data["status"] == "running" and run.data["kind"] == "tracked"
        run.log_params({"optimizer": "adam", "layers": 3})
        for step in range(2500):  # three batches: 1000, 1000, and 500 at finish
            run.log_metric("loss", 1.0 / (step + 1), step)
        run.log_metrics({"val_acc": 0.9}, step=2499)
        stored = run.upload_file(weights, "model/weights.bin")
        assert stored == "files/model/weights.bin"
        attached = run.attach_eval(eval_dir)
        assert attached["metrics"]["primary_metric"]
        ended = run.finish()
    assert ended["status"] == "succeeded"
    assert ended["metrics"]["latest"]["loss"] == pytest.approx(1 / 2500)
    history = httpx.get(f"{url}/api/runs/{run.id}/metrics/loss").json()
    assert len(history) == 2500
    first = history[0]
    assert (first["key"], first["value"], first["step"]) == ("loss", 1.0, 0)
    # The client stamps each point with the time it was logged (ms since the epoch).
    assert abs(first["timestamp"] / 1000 - time.time()) < 600
    # What the run page charts: each logged key, its number of points and step range.
    assert httpx.get(f"{url}/api/runs/{run.id}/metrics").json() == [
        {"key": "loss", "points": 2500, "first_step": 0, "last_step": 2499},
        {"key": "val_acc", "points": 1, "first_step": 2499, "last_step": 2499},
    ]
    assert httpx.get(f"{url}/api/runs/{run.id}/params").json()["params"] == {
        "layers": "3",
        "optimizer": "adam",
    }
    # The same run page as a template run: eval report, files, filters.
    report = httpx.get(f"{url}/api/runs/{run.id}/eval").json()
    assert "metrics.json" in report["files"]
    # ModelLab holds no model of a tracked run to time.
    assert report["latency"]["measured"] is False
    assert "tracked run" in report["latency"]["reason"]
    files = {f["path"] for f in httpx.get(f"{url}/api/runs/{run.id}/artifacts").json()}
    assert {"files/model/weights.bin", "eval/eval_summary.json", "run.json"} <= files
    page = httpx.get(
        f"{url}/api/projects/p/runs", params={"metric": "loss", "metric_max": 0.001}
    ).json()
    assert [r["id"] for r in page["items"]] == [run.id]
    none = httpx.get(f"{url}/api/projects/p/runs", params={"metric": "loss", "metric_min": 0.5})
    assert none.json()["items"] == []
    folder = settings.artifact_root / "p" / run.id
    assert json.loads((folder / "run.json").read_text())["run"]["status"] == "succeeded"


def test_metric_points_are_kept_as_logged(live: tuple[str, Settings]) -> None:
    """What a training loop really logs: a loss that turns NaN, an infinite gradient norm,
    warm-up steps below zero, its own timestamps. Each comes back as it went in, on
    SQLite (which cannot store a NaN) as on PostgreSQL; a NaN matches no metric range."""
    url, _ = live
    seed_project(url)
    with Client(url) as client:
        run = client.start_run("p", "penguins@1", name="diverging", seed=1, code_version=CODE)
        sent = [(-2, 0.9, 1_700_000_000_000), (-1, 0.8, 1_700_000_000_500), (0, float("inf"), None)]
        for step, value, stamp in sent:
            run.log_metric("loss", value, step, timestamp=stamp)
        run.log_metric("loss", float("nan"), 1, timestamp=1_700_000_002_000)
        run.log_metric("grad_norm", float("-inf"), 1, timestamp=1_700_000_002_000)
        ended = run.finish()
    history = httpx.get(f"{url}/api/runs/{run.id}/metrics/loss").json()
    assert [(p["step"], p["value"]) for p in history] == [
        (-2, 0.9),
        (-1, 0.8),
        (0, "Infinity"),
        (1, "NaN"),
    ]
    assert history[0]["timestamp"] == 1_700_000_000_000
    assert history[1]["timestamp"] == 1_700_000_000_500
    assert history[2]["timestamp"] is not None  # stamped by the client when not given
    grad = httpx.get(f"{url}/api/runs/{run.id}/metrics/grad_norm").json()
    assert [p["value"] for p in grad] == ["-Infinity"]
    # The newest point of each metric, as logged: the loss ended as NaN.
    assert ended["metrics"]["latest"] == {"grad_norm": "-Infinity", "loss": "NaN"}
    runs = f"{url}/api/projects/p/runs"
    assert httpx.get(runs, params={"metric": "loss", "metric_min": -1e300}).json()["items"] == []
    found = httpx.get(runs, params={"metric": "grad_norm", "metric_max": 0}).json()["items"]
    assert [r["id"] for r in found] == [run.id]


def test_tags_are_set_again_where_params_are_set_once(live: tuple[str, Settings]) -> None:
    url, _ = live
    seed_project(url)
    with Client(url) as client:
        run = client.start_run("p", "penguins@1", name="tagged", seed=1, code_version=CODE)
        run.set_tags({"phase": "warm-up", "mlflow.user": "ada <ada@example.com>"})
        run.set_tags({"phase": "fine-tune"})  # a tag may change while the run is open
        with pytest.raises(ApiError) as too_long:
            run.set_tags({"notes": "x" * 8001})
        assert too_long.value.status == 400
        assert "8,001 characters, at most 8,000" in str(too_long.value)
        run.finish()
    tags = httpx.get(f"{url}/api/runs/{run.id}/tags").json()["tags"]
    assert tags == {"mlflow.user": "ada <ada@example.com>", "phase": "fine-tune"}


def test_a_stopped_script_ends_its_run_cancelled(live: tuple[str, Settings]) -> None:
    """A training script killed by its user (MLflow's KILLED) is cancelled, not failed;
    a status a run cannot end with is refused."""
    url, _ = live
    seed_project(url)
    with Client(url) as client:
        run = client.start_run("p", "penguins@1", name="stopped", seed=1, code_version=CODE)
        with pytest.raises(ApiError) as refused:
            run.finish("queued")
        assert refused.value.status == 400
        ended = run.finish("cancelled", "stopped with Ctrl-C")
    assert (ended["status"], ended["status_reason"]) == ("cancelled", "stopped with Ctrl-C")


def test_a_run_without_code_version_or_dataset_is_refused(live: tuple[str, Settings]) -> None:
    url, _ = live
    seed_project(url)
    with Client(url) as client:
        with pytest.raises(ApiError) as missing_commit:
            client.start_run(
                "p", "penguins", name="x", seed=0, code_version=CODE | {"git_commit": ""}
            )
        assert missing_commit.value.status == 400
        assert "git_commit" in missing_commit.value.problem["detail"]
        with pytest.raises(ApiError) as no_data:
            client.start_run("p", "nothing", name="x", seed=0, code_version=CODE)
        assert no_data.value.status == 404
        bad_seed = httpx.post(
            f"{url}/api/tracked-runs",
            json={"project": "p", "dataset": "penguins", "name": "x", "code_version": CODE},
        )
        assert bad_seed.status_code == 400 and "seed" in bad_seed.json()["detail"]


def test_a_broken_eval_folder_is_refused_with_its_violations(
    live: tuple[str, Settings], tmp_path: Path
) -> None:
    url, _ = live
    seed_project(url)
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    split = _split(x, y, LogisticRegression(max_iter=2000))
    eval_dir = tmp_path / "eval"
    classify(split, eval_dir)
    (eval_dir / "metrics.json").unlink()
    (eval_dir / "takeaway.txt").write_text("too short")
    with Client(url) as client:
        run = client.start_run("p", "penguins", name="x", seed=0, code_version=CODE)
        with pytest.raises(ApiError) as refused:
            run.attach_eval(eval_dir)
        problem: dict[str, Any] = refused.value.problem
        assert refused.value.status == 400
        assert problem["type"].endswith("/eval-contract-violation")
        messages = [e["message"] for e in problem["errors"]]
        assert any("metrics.json: missing" in m for m in messages)
        assert not (Path(str(client.run(run.id)["id"])) / "eval").exists()
        assert httpx.get(f"{url}/api/runs/{run.id}/eval").status_code == 404
        # Logs are for running runs only, and params are set once.
        run.log_params({"lr": 0.1})
        with pytest.raises(ApiError) as twice:
            run.log_params({"lr": 0.2})
        assert twice.value.status == 409
        run.finish("failed", "diverged")
        with pytest.raises(ApiError) as closed:
            run.log_params({"other": 1})
        assert closed.value.status == 409
        assert client.run(run.id)["status_reason"] == "diverged"


def test_artifact_names_cannot_escape_the_run(live: tuple[str, Settings], tmp_path: Path) -> None:
    url, settings = live
    seed_project(url)
    source = tmp_path / "f.txt"
    source.write_text("x")
    with Client(url) as client:
        run = client.start_run("p", "penguins", name="x", seed=0, code_version=CODE)
        for name in ("../escape.txt", "/abs.txt", "a/../../b", ".hidden", "a\\..\\b"):
            with pytest.raises(ApiError) as refused:
                run.upload_file(source, name)
            assert refused.value.status == 400, name
    assert not (settings.artifact_root / "p" / "escape.txt").exists()


def test_outside_code_sends_a_trec_run_and_the_server_evaluates_it(
    live: tuple[str, Settings], tmp_path: Path
) -> None:
    """RankForge's path: a tracked run on a stored collection uploads its TREC run and
    asks the server to evaluate it; a broken run file is a 400 naming the line."""
    from importlib.resources import files

    from click.testing import CliRunner

    from modellab.cli import cli

    url, settings = live
    httpx.post(f"{url}/api/projects", json={"name": "search"}).raise_for_status()
    env = {
        "MODELLAB_HOME": str(settings.home),
        "MODELLAB_ARTIFACT_ROOT": str(settings.artifact_root),
        "MODELLAB_DATABASE_URL": settings.database_url,
    }
    if settings.migration_database_url:
        env["MODELLAB_MIGRATION_DATABASE_URL"] = settings.migration_database_url
    vaswani = str(files("modellab_ranking.demo_data") / "vaswani")
    args = ["dataset", "add", "-p", "search", "-n", "npl", "--test-size", "0.5", vaswani]
    added = CliRunner().invoke(cli, args, env=env)
    assert added.exit_code == 0, added.output
    dataset = httpx.get(f"{url}/api/projects/search/datasets/npl").json()
    queries = [str(q) for q in range(1, 11)]
    run_file = tmp_path / "rankforge.run"
    run_file.write_text(
        "".join(
            f"{q} Q0 {d} {r} {10.0 - r} rf\n"
            for q in queries
            for r, d in enumerate(("1239", "1502", "4462", "4569", "5472"), start=1)
        )
    )
    broken = tmp_path / "broken.run"
    broken.write_text("1 Q0 1239 1 1.5 rf\n1 Q0 1502 2 nan rf\n")
    with Client(url) as client:
        run = client.start_run("search", "npl@1", name="rankforge", seed=1, code_version=CODE)
        run.upload_file(broken)
        with pytest.raises(ApiError) as refused:
            run.evaluate_file("broken.run")
        assert refused.value.status == 400
        assert "broken.run, line 2: score 'nan'" in str(refused.value)
        run.upload_file(run_file)
        evaluated = run.evaluate_file("rankforge.run")
        ended = run.finish()
    assert evaluated["metrics"]["primary_metric"] == "ndcg@10"
    assert ended["status"] == "succeeded"
    report = httpx.get(f"{url}/api/runs/{run.id}/eval").json()
    assert "ranking.json" in report["files"]
    assert dataset["task"] == "retrieval"
