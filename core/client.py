"""A small Python client of the tracking API, for training code outside ModelLab.

    from modellab.client import Client

    client = Client("http://127.0.0.1:8000")
    run = client.start_run("churn", "customers@2", name="my-gbm", seed=7, config={"depth": 6})
    run.log_params({"optimizer": "adam"})
    for step, loss in enumerate(losses):
        run.log_metric("loss", loss, step)   # buffered, sent in batches
    run.attach_eval("out/eval")              # an EvalHarness folder, checked by the server
    run.finish()

Errors from the server raise :class:`ApiError` carrying the problem document.
"""

from __future__ import annotations

import io
import os
import platform
import subprocess
import tarfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from modellab import __version__
from modellab.nonfinite import as_logged

BATCH = 1000


class ApiError(Exception):
    """The server refused a request; ``problem`` is its RFC 9457 problem document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status}: {problem.get('detail', problem)}")
        self.status = status
        self.problem = problem


def current_code_version(repo: Path | None = None) -> dict[str, Any]:
    """The git commit and dirty flag of ``repo`` (default: the working directory)."""
    where = str(repo or Path.cwd())

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", where, *args], capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        return out.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain")
    return {
        "modellab_version": __version__,
        "git_commit": commit,
        "git_dirty": bool(status),
    }


class TrackedRun:
    """A running tracked run; metric points are buffered and sent in batches."""

    def __init__(self, client: Client, run: dict[str, Any]) -> None:
        self.client = client
        self.id: str = run["id"]
        self.data = run
        self._points: list[dict[str, Any]] = []

    def log_params(self, params: dict[str, str | int | float | bool]) -> None:
        """Set params (each once)."""
        self.client.request("POST", f"/api/runs/{self.id}/log", json={"params": params})

    def set_tags(self, tags: dict[str, str]) -> None:
        """Set tags; a key set before gets the new value."""
        self.client.request("POST", f"/api/runs/{self.id}/log", json={"tags": tags})

    def log_metric(
        self, key: str, value: float, step: int = 0, timestamp: int | None = None
    ) -> None:
        """Buffer one metric point (``timestamp``: ms since the epoch, default now); a
        full buffer is sent at once. NaN and infinities are kept as they are."""
        when = int(time.time() * 1000) if timestamp is None else int(timestamp)
        sent = as_logged(float(value))  # JSON has no NaN or infinity: sent as strings
        self._points.append({"key": key, "value": sent, "step": int(step), "timestamp": when})
        if len(self._points) >= BATCH:
            self.flush()

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        """Buffer several metrics at one step."""
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def flush(self) -> None:
        """Send the buffered metric points in one batch."""
        if self._points:
            points, self._points = self._points, []
            self.client.request("POST", f"/api/runs/{self.id}/log", json={"metrics": points})

    def upload_file(self, path: Path | str, name: str | None = None) -> str:
        """Upload a file; it is kept under ``files/<name>`` in the run's folder."""
        source = Path(path)
        with source.open("rb") as f:
            out = self.client.request(
                "POST",
                f"/api/runs/{self.id}/files",
                files={"file": (source.name, f, "application/octet-stream")},
                data={"path": name or source.name},
            )
        return str(out["path"])

    def attach_eval(self, folder: Path | str) -> dict[str, Any]:
        """Send an EvalHarness folder; the server checks it against the contract."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(str(folder), arcname="eval")
        buffer.seek(0)
        out: dict[str, Any] = self.client.request(
            "POST",
            f"/api/runs/{self.id}/eval",
            files={"file": ("eval.tar.gz", buffer, "application/gzip")},
        )
        return out

    def evaluate_file(self, name: str) -> dict[str, Any]:
        """Evaluate an uploaded output file (``upload_file``'s ``name``: a TREC run of a
        retrieval collection) as the run's report; the server reads and checks it."""
        out: dict[str, Any] = self.client.request(
            "POST", f"/api/runs/{self.id}/evaluate-file", json={"path": name}
        )
        return out

    def finish(self, status: str = "succeeded", reason: str | None = None) -> dict[str, Any]:
        """Flush what is buffered and end the run."""
        self.flush()
        out: dict[str, Any] = self.client.request(
            "POST", f"/api/runs/{self.id}/finish", json={"status": status, "reason": reason}
        )
        self.data = out
        return out

    def __enter__(self) -> TrackedRun:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.finish()
        else:
            self.finish("failed", f"{kind.__name__}: {exc}")


class Client:
    """The ModelLab API at ``url``, as the user of the API token ``token``.

    The token (``modellab token create``) goes out as ``Authorization: Bearer``; without
    one the client uses ``MODELLAB_TOKEN``, like the CLI, and else sends none (a local
    server without sign-in needs none).
    """

    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        token = token if token is not None else os.environ.get("MODELLAB_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request; raise :class:`ApiError` unless it succeeds; return the JSON."""
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text}
            raise ApiError(response.status_code, problem)
        return response.json() if response.content else None

    def start_run(
        self,
        project: str,
        dataset: str,
        *,
        name: str,
        seed: int,
        config: dict[str, Any] | None = None,
        code_version: dict[str, Any] | None = None,
    ) -> TrackedRun:
        """Start a tracked run on a stored dataset version (``NAME`` or ``NAME@VERSION``)."""
        body = {
            "project": project,
            "dataset": dataset,
            "name": name,
            "seed": seed,
            "config": config or {},
            "code_version": code_version or current_code_version(),
            "environment": {"python": platform.python_version(), "platform": platform.platform()},
        }
        return TrackedRun(self, self.request("POST", "/api/tracked-runs", json=body))

    def run(self, run_id: str) -> dict[str, Any]:
        """A run, as the API describes it."""
        out: dict[str, Any] = self.request("GET", f"/api/runs/{run_id}")
        return out

    def runs(self, project: str, **filters: Any) -> dict[str, Any]:
        """One page of a project's runs (filters: status, model, metric, metric_min, ...)."""
        out: dict[str, Any] = self.request("GET", f"/api/projects/{project}/runs", params=filters)
        return out

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
