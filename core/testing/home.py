"""A throwaway ModelLab home for one test: its folders, database, project and settings.

The home is a folder of its own (``MODELLAB_HOME`` with a SQLite database,
``MODELLAB_ARTIFACT_ROOT``) with a project created. Its environment also makes the
training processes that runs start load the plugin under test
(:meth:`PluginUnderTest.environment`); the ``modellab_home`` fixture sets it for the
test, and every call here applies it while it runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pandas as pd
import polars as pl

from modellab.access.actor import LOCAL_ACTOR
from modellab.domain import DatasetVersion
from modellab.plugins import Registry
from modellab.runs.artifacts import run_dir
from modellab.runs.options import FEATURE_ROLES, RunOptions, run_features
from modellab.runs.training import Prepared, load_run_frames
from modellab.settings import Settings
from modellab.store.database import Database, open_database
from modellab.testing.subject import PluginUnderTest

T = TypeVar("T")
#: a dataset to ingest: a CSV or Parquet file (or a folder of them), or a frame
Data = Path | str | pd.DataFrame | pl.DataFrame
#: settings of the caller's shell that would point a test's processes elsewhere
FOREIGN = (
    "MODELLAB_TOKEN",
    "MODELLAB_MIGRATION_DATABASE_URL",
    "MODELLAB_REDIS_URL",
)


@dataclass
class ModelLabHome:
    """An isolated ModelLab home with project :attr:`project`, for one plugin under test."""

    root: Path
    subject: PluginUnderTest
    #: the plugin under test and the plugins beside it, nothing else
    registry: Registry
    #: what the home sets in the environment, and what it removes
    env: dict[str, str]
    unset: tuple[str, ...]
    project: str = "p"

    @classmethod
    def create(cls, root: Path, subject: PluginUnderTest, project: str = "p") -> ModelLabHome:
        """Make the home's folders and database under ``root`` and create ``project``."""
        from modellab.projects import create_project

        root.mkdir(parents=True, exist_ok=True)
        home, artifacts = root / "home", root / "artifacts"
        plugin_env, plugin_unset = subject.environment()
        env = {
            "MODELLAB_HOME": str(home),
            "MODELLAB_ARTIFACT_ROOT": str(artifacts),
            "MODELLAB_DATABASE_URL": f"sqlite+aiosqlite:///{home / 'modellab.db'}",
            **plugin_env,
        }
        made = cls(root, subject, subject.registry(), env, (*FOREIGN, *plugin_unset), project)

        async def make_project(db: Database, settings: Settings) -> None:
            await create_project(db, project, project)

        made.call(make_project)
        return made

    @property
    def artifacts(self) -> Path:
        """The artifact root: datasets and run folders."""
        return Path(self.env["MODELLAB_ARTIFACT_ROOT"])

    def settings(self) -> Settings:
        """The settings every ModelLab process of this home reads."""
        environ = {k: v for k, v in os.environ.items() if k not in self.unset}
        return Settings.from_env({**environ, **self.env})

    @contextlib.contextmanager
    def activated(self) -> Iterator[None]:
        """The home's environment, for the processes started meanwhile; restored after."""
        saved = {k: os.environ.get(k) for k in (*self.env, *self.unset)}
        os.environ.update(self.env)
        for key in self.unset:
            os.environ.pop(key, None)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def call(self, fn: Callable[[Database, Settings], Awaitable[T]]) -> T:
        """Run ``fn(db, settings)`` on the home's database, as the local user."""
        settings = self.settings()

        async def main() -> T:
            async with open_database(settings.database_url) as db:
                return await fn(db.as_actor(LOCAL_ACTOR), settings)

        with self.activated():
            if not _in_event_loop():
                return asyncio.run(main())
            # Called from an async test: its loop is busy waiting on this call.
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                return pool.submit(asyncio.run, main()).result()

    def add_dataset(
        self,
        data: Data,
        target: str,
        task: str | None = None,
        name: str | None = None,
        group_column: str | None = None,
    ) -> DatasetVersion:
        """Ingest ``data`` into the project (an 80/20 split, seed 0: at random, or by
        ``group_column``), as ``modellab dataset add`` does; the same bytes return the
        stored version."""
        from modellab.datasets import ingest
        from modellab.datasets.splits import SplitRequest
        from modellab.domain import SplitStrategy

        path = self._data_path(data, name)
        split = (
            SplitRequest()
            if group_column is None
            else SplitRequest(SplitStrategy.GROUP, group_column=group_column)
        )
        req = ingest.AddRequest(
            project=self.project,
            name=name or _dataset_name(path),
            path=path,
            target=target,
            task=task,
            split=split,
        )

        async def add(db: Database, settings: Settings) -> DatasetVersion:
            result = await ingest.add_dataset(db, settings, self.registry.task_types, req)
            return result.version

        return self.call(add)

    def frames(self, version: DatasetVersion, roles: tuple[str, ...] = FEATURE_ROLES) -> Prepared:
        """The train and test frames of ``version`` exactly as a run of it sees them, for
        a template whose input roles are ``roles`` (``Template.input_roles``)."""
        task = self.registry.task_type(version.task)
        features = run_features(version, RunOptions(), roles)
        return load_run_frames(version, self.settings(), task, features)

    def run_folder(self, run_id: str) -> Path:
        """The folder of run ``run_id``: model/, eval/, predictions, logs."""
        return run_dir(self.artifacts, self.project, run_id)

    def _data_path(self, data: Data, name: str | None) -> Path:
        if isinstance(data, str | Path):
            return Path(data).resolve()
        frame: pl.DataFrame = pl.from_pandas(data) if isinstance(data, pd.DataFrame) else data
        folder = self.root / "data"
        folder.mkdir(parents=True, exist_ok=True)
        # Parquet keeps the frame's dtypes (an integer target stays an integer).
        path = folder / f"{name or 'data'}.parquet"
        frame.write_parquet(path)
        return path


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _dataset_name(path: Path) -> str:
    """A dataset name from a file's stem: letters, digits, ``.``, ``_`` and ``-``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-._")[:100]
    return stem or "data"
