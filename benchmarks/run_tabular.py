"""Benchmark: ModelLab's overhead around an XGBoost fit.

A 200,000-row x 20-column classification dataset goes through the same code as
``modellab run`` with the xgboost candidate; the run's phases (load, fit, predict,
write, evaluate) are read from its logs.txt and set next to a bare
``xgboost.XGBClassifier.fit`` of the same rows with the same parameters, timed in this
process. Target: everything beyond the fit takes less than the fit itself (< 1x).

    uv run python benchmarks/run_tabular.py [--rows N]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl


def make_dataset(rows: int, path: Path) -> None:
    rng = np.random.default_rng(0)
    cols: dict[str, object] = {f"x{i}": rng.normal(size=rows) for i in range(15)}
    for i in range(4):
        cols[f"c{i}"] = rng.choice([f"v{k}" for k in range(8)], size=rows)
    logit = sum(np.asarray(cols[f"x{i}"]) * (0.5 - i / 15) for i in range(15)) + (
        np.asarray(cols["c0"]) == "v1"
    )
    cols["y"] = np.where(logit + rng.normal(size=rows) > 0, "yes", "no")
    pl.DataFrame(cols).write_csv(path)


async def modellab_run(csv: Path, home: Path) -> tuple[float, dict[str, float]]:
    from modellab.datasets import ingest
    from modellab.plugins import load_registry
    from modellab.projects import create_project
    from modellab.runs import service
    from modellab.runs.artifacts import run_dir
    from modellab.runs.execute import execute_run
    from modellab.settings import Settings
    from modellab.store.database import open_database

    settings = Settings.from_env(
        {"MODELLAB_HOME": str(home), "MODELLAB_ARTIFACT_ROOT": str(home / "a")}
    )
    async with open_database(settings.database_url) as db:
        await create_project(db, "bench")
        await ingest.add_dataset(db, settings, ingest.AddRequest("bench", "big", csv, "y"))
        registry = load_registry()
        start = time.perf_counter()
        run = await service.create_run(
            db,
            settings,
            registry,
            service.RunRequest(
                "bench", "big", "tabular-classification", "xgboost", 0, ("n_jobs=2",)
            ),
        )
        ended = await execute_run(db, settings, registry, run.id)
        total = time.perf_counter() - start
        assert ended.status.value == "succeeded", ended.status_reason
        logs = (run_dir(settings.artifact_root, "bench", run.id) / "logs.txt").read_text()
    line = next(ln for ln in logs.splitlines() if "timing:" in ln)
    phases = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)s", line)}
    return total, phases


def bare_fit(csv: Path) -> float:
    import xgboost as xgb
    from sklearn.model_selection import train_test_split

    frame = pl.read_csv(csv).to_pandas()
    y = (frame.pop("y") == "yes").astype(int)
    for c in ("c0", "c1", "c2", "c3"):
        frame[c] = frame[c].astype("category")
    x_train, _, y_train, _ = train_test_split(frame, y, test_size=0.2, random_state=0)
    x_fit, x_val, y_fit, y_val = train_test_split(x_train, y_train, test_size=0.1, random_state=0)
    model = xgb.XGBClassifier(
        n_estimators=400,
        learning_rate=0.1,
        max_depth=6,
        early_stopping_rounds=30,
        enable_categorical=True,
        tree_method="hist",
        random_state=0,
        n_jobs=2,
    )
    start = time.perf_counter()
    model.fit(x_fit, y_fit, eval_set=[(x_val, y_val)], verbose=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "bench.csv"
        make_dataset(args.rows, csv)
        fit = bare_fit(csv)
        total, phases = asyncio.run(modellab_run(csv, Path(tmp) / "home"))
    print(f"{args.rows:,} rows x 20 columns, xgboost candidate")
    print(f"bare xgboost fit          {fit:7.2f} s")
    for phase, seconds in phases.items():
        print(f"  modellab {phase:<15} {seconds:7.2f} s")
    overhead = total - phases.get("fit", 0.0)
    ratio = overhead / fit
    print(f"modellab run total        {total:7.2f} s")
    verdict = "OK" if ratio < 1 else "MISSED"
    print(f"overhead beyond the fit   {overhead:7.2f} s = {ratio:.2f}x the bare fit", end="")
    print(f"   target < 1x   {verdict}")


if __name__ == "__main__":
    main()
