"""Benchmark: ModelLab's overhead around an XGBoost fit.

A 200,000-row x 20-column classification dataset goes through the same code as
``modellab run`` with the xgboost candidate; the run's phases (load, fit, predict,
write, evaluate) are read from its logs.txt and set next to a bare
``xgboost.XGBClassifier.fit`` on the run's own train rows with the same parameters and
the same validation carve-out, so both fits stop at the same round. Both sides are
timed in this process with their imports done (a worker preloads its plugins), and
each is the fastest of ``--repeat`` tries. Target: everything beyond the bare fit,
ModelLab's own fit overhead included, takes less than the fit itself (< 1x).

    uv run python benchmarks/run_tabular.py [--rows N] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from pathlib import Path
from typing import Any

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


async def modellab_run(csv: Path, home: Path, repeat: int) -> tuple[float, dict[str, float], Any]:
    """Run the xgboost candidate; return its wall time, its phases and its train frame."""
    from modellab.datasets import ingest
    from modellab.plugins import load_registry
    from modellab.projects import create_project
    from modellab.runs import service
    from modellab.runs.artifacts import run_dir
    from modellab.runs.execute import execute_run, load_run_frames
    from modellab.settings import Settings
    from modellab.store.database import open_database

    settings = Settings.from_env(
        {"MODELLAB_HOME": str(home), "MODELLAB_ARTIFACT_ROOT": str(home / "a")}
    )
    async with open_database(settings.database_url) as db:
        await create_project(db, "bench")
        added = await ingest.add_dataset(db, settings, ingest.AddRequest("bench", "big", csv, "y"))
        registry = load_registry()
        # A worker preloads its plugins once at start, as the bare fit below has its
        # imports done before its clock starts; the import time is printed on its own.
        started = time.perf_counter()
        registry.preload()
        imports = time.perf_counter() - started
        # The fastest of ``repeat`` identical runs: this machine's speed wanders, and
        # the fastest run is the one least disturbed by anything else.
        runs = []
        for _ in range(repeat):
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
            runs.append((time.perf_counter() - start, run.id))
            assert ended.status.value == "succeeded", ended.status_reason
        total, run_id = min(runs)
        logs = (run_dir(settings.artifact_root, "bench", run_id) / "logs.txt").read_text()
    line = next(ln for ln in logs.splitlines() if "timing:" in ln)
    phases = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)s", line)}
    best = re.search(r"best iteration (\d+)", logs)
    phases["best_iteration"] = float(best.group(1)) if best else -1.0
    phases["imports"] = imports
    return total, phases, load_run_frames(added.version, settings).train


def bare_fit(train: Any, repeat: int) -> tuple[float, int]:
    """XGBoost alone on the run's own train rows, with the same validation carve-out.

    The same rows and the same stratified 10% validation split (same seed) make early
    stopping stop at the same round, so the two fits do the same work.
    """
    import xgboost as xgb
    from sklearn.model_selection import train_test_split

    from modellab.modeling.features import TARGET

    frame = train.copy()
    labels = frame.pop(TARGET).astype(str).to_numpy()
    classes = np.asarray(sorted(set(labels)), dtype=object)
    codes = np.searchsorted(classes, labels)
    for c in ("c0", "c1", "c2", "c3"):
        frame[c] = frame[c].astype("category")
    x_fit, x_val, y_fit, y_val = train_test_split(
        frame, codes, test_size=0.1, random_state=0, stratify=codes
    )
    times = []
    for _ in range(repeat):
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
        times.append(time.perf_counter() - start)
    return min(times), int(model.best_iteration)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs and fits; the fastest counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "bench.csv"
        make_dataset(args.rows, csv)
        total, phases, train = asyncio.run(modellab_run(csv, Path(tmp) / "home", args.repeat))
        fit, bare_best = bare_fit(train, args.repeat)
    imports = phases.pop("imports")
    best = int(phases.pop("best_iteration"))
    print(f"{args.rows:,} rows x 20 columns, xgboost candidate")
    print(f"bare xgboost fit          {fit:7.2f} s   (best iteration {bare_best})")
    for phase, seconds in phases.items():
        print(f"  modellab {phase:<15} {seconds:7.2f} s")
    # Everything beyond the bare fit counts, including ModelLab's own fit overhead
    # (feature preparation, category encoding, the validation carve-out).
    overhead = total - fit
    ratio = overhead / fit
    print(f"modellab run total        {total:7.2f} s   (best iteration {best})")
    print(f"  (plugin imports, paid once per worker process: {imports:.2f} s)")
    verdict = "OK" if ratio < 1 else "MISSED"
    print(f"overhead beyond the fit   {overhead:7.2f} s = {ratio:.2f}x the bare fit", end="")
    print(f"   target < 1x   {verdict}")


if __name__ == "__main__":
    main()
