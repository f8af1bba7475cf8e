"""The process that trains one claimed run: ``python -m modellab.runs.training_process``.

Started with a run id, it trains that run. Started without one, it is a spare: it
imports the plugins and their libraries and opens the database first, then reads the
run id from stdin (an end of input means it is not needed, and it exits). Either way it
trains one run and exits, so the run's memory is returned when it ends.

The process that claimed the run (:mod:`modellab.runs.job`) started this one and
watches it: it heartbeats the run, and stops this process on a cancel request or a
timeout. Settings come from the environment, as in every other process.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time


def _exit_with_watcher(watcher: int) -> None:
    # When the watching process dies (SIGKILL, lost machine), this process is
    # re-parented; training on would write results for a run the reaper is failing.
    while True:
        if os.getppid() != watcher:
            os._exit(70)
        time.sleep(0.25)


async def _main(run_id: str | None) -> None:
    # Imported here, after the watcher check is running: these take seconds.
    from modellab.plugins import load_registry
    from modellab.runs.training import train_claimed_run
    from modellab.settings import Settings
    from modellab.store.database import open_database

    settings = Settings.from_env()
    registry = load_registry()
    # A spare pays for every import before it is given a run; a run given at start
    # imports only what its own template needs.
    if run_id is None:
        registry.preload()
    # The process that started this one migrated the database: only read the key.
    async with open_database(
        settings.database_url, settings.migration_database_url, migrate=False
    ) as db:
        if run_id is None:
            run_id = (await asyncio.to_thread(sys.stdin.readline)).strip()
            if not run_id:
                return
        await train_claimed_run(db, settings, registry, run_id)


def main(argv: list[str]) -> int:
    """Train the claimed run named in ``argv`` or, without one, on stdin."""
    if len(argv) > 2:
        print("usage: python -m modellab.runs.training_process [RUN_ID]", file=sys.stderr)
        return 2
    watcher = os.environ.get("MODELLAB_WATCHER_PID")
    if watcher and watcher.isdigit():
        threading.Thread(target=_exit_with_watcher, args=(int(watcher),), daemon=True).start()
    asyncio.run(_main(argv[1] if len(argv) == 2 else None))
    # The run recorded its outcome and closed its log: skip the interpreter's teardown
    # of scikit-learn, XGBoost and matplotlib (tenths of a second the watcher waits for).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
