"""``modellab demo``: the README's promise, offline, on datasets that ship with ModelLab.

Datasets -> runs (baseline first) -> reports -> comparisons -> a repro pack. Running it
again reuses what is there (same bytes, same run keys), so it is idempotent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import as_file, files
from pathlib import Path

from rich.console import Console

from modellab import console as render
from modellab.compare import compare_runs
from modellab.datasets import ingest
from modellab.datasets.splits import SplitRequest
from modellab.domain import ColumnRole, DatasetVersion, Run, RunStatus, SplitStrategy
from modellab.errors import ConflictError, ModelLabError
from modellab.plugins import Registry, load_registry
from modellab.projects import create_project
from modellab.repro import export_pack
from modellab.runs import service as run_service
from modellab.runs.artifacts import run_dir
from modellab.runs.executors import command_executor, run_and_wait
from modellab.settings import Settings
from modellab.store.database import Database

DEMO_PROJECT = "demo"


@dataclass(frozen=True)
class DemoDataset:
    """A bundled dataset, how the demo ingests it, and what it trains on it."""

    file: str
    name: str
    target: str
    task: str
    split: SplitStrategy
    source: str
    template: str
    #: trained after the template's reference baseline, which it is judged against
    candidate: str
    #: the package whose folder holds ``file`` (a plugin ships its own demo data)
    package: str = "modellab.demo_data"
    test_size: float = 0.2
    #: the column a group split keeps together (a ranking table's query id)
    group_column: str | None = None
    #: column roles given at ingest (``--role COLUMN=ROLE``)
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        """Where the bundled file is."""
        return demo_file(self.file, self.package)


def _demo_datasets() -> tuple[DemoDataset, ...]:
    """The bundled datasets, as ``demo_data/datasets.json`` lists them (data, not code:
    the tasks they use are the plugins' names, which core does not spell)."""
    listed = json.loads(files("modellab.demo_data").joinpath("datasets.json").read_text())
    return tuple(
        DemoDataset(**{**entry, "split": SplitStrategy(entry["split"])}) for entry in listed
    )


DEMO_DATASETS = _demo_datasets()


def demo_file(name: str, package: str = "modellab.demo_data") -> Path:
    """The path of a bundled demo file (inside the installed ``package``)."""
    with as_file(files(package) / name) as path:
        return Path(path)


async def _train(
    db: Database,
    settings: Settings,
    registry: Registry,
    out: Console,
    d: DemoDataset,
    version: DatasetVersion,
) -> tuple[Run, Run]:
    """The baseline and the candidate on ``version``, reused when they exist.

    Otherwise the candidate is queued with its baseline (baseline first) and both train
    here, as ``modellab run --with-baseline`` would train them.
    """
    req = run_service.RunRequest(DEMO_PROJECT, version.ref, d.template, d.candidate, 0)
    cand = await run_service.find_same_run(db, settings, registry, req)
    base = await run_service.find_baseline(db, version, d.template)
    if cand is not None and base is not None:
        out.print(f"  reusing runs {base.id} and {cand.id} (same data, config, seed and code)")
        return base, cand
    out.print(f"  {d.candidate}, after its baseline: training and evaluating …")
    async with command_executor(db, settings, 2) as executor:
        queued = await run_service.queue_run(db, settings, registry, req, with_baseline=True)
        done = await run_and_wait(executor, queued.ids)
    for ended in done:
        if ended.status is not RunStatus.SUCCEEDED:
            raise ModelLabError(f"demo run {ended.id} {ended.status.value}: {ended.status_reason}")
        cand = ended
    base = await run_service.find_baseline(db, version, d.template)
    assert cand is not None and base is not None
    return base, cand


async def run_demo(
    db: Database, settings: Settings, out: Console, progress: Callable[[str], None]
) -> list[DatasetVersion]:
    """Ingest, inspect, train baseline and candidate, evaluate, compare, export a pack."""
    try:
        await create_project(db, "ModelLab demo", DEMO_PROJECT)
        out.print(f"created project {DEMO_PROJECT}")
    except ConflictError:
        out.print(f"using existing project {DEMO_PROJECT}")
    registry = load_registry()
    versions: list[DatasetVersion] = []
    opened: list[str] = []
    for d in DEMO_DATASETS:
        req = ingest.AddRequest(
            project=DEMO_PROJECT,
            name=d.name,
            path=d.path,
            target=d.target,
            task=d.task,
            split=SplitRequest(d.split, d.test_size, 0, group_column=d.group_column),
            source=d.source,
            roles={column: ColumnRole(role) for column, role in d.roles.items()},
        )
        result = await ingest.add_dataset(db, settings, registry.task_types, req, progress)
        version = result.version
        versions.append(version)
        out.rule(f"1. Dataset {version.ref}" + ("" if result.created else " (already ingested)"))
        render.print_dataset(out, version)

        out.rule(f"2. Runs on {version.ref}: baseline first")
        base, cand = await _train(db, settings, registry, out, d, version)
        for r in (base, cand):
            out.print(f"  {r.model:<20} {r.role:<9} {render.headline_text(r)}")
        verdict = (
            "meaningful" if cand.metrics.get("improvement_is_meaningful") else "not meaningful"
        )
        out.print(f"  improvement of {cand.model} over {base.model}: {verdict}")

        out.rule(f"3. Report of {cand.model}")
        eval_dir = run_dir(settings.artifact_root, DEMO_PROJECT, cand.id) / "eval"
        out.print((eval_dir / "takeaway.txt").read_text().strip())

        out.rule(f"4. Compare {base.model} -> {cand.model}")
        _, compare_dir = await compare_runs(db, settings, registry.task_types, base.id, cand.id)
        out.print((compare_dir / "summary.txt").read_text().rstrip())

        pack = (
            run_dir(settings.artifact_root, DEMO_PROJECT, cand.id)
            / "repro"
            / f"repro-{cand.id}.tar.gz"
        )
        await export_pack(db, settings, cand.id, pack)
        opened += [
            f"{version.ref}:",
            f"  eval report   {eval_dir}",
            f"  plots         {eval_dir / 'plots'}",
            f"  slices        {eval_dir / 'slices.json'}",
            f"  failures      {eval_dir / 'failure_examples.json'}",
            f"  comparison    {compare_dir}",
            f"  repro pack    {pack}  (verify: modellab reproduce {pack})",
        ]
    out.rule("Done: open these")
    for line in opened:
        out.print(line, soft_wrap=True)
    out.print(f"Inspect the data again with: modellab dataset show {versions[0].ref}")
    return versions
