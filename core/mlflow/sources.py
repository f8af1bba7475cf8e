"""MLflow history to import, read from an ``mlruns/`` folder or through ``MlflowClient``.

Both readers give the same plain records (:class:`SourceRun`), so the import has one code
path. A folder that cannot be read (no ``meta.yaml``, a deleted run) is reported as
:class:`Skipped` and the rest is read on.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from modellab.errors import InvalidInputError
from modellab.nonfinite import NonFinite, as_logged
from modellab.runs.tracking import MetricPoint

#: the file store's run states, by number (mlflow/entities/run_status.py)
STATUS_BY_NUMBER = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
#: folders of an experiment that hold no runs
NOT_RUNS = frozenset({"datasets", "models", "traces", "tags", "outputs"})


@dataclass
class SourceRun:
    """One MLflow run, everything the import keeps of it."""

    run_id: str
    experiment: str  # the experiment's name
    name: str
    status: str  # RUNNING, SCHEDULED, FINISHED, FAILED, KILLED
    start_time: int | None
    end_time: int | None
    params: dict[str, str]
    tags: dict[str, str]
    metrics: list[MetricPoint]
    inputs: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    #: where the source keeps the run's files (the client reads them from there)
    artifact_uri: str = ""


@dataclass(frozen=True)
class Skipped:
    """Something of the source that was not imported, and why."""

    what: str
    reason: str


class Source(Protocol):
    """Where MLflow history comes from."""

    def runs(self) -> tuple[list[SourceRun], list[Skipped]]:
        """Every run that could be read, and what could not."""
        ...

    def artifacts(self, run: SourceRun) -> Any:
        """A context manager giving the folder of the run's files (None: missing)."""
        ...


def _value(text: str) -> float | NonFinite:
    # The file store writes Python's repr: nan, inf, -inf.
    return as_logged(float(text))


def _tree(folder: Path) -> dict[str, str]:
    """The files under ``folder`` as relative path (a key with slashes) to their text."""
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError("not a YAML mapping")
    return loaded


