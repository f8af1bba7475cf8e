"""A training script as an MLflow user writes it, run by the real `mlflow` client.

tests/mlflow/test_client.py runs it with mlflow 3.x (this project's dev dependency) and
with mlflow 2.x (a venv of its own), with MLFLOW_TRACKING_URI pointing at ModelLab's
MLflow endpoint. It prints one JSON document: what it logged, what it read back, and
every HTTP answer the client got (retries are off, so a 5xx would show here).

    python mlflow_script.py OUT.json FILES_DIR
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import requests
from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.exceptions import MlflowException

answers: list[tuple[str, str, int]] = []
_send = requests.Session.send


def _recording_send(
    self: requests.Session, request: requests.PreparedRequest, **kw: Any
) -> requests.Response:
    response = _send(self, request, **kw)
    answers.append((str(request.method), str(request.url), response.status_code))
    return response


requests.Session.send = _recording_send  # type: ignore[method-assign]


def refused(call: Callable[[], object]) -> dict[str, str]:
    """The error code and message of a call that must fail."""
    try:
        call()
    except MlflowException as exc:
        return {"error_code": exc.error_code, "message": exc.message}
    raise AssertionError("the call was not refused")


def main() -> None:
    out, files = Path(sys.argv[1]), Path(sys.argv[2])
    client = mlflow.MlflowClient()
    result: dict[str, object] = {"version": mlflow.__version__}

    mlflow.set_experiment("penguins-sweep")
    with mlflow.start_run(run_name="sgd") as run:
        run_id = run.info.run_id
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"depth": 3, "optimizer": "sgd"})
        for step in range(5):
            mlflow.log_metric(
                "loss", 1.0 / (step + 1), step=step, timestamp=1_700_000_000_000 + step
            )
        mlflow.log_metrics({"acc": 0.9, "diverged": float("nan"), "grad": float("inf")}, step=2)
        mlflow.log_metric("warmup", -0.5, step=-3)
        mlflow.set_tag("team", "search")
        mlflow.set_tags({"team": "ranking", "stage": "try"})
        mlflow.log_artifact(str(files / "notes.txt"))
        mlflow.log_artifacts(str(files / "plots"), artifact_path="plots")
        dataset = Dataset(
            name="penguins", digest="abc123", source_type="local", source='{"uri": "penguins.csv"}'
        )
        client.log_inputs(
            run_id, datasets=[DatasetInput(dataset, [InputTag("mlflow.data.context", "train")])]
        )
        result["history"] = [
            [m.step, m.value, m.timestamp] for m in client.get_metric_history(run_id, "loss")
        ]
        result["listed"] = sorted(f.path for f in client.list_artifacts(run_id))
        result["listed_plots"] = sorted(f.path for f in client.list_artifacts(run_id, "plots"))
        local = client.download_artifacts(run_id, "notes.txt", str(out.parent))
        result["downloaded"] = Path(local).read_text()
        result["param_changed"] = refused(lambda: mlflow.log_param("lr", 0.2))
    result["run_id"] = run_id
    got = client.get_run(run_id)
    result["status"] = got.info.status
    result["experiment_id"] = got.info.experiment_id
    result["metrics"] = {k: repr(v) for k, v in got.data.metrics.items()}
    assert got.inputs is not None
    result["inputs"] = [d.dataset.name for d in got.inputs.dataset_inputs]
    result["source_commit"] = got.data.tags.get("mlflow.source.git.commit")

    with mlflow.start_run(run_name="stopped") as stopped:
        mlflow.log_metric("loss", 2.0, step=0)
        mlflow.end_run(status="KILLED")
    result["stopped_id"] = stopped.info.run_id
    result["stopped_status"] = client.get_run(stopped.info.run_id).info.status

    with mlflow.start_run(experiment_id="0", run_name="in-default") as default:
        mlflow.log_metric("loss", 3.0)
    result["default_experiment"] = client.get_run(default.info.run_id).info.experiment_id

    experiment = client.get_experiment_by_name("penguins-sweep")
    assert experiment is not None
    ids = [experiment.experiment_id]
    result["search_loss"] = [r.info.run_name for r in client.search_runs(ids, "metrics.loss < 1")]
    result["search_order"] = [
        r.info.run_name for r in client.search_runs(ids, order_by=["metrics.loss DESC"])
    ]
    result["search_text"] = [
        r.info.run_name
        for r in client.search_runs(ids, "params.optimizer = 'sgd' and tags.team LIKE 'rank%'")
    ]
    first = client.search_runs(ids, max_results=1)
    second = client.search_runs(ids, max_results=1, page_token=first.token)
    result["search_pages"] = [
        [r.info.run_name for r in first],
        [r.info.run_name for r in second],
        second.token,
    ]
    result["bad_filter"] = refused(lambda: client.search_runs(ids, "metrics.loss ~ 1"))

    # A run whose script says nothing of its dataset or seed is refused at start_run.
    context = os.environ.pop("MLFLOW_RUN_CONTEXT")
    result["no_provenance"] = refused(lambda: mlflow.start_run(run_name="bare"))
    os.environ["MLFLOW_RUN_CONTEXT"] = context
    result["answers"] = answers
    out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
