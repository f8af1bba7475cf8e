"""One call that trains and evaluates a model end to end, as ``modellab run`` does.

The run is queued with the service functions and executed by a command executor, so it
trains in a fresh training process that discovers the plugins itself, exactly as from
the CLI or a server. Runs record the installed code version, not the caller's git
checkout: a test's results must not depend on uncommitted edits elsewhere in the tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modellab.domain import DatasetVersion, Run, RunStatus
from modellab.settings import Settings
from modellab.store.database import Database
from modellab.testing.contracts import ContractError
from modellab.testing.home import Data, ModelLabHome

#: how many lines of a failed run's logs.txt its error shows
LOG_TAIL = 25


@dataclass(frozen=True)
class FinishedRun:
    """A run that ended, and where its files are."""

    run: Run
    #: the run's folder: model/, eval/, predictions.parquet, logs.txt
    folder: Path

    @property
    def id(self) -> str:
        """The run's id."""
        return self.run.id

    @property
    def status(self) -> str:
        """``succeeded``, ``failed``, ``cancelled`` or ``timed_out``."""
        return self.run.status.value

    @property
    def status_reason(self) -> str | None:
        """Why the run did not succeed (None when it did)."""
        return self.run.status_reason

    @property
    def eval_dir(self) -> Path:
        """The EvalHarness report folder."""
        return self.folder / "eval"

    @property
    def model_dir(self) -> Path:
        """What the model's ``save`` wrote, with ``signature.json``."""
        return self.folder / "model"

    @property
    def metrics(self) -> dict[str, Any]:
        """The numbers ModelLab read back from the report."""
        return self.run.metrics


def run_model(
    home: ModelLabHome,
    template: str,
    model: str,
    data: Data | DatasetVersion,
    target: str | None = None,
    task: str | None = None,
    config: Mapping[str, Any] | None = None,
    seed: int = 0,
    n_bootstrap: int = 20,
    with_baseline: bool = False,
    check: bool = True,
) -> FinishedRun:
    """Train and evaluate ``model`` of ``template`` on ``data`` in ``home``.

    ``data`` is a file, folder or frame ingested with ``target`` (and ``task``, inferred
    when None), or a dataset version already in the home. ``config`` overrides the
    variant's defaults as ``--set`` does. With ``with_baseline`` a candidate's reference
    baseline runs first when the data has none. With ``check`` (the default) a run that
    did not succeed raises :class:`ContractError` with its reason and log tail.
    """
    from modellab.runs.executors import command_executor, run_and_wait
    from modellab.runs.service import RunRequest, queue_run

    try:
        home.subject.require_module()
    except ValueError as exc:
        raise ContractError(str(exc)) from None
    if isinstance(data, DatasetVersion):
        version = data
    elif target is None:
        raise ValueError("run_model needs the target column of data")
    else:
        version = home.add_dataset(data, target, task)
    req = RunRequest(
        home.project,
        version.ref,
        template,
        model,
        seed,
        dict(config or {}),
        n_bootstrap,
        from_checkout=False,
    )

    async def execute(db: Database, settings: Settings) -> Run:
        # As `modellab run`: the training processes start while the runs are queued.
        async with command_executor(db, settings, 2 if with_baseline else 1) as executor:
            queued = await queue_run(db, settings, home.registry, req, with_baseline)
            ended = await run_and_wait(executor, queued.ids)
        return ended[-1]

    run = home.call(execute)
    finished = FinishedRun(run, home.run_folder(run.id))
    if check and run.status is not RunStatus.SUCCEEDED:
        raise ContractError(
            f"run {run.id} of {template}/{model} on {version.ref} {run.status.value}: "
            f"{run.status_reason}{_log_tail(finished.folder)}"
        )
    return finished


def _log_tail(folder: Path) -> str:
    logs = folder / "logs.txt"
    if not logs.exists():
        return ""
    lines = logs.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL:]
    return "\nlast lines of logs.txt:\n  " + "\n  ".join(lines)