class FileStore:
    """An ``mlruns/`` folder as MLflow's file store writes it."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise InvalidInputError(f"{root}: no such folder (an mlruns/ folder)")
        self.root = root
        self.folders: dict[str, Path] = {}

    def runs(self) -> tuple[list[SourceRun], list[Skipped]]:
        """Every run of every experiment folder, by experiment then run id."""
        found: list[SourceRun] = []
        skipped: list[Skipped] = []
        for exp_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            if exp_dir.name.startswith(".") or exp_dir.name == "models":
                continue  # .trash holds deleted experiments; models/ the registry
            where = exp_dir.relative_to(self.root).as_posix()
            try:
                meta = _yaml(exp_dir / "meta.yaml")
            except (OSError, ValueError) as exc:
                skipped.append(Skipped(f"experiment folder {where}", f"meta.yaml: {_why(exc)}"))
                continue
            if meta.get("lifecycle_stage") == "deleted":
                skipped.append(Skipped(f"experiment {meta.get('name')!r}", "deleted in MLflow"))
                continue
            for run_dir in sorted(p for p in exp_dir.iterdir() if p.is_dir()):
                if run_dir.name in NOT_RUNS or run_dir.name.startswith("."):
                    continue
                label = f"run folder {where}/{run_dir.name}"
                try:
                    run = self._run(exp_dir, run_dir, str(meta.get("name", where)))
                except (OSError, ValueError, KeyError) as exc:
                    skipped.append(Skipped(label, _why(exc)))
                    continue
                found.append(run)
        return found, skipped

    def _run(self, exp_dir: Path, run_dir: Path, experiment: str) -> SourceRun:
        try:
            meta = _yaml(run_dir / "meta.yaml")
        except FileNotFoundError:
            raise ValueError("it has no meta.yaml") from None
        run_id = str(meta.get("run_id") or meta.get("run_uuid") or run_dir.name)
        metrics = []
        for key, text in _tree(run_dir / "metrics").items():
            for n, line in enumerate(text.splitlines(), start=1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) not in (2, 3):
                    raise ValueError(f"metrics/{key} line {n}: expected 'timestamp value step'")
                step = int(parts[2]) if len(parts) == 3 else 0
                metrics.append(MetricPoint(key, _value(parts[1]), step, int(parts[0])))
        status = meta.get("status", 3)
        tags = _tree(run_dir / "tags")
        self.folders[run_id] = self._artifact_folder(run_dir, str(meta.get("artifact_uri", "")))
        return SourceRun(
            run_id=run_id,
            experiment=experiment,
            name=str(meta.get("run_name") or tags.get("mlflow.runName") or ""),
            status=STATUS_BY_NUMBER.get(status, str(status))
            if isinstance(status, int)
            else str(status),
            start_time=_int(meta.get("start_time")),
            end_time=_int(meta.get("end_time")),
            params=_tree(run_dir / "params"),
            tags=tags,
            metrics=metrics,
            inputs=self._inputs(exp_dir, run_dir),
            deleted=meta.get("lifecycle_stage") == "deleted",
        )

    @staticmethod
    def _artifact_folder(run_dir: Path, uri: str) -> Path:
        # The recorded URI, unless the store was moved: then the run's own folder.
        parsed = urlparse(uri)
        if parsed.scheme in ("", "file"):
            recorded = Path(unquote(parsed.path))
            if recorded.is_dir():
                return recorded
        return run_dir / "artifacts"

    @staticmethod
    def _inputs(exp_dir: Path, run_dir: Path) -> list[dict[str, Any]]:
        """The dataset inputs a run declared (``inputs/<id>/meta.yaml`` -> a dataset of
        the experiment's ``datasets/<id>/meta.yaml``)."""
        found = []
        for meta_path in sorted((run_dir / "inputs").glob("*/meta.yaml")):
            meta = _yaml(meta_path)
            if meta.get("source_type") not in (None, 1, "DATASET"):
                continue
            dataset_path = exp_dir / "datasets" / str(meta.get("source_id")) / "meta.yaml"
            if not dataset_path.is_file():
                continue
            dataset = {
                k: v
                for k, v in _yaml(dataset_path).items()
                if k in ("name", "digest", "source_type", "source", "schema", "profile")
                and v is not None
            }
            tags = meta.get("tags") or {}
            found.append(
                {
                    "dataset": dataset,
                    "tags": [{"key": str(k), "value": str(v)} for k, v in sorted(tags.items())],
                }
            )
        return found

    @contextmanager
    def artifacts(self, run: SourceRun) -> Iterator[Path | None]:
        """The run's artifact folder (None: it is missing)."""
        folder = self.folders.get(run.run_id)
        yield folder if folder is not None and folder.is_dir() else None


class ClientSource:
    """A tracking server or database, read through ``mlflow.MlflowClient`` (the optional
    extra ``modellab[mlflow]``)."""

    def __init__(self, uri: str) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise InvalidInputError(
                f"{uri}: reading a tracking server or database needs the mlflow client: "
                "pip install 'modellab[mlflow]' (an mlruns/ folder needs nothing)"
            ) from None
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)

    def runs(self) -> tuple[list[SourceRun], list[Skipped]]:
        """Every active run of every active experiment."""
        from mlflow.exceptions import MlflowException

        found: list[SourceRun] = []
        skipped: list[Skipped] = []
        for experiment in self.client.search_experiments():
            token = None
            while True:
                page = self.client.search_runs(
                    [experiment.experiment_id], max_results=1000, page_token=token
                )
                for run in page:
                    try:
                        found.append(self._run(run, experiment.name))
                    except MlflowException as exc:  # a run the store lists but cannot read
                        skipped.append(Skipped(f"run {run.info.run_id}", exc.message))
                token = page.token
                if not token:
                    break
        return found, skipped

    def _run(self, run: Any, experiment: str) -> SourceRun:
        metrics = [
            MetricPoint(m.key, as_logged(float(m.value)), int(m.step), int(m.timestamp))
            for key in sorted(run.data.metrics)
            for m in self.client.get_metric_history(run.info.run_id, key)
        ]
        inputs = [
            {
                "dataset": {
                    "name": d.dataset.name,
                    "digest": d.dataset.digest,
                    "source_type": d.dataset.source_type,
                    "source": d.dataset.source,
                    **({"schema": d.dataset.schema} if d.dataset.schema else {}),
                    **({"profile": d.dataset.profile} if d.dataset.profile else {}),
                },
                "tags": [{"key": t.key, "value": t.value} for t in d.tags],
            }
            for d in (run.inputs.dataset_inputs if run.inputs else [])
        ]
        return SourceRun(
            run_id=run.info.run_id,
            experiment=experiment,
            name=run.info.run_name or "",
            status=run.info.status,
            start_time=run.info.start_time,
            end_time=run.info.end_time,
            params=dict(run.data.params),
            tags=dict(run.data.tags),
            metrics=metrics,
            inputs=inputs,
            artifact_uri=run.info.artifact_uri or "",
        )

    @contextmanager
    def artifacts(self, run: SourceRun) -> Iterator[Path | None]:
        """The run's files, downloaded into a temporary folder (None: there are none)."""
        from mlflow.artifacts import download_artifacts, list_artifacts

        # By the run's artifact URI and this source's tracking URI: by run id the client
        # would resolve against the process's default tracking URI.
        tmp = Path(tempfile.mkdtemp(prefix="modellab-mlflow-"))
        try:
            if not list_artifacts(artifact_uri=run.artifact_uri, tracking_uri=self.uri):
                yield None
                return
            got = download_artifacts(
                artifact_uri=run.artifact_uri, dst_path=str(tmp), tracking_uri=self.uri
            )
            yield Path(got)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _why(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "missing"
    return str(exc) or type(exc).__name__


def open_source(path_or_uri: str) -> Source:
    """An ``mlruns/`` folder (a path) or a tracking URI (``http://``, ``sqlite://``,
    ``file://``, ...) as a source of MLflow runs."""
    if "://" in path_or_uri:
        return ClientSource(path_or_uri)
    return FileStore(Path(path_or_uri))
