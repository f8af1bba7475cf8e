"""Benchmark: ``modellab dataset add`` against a bare ``polars.read_csv`` of the same file.

Generates (once, cached in benchmarks/.data/) a 1,000,000-row x 20-column CSV: 12 float
columns with ~5% missing, 4 integer, 4 categorical with ~10 levels (the last one,
``c3``, is the classification target). Then, in this process, times polars' bare read,
and the whole ingest (checksum + parse + schema + profile + split + Parquet + database
row). Peak memory is measured in a child process running only the ingest, against a child that only
imports ModelLab. Targets: ingest within 4x of the bare read; peak memory under 3x
the file size.

    uv run python benchmarks/profile_csv.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

DATA = Path(__file__).resolve().parent / ".data"


def generate(rows: int) -> Path:
    path = DATA / f"bench_{rows}.csv"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    cols: dict[str, object] = {}
    for i in range(12):
        values = rng.normal(loc=i, scale=1 + i, size=rows).round(5)
        mask = rng.random(rows) < 0.05
        cols[f"f{i}"] = pl.Series(values).set(pl.Series(mask), None)  # type: ignore[arg-type]
    for i in range(4):
        cols[f"i{i}"] = rng.integers(0, 1000 * (i + 1), size=rows)
    levels = [f"level_{k}" for k in range(10)]
    for i in range(4):
        cols[f"c{i}"] = rng.choice(levels, size=rows)
    frame = pl.DataFrame(cols)
    tmp = path.with_suffix(".tmp")
    frame.write_csv(tmp)
    tmp.replace(path)
    return path


async def ingest(path: Path, home: Path) -> float:
    from modellab.datasets import ingest as svc
    from modellab.plugins import load_registry
    from modellab.projects import create_project
    from modellab.settings import Settings
    from modellab.store.database import open_database

    settings = Settings.from_env(
        {"MODELLAB_HOME": str(home), "MODELLAB_ARTIFACT_ROOT": str(home / "artifacts")}
    )
    async with open_database(settings.database_url) as db:
        await create_project(db, "bench")
        task_types = load_registry().task_types
        start = time.perf_counter()
        await svc.add_dataset(
            db, settings, task_types, svc.AddRequest("bench", "big", path, target="c3")
        )
        return time.perf_counter() - start


def child_peak_rss(code: str) -> int:
    """Peak resident memory (bytes) of a child Python process running ``code``."""
    probe = "\nimport resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    out = subprocess.run(
        [sys.executable, "-c", code + probe], check=True, capture_output=True, text=True
    ).stdout
    return int(out.split()[-1]) * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = generate(args.rows)
    size = path.stat().st_size
    print(f"file: {path.name}, {size / 2**20:.0f} MB, {args.rows:,} rows x 20 columns")

    # Memory first, while this process is small: a child inherits its parent's resident
    # pages until it execs, and ru_maxrss counts them.
    base = child_peak_rss("import modellab.datasets.ingest, modellab.store.database")
    with tempfile.TemporaryDirectory() as tmp:
        here = str(Path(__file__).parent)
        code = (
            f"import asyncio, sys; sys.path.insert(0, {here!r})\n"
            "from profile_csv import ingest\n"
            "from pathlib import Path\n"
            f"asyncio.run(ingest(Path({str(path)!r}), Path({tmp!r})))\n"
        )
        peak = child_peak_rss(code)
    extra = peak - base
    print(
        f"peak memory           {peak / 2**20:7.0f} MB ({extra / 2**20:.0f} MB above an idle "
        f"import of {base / 2**20:.0f} MB) = {extra / size:.2f}x the file   target < 3x   "
        f"{'OK' if extra < 3 * size else 'MISSED'}"
    )

    read_times, add_times = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        pl.read_csv(path)
        read_times.append(time.perf_counter() - start)
        with tempfile.TemporaryDirectory() as tmp:
            add_times.append(asyncio.run(ingest(path, Path(tmp))))
    read, add = min(read_times), min(add_times)
    print(f"polars.read_csv       {read:7.2f} s (best of {args.repeat})")
    print(f"modellab dataset add  {add:7.2f} s (best of {args.repeat})")
    ratio = add / read
    print(
        f"ratio                 {ratio:7.2f}x   target <= 4x   {'OK' if ratio <= 4 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
