"""The ``modellab`` command.

Every command calls the same service functions as the API. Errors a user can cause
print one line and exit 2; ``MODELLAB_DEBUG=1`` shows the traceback of an internal error.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import msgspec

from modellab.access.actor import LOCAL_ACTOR, Actor
from modellab.domain import DatasetVersion, Run, RunStatus, SplitStrategy
from modellab.errors import InvalidInputError, ModelLabError, NotAuthenticatedError
from modellab.permissions import restrict_new_files
from modellab.runs.options import EvalSettings
from modellab.settings import Settings

# Only what building the commands needs is imported here: `--help` must not pay for
# SQLAlchemy, Alembic, rich, the plugins or the data stack (tests/test_cli_startup.py);
# each command imports what it uses when it runs.
if TYPE_CHECKING:
    from rich.console import Console

    from modellab.runs.service import RunRequest
    from modellab.store.database import Database

T = TypeVar("T")


def _stdout() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 160)


def _progress() -> Callable[[str], None]:
    from rich.console import Console

    err = Console(stderr=True, highlight=False)
    if not err.is_terminal:
        return lambda _msg: None
    return lambda msg: err.print(f"[dim]… {msg}[/dim]")


class TaskChoice(click.ParamType[str, Any]):
    """The task types of the installed plugins, read when a command needs them.

    A static ``click.Choice`` would hard-code the built-in tasks; the registry is
    loaded only when the option is given or its help is shown.
    """

    name = "task"

    def _names(self) -> list[str]:
        from modellab.plugins import load_registry

        return sorted(load_registry().task_types)

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        """``[a|b|...]`` as click shows a choice."""
        return "[" + "|".join(self._names()) + "]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """``value`` when it names an installed task type; else a usage error listing them."""
        names = self._names()
        if value in names:
            return str(value)
        self.fail(f"{value!r} is not an installed task type; installed: {', '.join(names)}")


def _run(fn: Callable[[Database, Settings], Awaitable[T]]) -> T:
    import asyncio

    from modellab.store.database import open_database

    settings = Settings.from_env()

    async def main() -> T:
        async with open_database(settings.database_url, settings.migration_database_url) as db:
            return await fn(db.as_actor(await _actor(db)), settings)

    return asyncio.run(main())


async def _actor(db: Database) -> Actor:
    """``MODELLAB_TOKEN``'s user, else the local user (the single user of a local setup)."""
    secret = os.environ.get("MODELLAB_TOKEN")
    if not secret:
        return LOCAL_ACTOR
    from modellab.access.tokens import resolve_token

    actor = await resolve_token(db, secret.strip())
    if actor is None:
        raise NotAuthenticatedError(
            "MODELLAB_TOKEN is not a valid API token (revoked or mistyped); "
            "create one with: modellab token create"
        )
    return actor


def _print_json(obj: Any) -> None:
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(obj), indent=2).decode() + "\n")


