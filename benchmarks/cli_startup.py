"""Benchmark: how long the ``modellab`` command takes to start.

Times ``modellab --help`` and ``modellab runs --project P`` (on a fresh MODELLAB_HOME
holding one project, migrated before the clock starts) as child processes, the median
of ``--repeat`` tries each, next to the reference measured in the same run: a bare
``python -c pass`` of the same interpreter. Targets: ``--help`` under 0.3 s, ``runs``
under 0.8 s. The environment is inherited as it is, PYTHONDONTWRITEBYTECODE included.

    uv run python benchmarks/cli_startup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: the console script uv installs next to the interpreter
MODELLAB = Path(sys.executable).with_name("modellab")


def median_seconds(argv: list[str], env: dict[str, str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ) | {
            "MODELLAB_HOME": str(Path(tmp) / "home"),
            "MODELLAB_ARTIFACT_ROOT": str(Path(tmp) / "artifacts"),
        }
        for name in ("MODELLAB_DATABASE_URL", "MODELLAB_MIGRATION_DATABASE_URL", "MODELLAB_TOKEN"):
            env.pop(name, None)
        # Creating the project also migrates the new database: that is paid once, not
        # by every command, so it stays out of the timings.
        subprocess.run(
            [str(MODELLAB), "project", "create", "P", "--slug", "p"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        reference = median_seconds([sys.executable, "-c", "pass"], env, args.repeat)
        cases = [
            ("modellab --help", [str(MODELLAB), "--help"], 0.3),
            ("modellab runs --project p", [str(MODELLAB), "runs", "--project", "p"], 0.8),
        ]
        results = [
            (label, median_seconds(argv, env, args.repeat), target) for label, argv, target in cases
        ]
    print(f"median of {args.repeat} starts each; reference python -c pass {reference:.3f} s")
    for label, seconds, target in results:
        verdict = "OK" if seconds < target else "MISSED"
        print(
            f"{label:<27} {seconds:6.3f} s = {seconds / reference:5.1f}x python -c pass"
            f"   target < {target} s   {verdict}"
        )


if __name__ == "__main__":
    main()
