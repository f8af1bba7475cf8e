"""``modellab demo``: the README's promise on the datasets that ship with ModelLab.

It is idempotent: a second run finds the project and the same bytes and reuses them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path

from rich.console import Console

from modellab import console as render
from modellab.datasets import ingest
from modellab.datasets.splits import SplitRequest
from modellab.domain import DatasetVersion, SplitStrategy
from modellab.errors import ConflictError
from modellab.projects import create_project
from modellab.settings import Settings
from modellab.store.database import Database

DEMO_PROJECT = "demo"


@dataclass(frozen=True)
class DemoDataset:
    """A bundled dataset and how the demo ingests it."""

    file: str
    name: str
    target: str
    task: str
    split: SplitStrategy
    source: str


DEMO_DATASETS = (
    DemoDataset(
        "penguins.csv",
        "penguins",
        "species",
        "classification",
        SplitStrategy.STRATIFIED,
        "Palmer Station penguins (Gorman et al. 2014), CC0, via palmerpenguins 0.1.6",
    ),
    DemoDataset(
        "cars.csv",
        "cars",
        "miles_per_gallon",
        "regression",
        SplitStrategy.RANDOM,
        "Auto MPG (Donoho & Ramos 1982, StatLib), via vega-datasets 0.9.0",
    ),
)


def demo_file(name: str) -> Path:
    """The path of a bundled demo file (inside the installed package)."""
    with as_file(files("modellab.demo_data") / name) as path:
        return Path(path)


async def run_demo(
    db: Database, settings: Settings, out: Console, progress: Callable[[str], None]
) -> list[DatasetVersion]:
    """Create the demo project, ingest the bundled datasets and print their inspection."""
    try:
        await create_project(db, "ModelLab demo", DEMO_PROJECT)
        out.print(f"created project {DEMO_PROJECT}")
    except ConflictError:
        out.print(f"using existing project {DEMO_PROJECT}")
    versions = []
    for d in DEMO_DATASETS:
        req = ingest.AddRequest(
            project=DEMO_PROJECT,
            name=d.name,
            path=demo_file(d.file),
            target=d.target,
            task=d.task,
            split=SplitRequest(d.split, 0.2, 0),
            source=d.source,
        )
        result = await ingest.add_dataset(db, settings, req, progress)
        versions.append(result.version)
        out.rule(
            f"Dataset {result.version.ref}" + ("" if result.created else " (already ingested)")
        )
        render.print_dataset(out, result.version)
    out.rule("Done")
    out.print("Datasets ingested and profiled. Next:")
    for v in versions:
        out.print(f"  modellab dataset show {v.ref}")
    out.print(f"  artifacts: {settings.artifact_root / DEMO_PROJECT / 'datasets'}")
    return versions
