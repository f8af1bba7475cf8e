"""Benchmark: the first page of runs of a project with 100,000 runs.

Fills a project with 100,000 runs (bulk inserts), then times the first page of 100
(newest first) through the service the API calls, on SQLite and, when
MODELLAB_TEST_POSTGRES_URL names a server, on PostgreSQL. Next to it, the reference an
OFFSET query would cost for a page deep in the listing, measured in the same run.
Target: first page under 50 ms on both.

    uv run python benchmarks/list_runs.py [--runs 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).parent))
from _server import percentile

REPO = Path(__file__).resolve().parents[1]


async def fill_and_time(url: str, home: Path, runs: int) -> dict[str, float]:
    from modellab.datasets import ingest
    from modellab.domain import CodeVersion, Run, RunStatus
    from modellab.ids import uuid7
    from modellab.plugins import load_registry
    from modellab.projects import create_project
    from modellab.runs import service
    from modellab.settings import Settings
    from modellab.store import runs as repo
    from modellab.store.database import open_database
    from modellab.store.models import RunRow, utcnow

    settings = Settings.from_env(
        {
            "MODELLAB_HOME": str(home),
            "MODELLAB_ARTIFACT_ROOT": str(home / "a"),
            "MODELLAB_DATABASE_URL": url,
        }
    )
    async with open_database(settings.database_url) as db:
        project = await create_project(db, "bench")
        added = await ingest.add_dataset(
            db,
            settings,
            load_registry().task_types,
            ingest.AddRequest("bench", "penguins", REPO / "core/demo_data/penguins.csv", "sex"),
        )
        version = added.version
        code = CodeVersion("bench", "0" * 40, False)
        statuses = [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.QUEUED]
        chunk = 5000
        for start in range(0, runs, chunk):
            rows = []
            for i in range(start, min(runs, start + chunk)):
                run = Run(
                    id=uuid7(),
                    project="bench",
                    dataset_version_id=version.id,
                    dataset_checksum=version.checksum,
                    split_checksum=version.split.checksum,
                    kind="train",
                    template="tabular-classification",
                    model=("xgboost", "logistic_regression", "most_frequent")[i % 3],
                    role="candidate",
                    run_key=uuid.uuid4().hex,
                    seed=i,
                    config={"i": i},
                    code_version=code,
                    environment={"python": "3.11"},
                    status=statuses[i % 3],
                    created_at=utcnow(),
                    metrics={"headline": {"accuracy": {"value": (i % 100) / 100}}},
                )
                rows.append(repo.row_values(run, project.id))
            async with db.session() as session:
                await session.execute(insert(RunRow), rows)
        first = []
        filtered = []
        for _ in range(30):
            t = time.perf_counter()
            page = await service.list_runs_page(db, "bench", limit=100)
            first.append(time.perf_counter() - t)
            assert len(page.items) == 100
            t = time.perf_counter()
            await service.list_runs_page(
                db, "bench", service.RunFilter(model="xgboost", status="succeeded"), limit=100
            )
            filtered.append(time.perf_counter() - t)
        # The reference: what OFFSET pagination pays halfway down the listing.
        offset = []
        for _ in range(5):
            t = time.perf_counter()
            async with db.session() as session:
                await session.scalars(
                    select(RunRow)
                    .where(RunRow.project_id == project.id)
                    .order_by(RunRow.created_at.desc(), RunRow.id.desc())
                    .offset(runs // 2)
                    .limit(100)
                )
            offset.append(time.perf_counter() - t)
    return {
        "first_p50": percentile(first, 50),
        "first_p95": percentile(first, 95),
        "filtered_p95": percentile(filtered, 95),
        "offset_p50": percentile(offset, 50),
    }


async def postgres_database(admin: str) -> tuple[str, str]:
    import asyncpg

    name = f"modellab_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return admin.rsplit("/", 1)[0] + "/" + name, name


async def drop(admin: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = asyncio.run(
            fill_and_time(f"sqlite+aiosqlite:///{tmp}/m.db", Path(tmp) / "s", args.runs)
        )
        admin = os.environ.get("MODELLAB_TEST_POSTGRES_URL")
        if admin:
            url, name = asyncio.run(postgres_database(admin))
            try:
                results["postgresql"] = asyncio.run(fill_and_time(url, Path(tmp) / "p", args.runs))
            finally:
                asyncio.run(drop(admin, name))
    print(f"{args.runs:,} runs in one project; pages of 100, newest first")
    for db, r in results.items():
        verdict = "OK" if r["first_p95"] < 0.05 else "MISSED"
        first = f"p50 {r['first_p50'] * 1000:6.1f} ms  p95 {r['first_p95'] * 1000:6.1f} ms"
        print(
            f"{db:11} first page {first}"
            f"   filtered p95 {r['filtered_p95'] * 1000:6.1f} ms"
            f"   (OFFSET {args.runs // 2:,}: {r['offset_p50'] * 1000:6.1f} ms, "
            f"{r['offset_p50'] / r['first_p50']:.1f}x)   target < 50 ms {verdict}"
        )
    if "postgresql" not in results:
        print("PostgreSQL not measured: set MODELLAB_TEST_POSTGRES_URL (see .ci/run)")


if __name__ == "__main__":
    main()