class ModelLabGroup(click.Group):
    """A click group that turns ModelLab errors into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ModelLabError as exc:
            click.echo(f"error: {exc.message}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:
            # The reader (e.g. `| head`) went away: stop quietly, as Unix tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:
            if os.environ.get("MODELLAB_DEBUG"):
                raise
            click.echo(
                f"internal error: {type(exc).__name__}: {exc} "
                "(run again with MODELLAB_DEBUG=1 for the traceback, and please report it)",
                err=True,
            )
            ctx.exit(1)


@click.group(cls=ModelLabGroup, context_settings={"help_option_names": ["-h", "--help"]})
# By distribution name, so that the version is looked up only when --version asks.
@click.version_option(package_name="modellab", prog_name="modellab")
def cli() -> None:
    """ModelLab: versioned datasets, baseline-first runs, honest evaluation.

    Flow: datasets -> runs -> reports -> comparisons. State lives in $MODELLAB_HOME
    (default ./.modellab) and artifacts in $MODELLAB_ARTIFACT_ROOT (default ./artifacts).
    """
    restrict_new_files()


# --- projects -----------------------------------------------------------------------


@cli.group(cls=ModelLabGroup)
def project() -> None:
    """Create and list projects."""


@project.command("create")
@click.argument("name")
@click.option("--slug", help="URL-safe id (default: derived from NAME).")
@click.option("--json", "as_json", is_flag=True, help="Print the project as JSON.")
def project_create(name: str, slug: str | None, as_json: bool) -> None:
    """Create a project called NAME."""
    from modellab.projects import create_project

    proj = _run(lambda db, _s: create_project(db, name, slug))
    if as_json:
        _print_json(proj)
    else:
        click.echo(f"created project {proj.slug} ({proj.name})")


@project.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the projects as JSON.")
def project_list(as_json: bool) -> None:
    """List projects."""
    from modellab import console as render
    from modellab.projects import list_projects

    projects = _run(lambda db, _s: list_projects(db))
    if as_json:
        _print_json(projects)
    else:
        render.print_projects(_stdout(), projects)


# --- datasets -----------------------------------------------------------------------


@cli.group(cls=ModelLabGroup)
def dataset() -> None:
    """Add, inspect, list and annotate dataset versions."""


def _summary(v: DatasetVersion, created: bool) -> dict[str, Any]:
    return {
        "id": v.id,
        "project": v.project,
        "name": v.name,
        "version": v.version,
        "ref": v.ref,
        "created": created,
        "checksum": v.checksum,
        "rows": v.rows,
        "columns": v.columns,
        "task": v.task,
        "target": v.target,
        "feature_columns": v.feature_columns,
        "split": {
            "strategy": v.split.strategy.value,
            "checksum": v.split.checksum,
            "train_rows": v.split.train.rows,
            "test_rows": v.split.test.rows,
        },
        "warnings": [w.message for w in v.profile.warnings],
    }


@dataset.command("add")
@click.option("--project", "-p", required=True, help="Project slug.")
@click.option("--name", "-n", required=True, help="Dataset name (letters, digits, . _ -).")
@click.option(
    "--target",
    "-t",
    help="Target column (required for a table; a collection's folder implies it).",
)
@click.option(
    "--task",
    type=TaskChoice(),
    help="A task type of an installed plugin (`modellab plugins` lists them). Default: "
    "inferred from the target.",
)
@click.option(
    "--split",
    "strategy",
    type=click.Choice([s.value for s in SplitStrategy]),
    default="random",
    show_default=True,
)
@click.option("--test-size", type=float, default=0.2, show_default=True)
@click.option("--time-column", help="Column ordering rows for --split time.")
@click.option("--group-column", help="Column whose groups stay on one side for --split group.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--source", help="Where the data came from (stored as provenance).")
@click.option("--notes", help="A first note stored with the version.")
@click.option(
    "--exclude",
    multiple=True,
    metavar="COLUMN",
    help="Leave a column out of the features (repeatable); recorded in the schema.",
)
@click.option(
    "--features",
    metavar="A,B,...",
    help="Only these columns (comma-separated) may be features.",
)
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="COLUMN=ROLE",
    help="Give a column a role (repeatable): feature, excluded, identifier, time, group, "
    "item, weight or text; recorded in the provenance. Default: inferred.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the version as JSON.")
@click.argument("path", type=click.Path(path_type=Path))
def dataset_add(
    project: str,
    name: str,
    target: str | None,
    task: str | None,
    strategy: str,
    test_size: float,
    time_column: str | None,
    group_column: str | None,
    seed: int,
    source: str | None,
    notes: str | None,
    exclude: tuple[str, ...],
    features: str | None,
    roles: tuple[str, ...],
    as_json: bool,
    path: Path,
) -> None:
    """Add PATH (a CSV or Parquet file, a folder of them, or a folder in a task's own
    layout such as a retrieval collection's TREC or BEIR files) as a dataset version."""
    from modellab.datasets import ingest
    from modellab.datasets.roles import parse_roles
    from modellab.datasets.splits import SplitRequest
    from modellab.plugins import load_registry

    req = ingest.AddRequest(
        project=project,
        name=name,
        path=path,
        target=target or "",
        task=task,
        split=SplitRequest(SplitStrategy(strategy), test_size, seed, time_column, group_column),
        source=source,
        notes=notes,
        exclude=exclude,
        features=None
        if features is None
        else tuple(c.strip() for c in features.split(",") if c.strip()),
        roles=parse_roles(roles),
    )
    task_types = load_registry().task_types
    result = _run(lambda db, s: ingest.add_dataset(db, s, task_types, req, _progress()))
    v = result.version
    if as_json:
        _print_json(_summary(v, result.created))
        return
    if result.created:
        click.echo(
            f"added {v.ref}: {v.rows:,} rows x {v.columns} columns, {v.task} of {v.target!r}"
        )
    else:
        click.echo(f"unchanged: {v.ref} already holds these bytes (checksum {v.checksum[:12]})")
    click.echo(
        f"split {v.split.strategy.value}: {v.split.train.rows:,} train / {v.split.test.rows:,} test"
    )
    for w in v.profile.warnings:
        click.echo(f"warning: {w.message}")
    click.echo(f"inspect it with: modellab dataset show {v.ref}")


@dataset.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print the full version as JSON.")
def dataset_show(ref: str, as_json: bool) -> None:
    """Show schema, profile, split and warnings of REF (PROJECT/NAME[@VERSION])."""
    from modellab import console as render
    from modellab.datasets import ingest

    v = _run(lambda db, _s: ingest.get_dataset(db, ref))
    if as_json:
        _print_json(v)
    else:
        render.print_dataset(_stdout(), v)


@dataset.command("list")
@click.argument("project")
@click.option("--json", "as_json", is_flag=True, help="Print the versions as JSON.")
def dataset_list(project: str, as_json: bool) -> None:
    """List the dataset versions of PROJECT."""
    from modellab import console as render
    from modellab.datasets import ingest

    versions = _run(lambda db, _s: ingest.list_datasets(db, project))
    if as_json:
        _print_json([_summary(v, False) | {"created_at": v.created_at} for v in versions])
    else:
        render.print_dataset_list(_stdout(), versions)


@dataset.command("note")
@click.argument("ref")
@click.argument("text")
def dataset_note(ref: str, text: str) -> None:
    """Append a timestamped note to REF; notes are never edited or removed."""
    from modellab.datasets import ingest

    v = _run(lambda db, _s: ingest.add_note(db, ref, text))
    click.echo(f"noted on {v.ref} ({len(v.notes)} note(s))")


# --- runs ---------------------------------------------------------------------------


def _run_summary(run: Run, settings: Settings) -> dict[str, Any]:
    from modellab.runs.artifacts import run_dir

    return {
        "id": run.id,
        "status": run.status.value,
        "status_reason": run.status_reason,
        "project": run.project,
        "template": run.template,
        "model": run.model,
        "role": run.role,
        "seed": run.seed,
        "dataset": run.environment.get("dataset"),
        "metrics": run.metrics,
        "artifact_dir": str(run_dir(settings.artifact_root, run.project, run.id)),
    }


async def _run_flow(
    db: Database, settings: Settings, req: RunRequest, with_baseline: bool
) -> list[Run]:
    from modellab.plugins import load_registry
    from modellab.runs.executors import command_executor, run_and_wait
    from modellab.runs.service import queue_run

    async with command_executor(db, settings, 2 if with_baseline else 1) as executor:
        queued = await queue_run(db, settings, load_registry(), req, with_baseline)
        if queued.baseline is not None:
            click.echo(
                f"no baseline yet on {queued.run.environment.get('dataset')}: "
                f"running {queued.baseline.model} first (run {queued.baseline.id})",
                err=True,
            )
        elif queued.run.waits_on is not None:
            click.echo(f"waiting on the baseline run {queued.run.waits_on} first", err=True)
        run = queued.run
        click.echo(f"run {run.id} queued: {run.template}/{run.model} ({run.role})", err=True)
        ids = queued.ids
        if run.waits_on is not None and queued.baseline is None:
            # Its baseline runs elsewhere (a server, another shell): wait for it here.
            ids = [run.waits_on, *ids]
        return await run_and_wait(executor, ids)


def _print_run(run: Run, settings: Settings) -> None:
    from modellab.runs.artifacts import run_dir

    folder = run_dir(settings.artifact_root, run.project, run.id)
    click.echo(f"run {run.id}: {run.status.value}  {run.template}/{run.model} ({run.role})")
    if run.status_reason:
        click.echo(f"  reason: {run.status_reason}")
    headline = run.metrics.get("headline", {})
    for name, est in headline.items():
        if est.get("value") is None:
            continue
        ci = ""
        if est.get("ci_low") is not None:
            ci = f"  (95% CI {est['ci_low']:.4f} .. {est['ci_high']:.4f})"
        click.echo(f"  {name:<18} {est['value']:.4f}{ci}")
    for suspect in run.metrics.get("leak_suspects", []):
        click.echo(
            f"  WARNING: feature {suspect['column']!r} may leak the target: {suspect['evidence']}"
            f" (leave it out with --exclude {suspect['column']})"
        )
    baseline = run.metrics.get("baseline")
    if baseline:
        click.echo(f"  vs baseline {baseline['name']}:")
        for name, est in baseline.get("deltas", {}).items():
            if est.get("value") is None:
                continue
            ci = (
                f" (95% CI {est['ci_low']:+.4f} .. {est['ci_high']:+.4f})"
                if est.get("ci_low") is not None
                else ""
            )
            click.echo(f"    {name:<16} {est['value']:+.4f}{ci}")
    if run.role == "candidate" and run.status is RunStatus.SUCCEEDED:
        if not baseline:
            click.echo(
                "  no baseline on this dataset version and split: improvement is not meaningful.\n"
                f"  run one first: modellab run --project {run.project} --dataset "
                f"{run.environment.get('dataset')} --template {run.template} --model <baseline> "
                "(or add --with-baseline)"
            )
        else:
            primary = run.metrics.get("primary_metric", "")
            d = baseline.get("deltas", {}).get(primary) or {}
            higher = run.metrics.get("higher_is_better", {}).get(primary, True)
            low, high = d.get("ci_low"), d.get("ci_high")
            worse = low is not None and high is not None and (high < 0 if higher else low > 0)
            verdict = (
                "meaningful"
                if run.metrics.get("improvement_is_meaningful")
                else f"NO: significantly WORSE in {primary} (the CI excludes no change)"
                if worse
                else "NOT meaningful (the CI includes no change)"
            )
            click.echo(f"  improvement over baseline: {verdict}")
    click.echo(f"  artifacts: {folder}")


@cli.command("run")
@click.option("--project", "-p", required=True, help="Project slug.")
@click.option(
    "--dataset", "-d", required=True, help="Dataset NAME or NAME@VERSION (newest by default)."
)
@click.option("--template", "-t", required=True, help="Task template, e.g. tabular-classification.")
@click.option("--model", "-m", required=True, help="Model variant of the template.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value (repeatable).",
)
@click.option(
    "--n-bootstrap",
    type=click.IntRange(10, 100_000),
    default=None,
    help="Bootstrap replicates behind every confidence interval (default 1000); the same "
    "as --eval n_bootstrap=N.",
)
@click.option(
    "--with-baseline",
    is_flag=True,
    help="Queue the template's reference baseline first when this dataset version has "
    "none; the run waits on it, and fails with its reason if it fails.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="End the run as timed_out when training takes longer (each run, baseline too).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="COLUMN",
    help="Leave a feature column out of this run (repeatable).",
)
@click.option(
    "--features",
    metavar="A,B,...",
    help="Train on exactly these columns (comma-separated) instead of the dataset's features.",
)
@click.option(
    "--eval",
    "eval_settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Change a setting of the evaluation's rules for this run (repeatable), e.g. "
    f"duplicate_excess_error=0.1. Settings: {', '.join(EvalSettings.__struct_fields__)} "
    "(README).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run(s) as JSON.")
def run_cmd(
    project: str,
    dataset: str,
    template: str,
    model: str,
    seed: int,
    overrides: tuple[str, ...],
    n_bootstrap: int | None,
    with_baseline: bool,
    timeout: float | None,
    exclude: tuple[str, ...],
    features: str | None,
    eval_settings: tuple[str, ...],
    as_json: bool,
) -> None:
    """Train and evaluate MODEL of TEMPLATE on a dataset version.

    The run trains in a process of its own, as on a server; Ctrl-C cancels it, and so
    does `modellab cancel RUN` from another shell.
    """
    from modellab.runs.configs import key_values
    from modellab.runs.service import RunRequest

    options: dict[str, Any] = {}
    if exclude:
        options["exclude"] = list(exclude)
    if features is not None:
        options["features"] = [c.strip() for c in features.split(",") if c.strip()]
    if eval_settings:
        options["eval"] = key_values(eval_settings, "--eval")
    req = RunRequest(
        project,
        dataset,
        template,
        model,
        seed,
        overrides,
        n_bootstrap,
        options=options,
        timeout_seconds=timeout,
    )
    settings = Settings.from_env()
    runs = _run(lambda db, s: _run_flow(db, s, req, with_baseline))
    if as_json:
        out = [_run_summary(r, settings) for r in runs]
        _print_json(out[-1] if len(out) == 1 else out)
    else:
        for r in runs:
            _print_run(r, settings)
    if any(r.status is not RunStatus.SUCCEEDED for r in runs):
        sys.exit(1)


@cli.command("evaluate-file")
@click.option("--project", "-p", required=True, help="Project slug.")
@click.option("--dataset", "-d", required=True, help="NAME or NAME@VERSION of the dataset.")
@click.option("--name", "-n", required=True, help="The outside system's name (the run's model).")
@click.option("--seed", type=int, required=True, help="The seed the system ran with.")
@click.option("--commit", required=True, help="The commit of the system's code.")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def evaluate_file_cmd(
    project: str, dataset: str, name: str, seed: int, commit: str, as_json: bool, path: Path
) -> None:
    """Evaluate PATH, an outside system's output (a TREC run file for a retrieval
    collection), against a stored dataset version, as a tracked run with provenance."""
    from modellab.domain import CodeVersion
    from modellab.plugins import load_registry
    from modellab.runs.file_eval import evaluate_outside_file
    from modellab.runs.tracking import TrackedRunRequest

    settings = Settings.from_env()
    registry = load_registry()
    import modellab

    code = CodeVersion(modellab_version=modellab.__version__, git_commit=commit, git_dirty=False)
    req = TrackedRunRequest(project, dataset, name, seed, code)
    result = _run(lambda db, s: evaluate_outside_file(db, s, registry, req, path))
    if as_json:
        _print_json(
            _run_summary(result.run, settings)
            | {"units": result.units, "outside_test": result.outside_test}
        )
        return
    if result.outside_test:
        click.echo(
            f"{result.outside_test} of the file's {result.units} units are not test units of "
            "the dataset version: left out"
        )
    _print_run(result.run, settings)


@cli.command("cancel")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
def cancel_cmd(run_id: str, as_json: bool) -> None:
    """Cancel RUN_ID: a queued run at once, a running one as soon as its watcher sees it."""
    from modellab.runs.service import cancel_run

    settings = Settings.from_env()
    run = _run(lambda db, s: cancel_run(db, s, run_id))
    if as_json:
        _print_json(_run_summary(run, settings))
        return
    if run.status is RunStatus.CANCELLED:
        click.echo(f"run {run.id} cancelled")
    else:
        click.echo(f"run {run.id} is asked to stop; it ends as cancelled in a moment")


@cli.command("runs")
@click.option("--project", "-p", required=True, help="Project slug.")
@click.option("--status", type=click.Choice([s.value for s in RunStatus]))
@click.option("--template")
@click.option("--model")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print as CSV (safe to open in a spreadsheet).")
def runs_cmd(
    project: str,
    status: str | None,
    template: str | None,
    model: str | None,
    limit: int,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List the runs of a project, newest first."""
    from modellab import console as render
    from modellab.runs import csv_export
    from modellab.runs import service as run_service

    settings = Settings.from_env()
    runs = _run(lambda db, _s: run_service.list_runs(db, project, status, template, model, limit))
    if as_csv:
        click.echo(csv_export.runs_csv(runs), nl=False)
    elif as_json:
        _print_json([_run_summary(r, settings) for r in runs])
    else:
        render.print_runs(_stdout(), runs)


@cli.command("note")
@click.argument("run_id")
@click.argument("text")
def note_cmd(run_id: str, text: str) -> None:
    """Append a timestamped note to a run ("what changed my mind"); never edited."""
    from modellab.runs import service as run_service

    run = _run(lambda db, _s: run_service.add_note(db, run_id, text))
    click.echo(f"noted on run {run.id} ({len(run.notes)} note(s))")


@cli.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare_cmd(run_a: str, run_b: str, as_json: bool) -> None:
    """Compare RUN_A (before) with RUN_B (after); writes RUN_B/compare/RUN_A/."""
    from modellab.compare import compare_runs
    from modellab.plugins import load_registry

    task_types = load_registry().task_types
    doc, out = _run(lambda db, s: compare_runs(db, s, task_types, run_a, run_b))
    if as_json:
        _print_json(doc | {"folder": str(out)})
        return
    click.echo((out / "summary.txt").read_text(), nl=False)
    click.echo(f"written to {out}")


@cli.group("import", cls=ModelLabGroup)
def import_group() -> None:
    """Bring runs logged elsewhere into a project."""


@import_group.command("mlflow")
@click.argument("source")
@click.option("--project", "-p", required=True, help="Project slug to import into.")
@click.option("--dataset", "-d", help="NAME@VERSION for runs without a modellab.dataset tag.")
@click.option(
    "--seed-param", help="The param that holds the seed of runs without a modellab.seed tag."
)
@click.option("--seed", type=int, help="The seed of runs that name none otherwise.")
@click.option("--commit", help="The code commit of runs that name none.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_mlflow(
    source: str,
    project: str,
    dataset: str | None,
    seed_param: str | None,
    seed: int | None,
    commit: str | None,
    as_json: bool,
) -> None:
    """Import the runs of SOURCE: an mlruns/ folder, or a tracking URI (http://...,
    sqlite:///..., read with the mlflow client: pip install 'modellab[mlflow]').

    Each run is imported once (again: "already imported"); runs whose dataset version,
    seed or commit cannot be mapped are listed, not imported.
    """
    from modellab.mlflow.importing import Provenance, import_runs
    from modellab.mlflow.sources import open_source

    reader = open_source(source)
    stated = Provenance(dataset=dataset, seed=seed, seed_param=seed_param, commit=commit)
    report = _run(lambda db, s: import_runs(db, s, project, reader, stated, _progress()))
    if as_json:
        _print_json(report)
        return
    for made in report.imported:
        extra = f"; {made.note}" if made.note else ""
        click.echo(
            f"imported {made.source_run_id} as {made.run_id} ({made.name}): "
            f"{made.points} metric points, {made.files} files{extra}"
        )
    for made in report.already:
        click.echo(f"already imported {made.source_run_id} as {made.run_id} ({made.name})")
    for skip in report.skipped:
        click.echo(f"skipped {skip.what}: {skip.reason}")
    click.echo(
        f"{len(report.imported)} imported, {len(report.already)} already imported, "
        f"{len(report.skipped)} skipped"
    )


@cli.group(cls=ModelLabGroup)
def repro() -> None:
    """Export reproducibility packs."""


@repro.command("export")
@click.argument("run_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Archive path (default: RUN/repro/repro-RUN.tar.gz).",
)
@click.option("--include-data", is_flag=True, help="Include the dataset even when over 100 MB.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def repro_export(run_id: str, output: Path | None, include_data: bool, as_json: bool) -> None:
    """Bundle everything needed to reproduce RUN_ID into one archive."""
    from modellab.repro import export_pack
    from modellab.runs.artifacts import run_dir
    from modellab.runs.service import get_run

    async def go(db: Database, s: Settings) -> tuple[dict[str, Any], Path]:
        target = output
        if target is None:
            run = await get_run(db, run_id)
            target = (
                run_dir(s.artifact_root, run.project, run.id) / "repro" / f"repro-{run.id}.tar.gz"
            )
        return await export_pack(db, s, run_id, target, include_data), target

    manifest, path = _run(go)
    if as_json:
        _print_json(manifest | {"path": str(path)})
        return
    included = "with the dataset" if manifest["dataset"]["included"] else "without the dataset"
    click.echo(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB, {included})")
    click.echo(f"re-run and verify with: modellab reproduce {path}")


@cli.command("reproduce")
@click.argument("pack", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def reproduce_cmd(pack: Path, as_json: bool) -> None:
    """Re-execute a repro pack into a fresh run and verify it reproduces exactly."""
    from modellab.plugins import load_registry
    from modellab.repro import reproduce_pack

    report = _run(lambda db, s: reproduce_pack(db, s, load_registry(), pack))
    if as_json:
        _print_json(report.__dict__)
    elif report.reproduced:
        click.echo(
            f"REPRODUCED: run {report.new_run} matches run {report.original_run}: same dataset "
            "checksum, same metrics, byte-identical eval folder"
        )
    else:
        click.echo(f"NOT REPRODUCED: run {report.new_run} drifted from run {report.original_run}")
        for line in report.messages + report.drifted_metrics:
            click.echo(f"  metric {line}" if line in report.drifted_metrics else f"  {line}")
        for f in report.drifted_files:
            click.echo(f"  file {f}")
    if not report.reproduced:
        sys.exit(1)


# --- plugins ------------------------------------------------------------------------


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def plugins_cmd(as_json: bool) -> None:
    """List installed plugins and what each registers."""
    from modellab import console as render
    from modellab.plugins import load_registry

    registry = load_registry()
    if as_json:
        out = []
        for info in registry.plugins:
            reg = registry.registered_by(info.name)
            out.append(
                {
                    "name": info.name,
                    "distribution": info.distribution,
                    "version": info.version,
                    "task_types": reg["task_types"],
                    "templates": [
                        {
                            "name": t,
                            "task_type": registry.templates[t].task_type,
                            "variants": [
                                {"name": v.name, "role": v.role}
                                for v in registry.templates[t].variants
                            ],
                        }
                        for t in reg["templates"]
                    ],
                    "variants": reg["variants"],
                    "evaluators": reg["evaluators"],
                    "slicers": reg["slicers"],
                }
            )
        _print_json(out)
    else:
        render.print_plugins(_stdout(), registry)


# --- demo ---------------------------------------------------------------------------


@cli.command("demo")
def demo_cmd() -> None:
    """Run the demo: ingest the bundled datasets and show their inspection."""
    from modellab.demo import run_demo

    _run(lambda db, s: run_demo(db, s, _stdout(), _progress()))


# --- the service ----------------------------------------------------------------------

timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="End runs that train longer than this many seconds as timed_out "
    "(for runs that set no timeout of their own).",
)
spares_option = click.option(
    "--spares",
    type=click.IntRange(0, 64),
    default=None,
    help="Training processes kept started ahead, each holding its imports (about 300 MB) "
    "so that a run starts at once; 0 starts each run's process when it is claimed. "
    "Default: one per run trained at once.",
)


# --- API tokens -------------------------------------------------------------------


@cli.group(cls=ModelLabGroup)
def token() -> None:
    """API tokens for the CLI (MODELLAB_TOKEN), the Python client and scripts."""


@token.command("create")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@click.option("--project", help="Limit the token to this project.")
@click.option("--read-only", is_flag=True, help="The token may read, never change.")
@click.option(
    "--expires-days",
    type=click.IntRange(1, 3650),
    help="The token stops working after this many days (default: when revoked).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the token as JSON.")
def token_create(
    name: str, project: str | None, read_only: bool, expires_days: int | None, as_json: bool
) -> None:
    """Create an API token for the current user; the secret is shown only this once."""
    from modellab.access.tokens import create_token

    new = _run(lambda db, s: create_token(db, name, project, read_only, expires_days, s.token_days))
    if as_json:
        _print_json(new)
        return
    click.echo(new.secret)
    scope = f"project {project}" if project else "all your projects"
    mode = "read-only" if read_only else "read and write"
    expiry = (
        f"expires {new.token.expires_at:%Y-%m-%d %H:%M} UTC"
        if new.token.expires_at
        else "never expires"
    )
    click.echo(
        f"token {new.token.id} ({mode}, {scope}, {expiry}); it is shown only once: keep it "
        "secret. "
        "Use it as MODELLAB_TOKEN or 'Authorization: Bearer <token>'.",
        err=True,
    )


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the tokens as JSON.")
def token_list(as_json: bool) -> None:
    """The current user's tokens (never their secrets)."""
    from modellab.access.tokens import list_tokens

    found = _run(lambda db, _s: list_tokens(db))
    if as_json:
        _print_json(found)
        return
    if not found:
        click.echo("No API tokens yet. Create one with: modellab token create --name NAME")
    now = datetime.now(UTC)
    for t in found:
        if t.revoked_at:
            state = f"revoked {t.revoked_at:%Y-%m-%d}"
        elif t.expires_at and t.expires_at <= now:
            state = f"expired {t.expires_at:%Y-%m-%d}"
        else:
            state = f"active until {t.expires_at:%Y-%m-%d}" if t.expires_at else "active"
        mode = "read-only" if t.read_only else "read-write"
        used = f"last used {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never used"
        click.echo(f"{t.id}  {t.name}  {t.project or '*'}  {mode}  {state}  {used}")


@token.command("revoke")
@click.argument("token_id")
def token_revoke(token_id: str) -> None:
    """Revoke token TOKEN_ID: it stops working at once."""
    from modellab.access.tokens import revoke_token

    _run(lambda db, _s: revoke_token(db, token_id))
    click.echo(f"revoked token {token_id}")


# --- users -------------------------------------------------------------------------


@cli.group(cls=ModelLabGroup)
def user() -> None:
    """Accounts of a server with sign-in (MODELLAB_PUBLIC_URL)."""


@user.command("add")
@click.argument("email")
def user_add(email: str) -> None:
    """Invite EMAIL: give the address an account, so that it may sign in.

    Sign-up is invite-only unless MODELLAB_SIGN_UP_DOMAINS admits the address; adding a
    project member invites the address too.
    """
    from modellab.access.users import ensure_user

    added = _run(lambda db, _s: ensure_user(db, email))
    click.echo(f"{added.email} may sign in now")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--parallel",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Runs trained at once by the embedded executor (without MODELLAB_REDIS_URL).",
)
@timeout_option
@spares_option
def serve_cmd(
    host: str, port: int, parallel: int, timeout: float | None, spares: int | None
) -> None:
    """Serve the JSON API (under /api; OpenAPI at /schema) and execute queued runs.

    Without MODELLAB_REDIS_URL the server trains runs itself, each in a child process;
    with it, runs go to `modellab worker` processes.
    """
    import uvicorn

    from modellab.runs.executors import LocalExecutor
    from modellab.runs.job import JobTiming
    from modellab.server.app import create_app
    from modellab.server.auth.binding import check_bind

    settings = Settings.from_env()
    check_bind(host, settings)
    timing = JobTiming.from_settings(settings, timeout)
    executor = (
        None
        if settings.redis_url
        else (lambda db, s: LocalExecutor(db, s, parallel, timing=timing, spares=spares))
    )
    click.echo(f"ModelLab API on http://{host}:{port}/api (OpenAPI: /schema)", err=True)
    uvicorn.run(create_app(settings, executor=executor), host=host, port=port, log_level="info")


@cli.command("worker")
@click.option("--burst", is_flag=True, help="Exit once the queue is empty.")
@click.option(
    "--jobs", default=2, show_default=True, type=click.IntRange(1, 64), help="Runs at once."
)
@timeout_option
@spares_option
def worker_cmd(burst: bool, jobs: int, timeout: float | None, spares: int | None) -> None:
    """Execute runs queued through the API (needs MODELLAB_REDIS_URL and a shared database)."""
    from modellab.server.worker import make_worker

    settings = Settings.from_env()
    if not settings.redis_url:
        raise InvalidInputError(
            "modellab worker needs MODELLAB_REDIS_URL (redis://host:6379/0); without Redis, "
            "`modellab serve` executes runs itself"
        )
    from modellab.runs.job import JobTiming

    timing = JobTiming.from_settings(settings, timeout)
    make_worker(settings, burst=burst, max_jobs=jobs, timing=timing, spares=spares).run()


def main() -> None:
    """Console-script entry point."""
    try:
        cli(prog_name="modellab")
    finally:
        # The process is about to exit: spare the interpreter's last collection from
        # walking every object the imports made (SQLAlchemy's alone, about 0.1 s).
        # Nothing waits on it; files and connections are closed by then.
        gc.freeze()
