"""`modellab import mlflow` of an mlruns/ folder the real client wrote: each run once,
histories, params, tags, files, inputs and times intact, nested runs nested, and what
cannot be imported listed."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric
from mlflow.tracking import MlflowClient

from modellab.mlflow.runs import get_run
from modellab.runs.tracking import metric_history, run_params, run_tags
from modellab.settings import Settings
from modellab.store.database import open_database
from tests.conftest import REPO, Env

COMMIT = {"mlflow.source.git.commit": "0123abcd"}


def _write_mlruns(root: Path, files: Path) -> dict[str, str]:
    """An mlruns/ folder, written by MLflow's own file store; name to source run id."""
    client = MlflowClient(tracking_uri=root.as_uri())
    sweep = client.create_experiment("sweep")
    ids: dict[str, str] = {}

    def run(name: str, experiment: str = sweep, **tags: str) -> str:
        made = client.create_run(
            experiment, run_name=name, tags=tags, start_time=1_700_000_000_000 + len(ids)
        )
        ids[name] = str(made.info.run_id)
        return ids[name]

    parent = run("parent", **{"modellab.dataset": "penguins@1", **COMMIT})
    client.log_param(parent, "seed", "3")
    client.log_param(parent, "layers/first", "64")  # a key with a slash: a nested file
    client.log_batch(
        parent,
        metrics=[Metric("loss", 1 / (s + 1), 1_700_000_100_000 + s, s) for s in range(5)]
        + [Metric("loss", float("nan"), 1_700_000_100_009, 5), Metric("warmup", -1.0, 7, -2)],
    )
    client.log_artifact(parent, str(files / "notes.txt"))
    client.log_artifacts(parent, str(files / "plots"), "plots")
    dataset = Dataset("penguins", "abc123", "local", '{"uri": "penguins.csv"}')
    client.log_inputs(
        parent, datasets=[DatasetInput(dataset, [InputTag("mlflow.data.context", "train")])]
    )
    client.set_terminated(parent, end_time=1_700_000_200_000)

    child = run("child", **{"mlflow.parentRunId": parent, "modellab.seed": "4", **COMMIT})
    client.log_metric(child, "acc", 0.75, step=1, timestamp=11)
    client.set_terminated(child, "KILLED", end_time=1_700_000_300_000)

    lost = run("lost-files", **{"modellab.seed": "5", **COMMIT})
    client.log_artifact(lost, str(files / "notes.txt"))
    client.set_terminated(lost, "FAILED")
    shutil.rmtree(Path(client.get_run(lost).info.artifact_uri.removeprefix("file://")))

    bare = run("no-commit", **{"modellab.seed": "6"})
    client.set_terminated(bare)
    run("still-running", **{"modellab.seed": "7", **COMMIT})
    broken = run("no-meta", **{"modellab.seed": "8", **COMMIT})
    client.set_terminated(broken)
    (root / sweep / broken / "meta.yaml").unlink()
    in_default = run("default", "0", **{"modellab.seed": "9", **COMMIT})
    client.set_terminated(in_default)
    return ids


@pytest.fixture
def mlruns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # mlflow 3 keeps it on request
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    files = tmp_path / "files"
    (files / "plots").mkdir(parents=True)
    (files / "notes.txt").write_text("the first sweep\n")
    (files / "plots" / "loss.svg").write_text("<svg/>")
    root = tmp_path / "mlruns"
    return root, _write_mlruns(root, files)


def _add_penguins(ml: Env) -> None:
    ml.run(
        "dataset",
        "add",
        "-p",
        "p",
        "-n",
        "penguins",
        "--target",
        "sex",
        str(REPO / "core" / "demo_data" / "penguins.csv"),
    )


def stored_run(run_id: str, project: str = "p") -> dict[str, Any]:
    """What ModelLab holds of a run, read through its own service functions."""

    async def read() -> dict[str, Any]:
        settings = Settings.from_env()
        async with open_database(settings.database_url) as db:
            view = await get_run(db, project, run_id)
            keys = sorted({m.key for m in view.data.metrics})
            return {
                "view": view,
                "params": await run_params(db, run_id),
                "tags": await run_tags(db, run_id),
                "history": {k: await metric_history(db, run_id, k) for k in keys},
            }

    return asyncio.run(read())


