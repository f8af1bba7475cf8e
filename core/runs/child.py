"""The training process of one claimed run: ``python -m modellab.runs.child RUN_ID``.

The process that claimed the run (a worker, or the server's embedded executor) starts
this one and watches it: it heartbeats the run, and stops this process on a cancel
request or a timeout. Settings come from the environment, as in every other process.
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


async def _main(run_id: str) -> None:
    # Imported here, after the watcher check is running: these take seconds.
    from modellab.plugins import load_registry
    from modellab.runs.execute import execute_claimed
    from modellab.settings import Settings
    from modellab.store.database import open_database

    settings = Settings.from_env()
    async with open_database(settings.database_url, settings.migration_database_url) as db:
        await execute_claimed(db, settings, load_registry(), run_id)


def main(argv: list[str]) -> int:
    """Execute the claimed run named in ``argv``; the run records its own outcome."""
    if len(argv) != 2:
        print("usage: python -m modellab.runs.child RUN_ID", file=sys.stderr)
        return 2
    watcher = os.environ.get("MODELLAB_WATCHER_PID")
    if watcher and watcher.isdigit():
        threading.Thread(target=_exit_with_watcher, args=(int(watcher),), daemon=True).start()
    asyncio.run(_main(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