def test_an_mlruns_folder_imports_once_with_its_history(
    ml: Env, mlruns: tuple[Path, dict[str, str]]
) -> None:
    root, ids = mlruns
    _add_penguins(ml)
    args = [
        "import",
        "mlflow",
        str(root),
        "-p",
        "p",
        "--dataset",
        "penguins@1",
        "--seed-param",
        "seed",
    ]
    first = ml.json(*args)
    made = {i["source_run_id"]: i for i in first["imported"]}
    assert set(made) == {ids[n] for n in ("parent", "child", "lost-files", "default")}
    skipped = {s["what"]: s["reason"] for s in first["skipped"]}
    assert any(ids["no-commit"] in w and "needs a commit" in r for w, r in skipped.items())
    assert any(ids["still-running"] in w and "still RUNNING" in r for w, r in skipped.items())
    assert any(w.endswith(ids["no-meta"]) and "no meta.yaml" in r for w, r in skipped.items())
    assert "artifact folder is missing" in made[ids["lost-files"]]["note"]

    # Everything the MLflow client reads from its store, ModelLab holds.
    reference = MlflowClient(tracking_uri=root.as_uri())
    parent = made[ids["parent"]]["run_id"]
    stored = stored_run(parent)
    source = reference.get_run(ids["parent"])
    assert stored["params"] == dict(source.data.params)
    assert {k: v for k, v in stored["tags"].items() if not k.startswith("modellab.")} == {
        k: v
        for k, v in source.data.tags.items()
        if not k.startswith("modellab.") and k != "mlflow.runName"
    }
    assert stored["tags"]["modellab.dataset"] == "penguins@1"
    assert stored["tags"]["modellab.seed"] == "3"  # from --seed-param seed
    for key in ("loss", "warmup"):
        expected = [
            (m.step, repr(m.value), m.timestamp)
            for m in reference.get_metric_history(ids["parent"], key)
        ]
        got = [(p.step, repr(float(p.value)), p.timestamp) for p in stored["history"][key]]
        assert sorted(got) == sorted(expected), key
    info = stored["view"].info
    assert (info.start_time, info.end_time) == (source.info.start_time, source.info.end_time)
    assert info.status == "FINISHED" and info.run_name == "parent"
    assert [d["dataset"]["digest"] for d in stored["view"].inputs.dataset_inputs] == ["abc123"]
    folder = ml.artifacts / "p" / parent / "files"
    for rel in ("notes.txt", "plots/loss.svg"):
        source_file = Path(source.info.artifact_uri.removeprefix("file://")) / rel
        assert (
            hashlib.sha256((folder / rel).read_bytes()).digest()
            == hashlib.sha256(source_file.read_bytes()).digest()
        )

    child = stored_run(made[ids["child"]]["run_id"])
    assert child["tags"]["mlflow.parentRunId"] == parent  # nested under the new parent
    assert child["view"].info.status == "KILLED"
    assert child["view"].info.experiment_id == stored["view"].info.experiment_id
    assert stored_run(made[ids["default"]]["run_id"])["view"].info.experiment_id == "0"

    # Again: nothing new, every run found where the first import put it.
    second = ml.json(*args)
    assert second["imported"] == []
    assert {i["source_run_id"]: i["run_id"] for i in second["already"]} == {
        k: v["run_id"] for k, v in made.items()
    }
    listed = ml.json("runs", "-p", "p")
    assert len(listed) == 4
    text = ml.run(*args[:-4]).output  # no flags: the summary says what is missing
    assert "already imported" in text and "skipped" in text


def test_the_mlflow_client_path_imports_the_same_runs(
    ml: Env, mlruns: tuple[Path, dict[str, str]]
) -> None:
    root, ids = mlruns
    _add_penguins(ml)
    report = ml.json(
        "import",
        "mlflow",
        root.as_uri(),
        "-p",
        "p",
        "--dataset",
        "penguins@1",
        "--seed-param",
        "seed",
    )
    made = {i["source_run_id"]: i for i in report["imported"]}
    # The client lists only readable, ended... and running runs; the broken folder it skips itself.
    assert {ids[n] for n in ("parent", "child", "lost-files", "default")} <= set(made)
    parent = stored_run(made[ids["parent"]]["run_id"])
    assert [(p.step, p.timestamp) for p in parent["history"]["loss"]] == [
        (s, 1_700_000_100_000 + s) for s in range(5)
    ] + [(5, 1_700_000_100_009)]
    assert parent["view"].info.end_time == 1_700_000_200_000
    assert made[ids["parent"]]["files"] == 2


def test_a_missing_folder_is_a_clear_error(ml: Env, tmp_path: Path) -> None:
    result = ml.run("import", "mlflow", str(tmp_path / "nowhere"), "-p", "p", ok=False)
    assert result.exit_code == 2
    assert "no such folder" in result.output


def test_a_run_that_fails_half_way_leaves_nothing(
    ml: Env, mlruns: tuple[Path, dict[str, str]]
) -> None:
    """A file ModelLab refuses (a hidden name) stops that run's import after its row and
    logs were stored: all of it goes again, and the report names the file."""
    root, ids = mlruns
    _add_penguins(ml)
    source = MlflowClient(tracking_uri=root.as_uri()).get_run(ids["parent"])
    (Path(source.info.artifact_uri.removeprefix("file://")) / ".env").write_text("SECRET=1\n")
    args = ["import", "mlflow", str(root), "-p", "p", "--dataset", "penguins@1"]
    report = ml.json(*args, "--seed-param", "seed")
    reasons = [s["reason"] for s in report["skipped"] if ids["parent"] in s["what"]]
    assert len(reasons) == 1 and ".env" in reasons[0]
    assert ids["parent"] not in {i["source_run_id"] for i in report["imported"]}
    assert len(ml.json("runs", "-p", "p")) == 3  # child, lost-files, default
    folders = {p.name for p in (ml.artifacts / "p").iterdir()} - {"datasets"}
    assert folders == {i["run_id"] for i in report["imported"]}
