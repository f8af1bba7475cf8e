"""Faults: a lost worker, crash leftovers, a full disk, identical uploads at once.

Each fault is made for real where this machine allows it: a worker killed with SIGKILL,
a tmpfs of a few hundred kilobytes as a full disk (skipped where mounting is not
permitted), XGBoost writing to /dev/full. So that a machine without ``mount`` (CI)
checks the same answers, every full-disk test also runs on a simulated disk: files
opened for writing under a folder fail with ENOSPC once it is full, and renames into it
from elsewhere fail with EXDEV, as they do into a file system of its own.
"""

from __future__ import annotations

import asyncio
import builtins
import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import pytest
import xgboost as xgb
from arq import create_pool

from modellab.ids import uuid7
from modellab.runs.artifacts import write_bytes_atomic
from modellab.runs.executors import LocalExecutor
from modellab.runs.lifecycle import claim_run
from modellab.runs.reasons import failure_reason, reason_from_output
from modellab.server.worker import ArqExecutor, deserialize, redis_settings
from modellab.settings import Settings
from modellab.store.database import open_database
from tests.server.conftest import FAST, PENGUINS, Api, QueueOnly, make_settings
from tests.server.test_run_lifecycle import BODY, _child_pids, _wait_for, alive
from tests.server.test_worker import Redis, redis, worker_env  # noqa: F401  (a fixture)

CODE = {"modellab_version": "test", "git_commit": "0123abcd", "git_dirty": False}
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _status(api: Api, run_id: str) -> str:
    status: str = api.ok("GET", f"/api/runs/{run_id}")["status"]
    return status


# --- 1. A run whose worker is gone fails within the stale period, worker or not ---------


def test_the_api_reaps_runs_whose_heartbeat_stopped_with_no_worker_alive(
    api_factory: Callable[..., Api],
    redis: Redis,  # noqa: F811
) -> None:
    stale = 2.0
    api = api_factory(
        ArqExecutor, redis_url=redis.url, stale_after_seconds=stale, heartbeat_seconds=0.5
    )
    api.ok("POST", "/api/projects", 201, json={"name": "p"})
    api.upload("p", "penguins", PENGUINS, target="sex", split="stratified")
    lost = api.ok("POST", "/api/runs", 202, json=BODY | {"model": "most_frequent"})
    unstarted = api.ok("POST", "/api/runs", 202, json=BODY | {"model": "logistic_regression"})

    async def claim_both() -> None:
        # What a worker does before it dies: claim (one heartbeat) and never beat again.
        async with open_database(api.settings.database_url) as db:
            for run in (lost, unstarted):
                assert await claim_run(db, run["id"])

    asyncio.run(claim_both())
    claimed = time.monotonic()
    folder = api.settings.artifact_root / "p" / lost["id"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "logs.txt").write_text("fitting\n")  # it had started training
    time.sleep(stale / 2)
    assert _status(api, lost["id"]) == "running", "reaped before its heartbeat was stale"

    ended = api.wait(lost["id"], timeout=stale + 6)
    elapsed = time.monotonic() - claimed
    assert ended["status"] == "failed"
    assert "stopped responding" in ended["status_reason"]
    assert elapsed < stale + 3, f"reaped {elapsed:.1f} s after the last heartbeat"
    # The one that had not started goes back to the queue, and to Redis, once.
    _wait_for(lambda: _status(api, unstarted["id"]) == "queued", timeout=5)

    async def queued_in_redis() -> list[list[Any]]:
        pool = await create_pool(redis_settings(redis.url), job_deserializer=deserialize)
        try:
            return [list(j.args) for j in await pool.queued_jobs()]
        finally:
            await pool.aclose()

    jobs = asyncio.run(queued_in_redis())
    assert jobs.count([unstarted["id"]]) == 2, jobs


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_run_whose_only_worker_was_killed_fails_within_the_stale_period(
    api_factory: Callable[..., Api],
    redis: Redis,  # noqa: F811
    tmp_path: Path,
    database_url: str,
) -> None:
    stale = 3.0
    api = api_factory(
        lambda db, s: ArqExecutor(db, s, resubmit_every=2.0),
        redis_url=redis.url,
        stale_after_seconds=stale,
        heartbeat_seconds=0.5,
    )
    api.ok("POST", "/api/projects", 201, json={"name": "p"})
    api.upload("p", "penguins", PENGUINS, target="sex", split="stratified")
    env = worker_env(make_settings(tmp_path, database_url), redis.url, stale)
    with (tmp_path / "worker.log").open("wb") as worker_log:
        worker = subprocess.Popen(
            [sys.executable, "-c", "from modellab.cli import main; main()", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=worker_log,
        )
    try:
        long = {"n_estimators": 100000, "early_stopping_rounds": 100000}
        run = api.ok("POST", "/api/runs", 202, json=BODY | {"model": "xgboost", "config": long})
        child = _wait_for(lambda: _child_pids(run["id"]), timeout=90)[0]
        log = api.settings.artifact_root / "p" / run["id"] / "logs.txt"
        _wait_for(lambda: log.exists() and "fitting" in log.read_text(), timeout=60)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        killed = time.monotonic()
        # No other worker starts: the API itself must notice.
        ended = api.wait(run["id"], timeout=stale + 10)
        elapsed = time.monotonic() - killed
        assert ended["status"] == "failed"
        assert "stopped responding" in ended["status_reason"]
        assert elapsed < stale + 4, f"failed {elapsed:.1f} s after the kill"
        _wait_for(lambda: not alive(child), timeout=5)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


# --- 2. Crash leftovers are removed at start-up once older than any live request ----------


def _age(path: Path, seconds: float) -> None:
    """Backdate ``path`` and everything under it."""
    when = time.time() - seconds
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (when, when), follow_symlinks=False)


def _make(path: Path, data: bytes = b"x" * 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@SQLITE_ONLY
def test_start_up_removes_old_crash_leftovers_and_keeps_young_ones(
    api_factory: Callable[..., Api], tmp_path: Path
) -> None:
    home, root = tmp_path / "home", tmp_path / "artifacts"
    run = root / "p" / uuid7()
    datasets = root / "p" / "datasets"
    old = {
        # a spooled upload, a staged dataset, a tracked file, run.json, an eval, a model
        home / "uploads" / "tmpa1b2c3d4": "penguins.csv",
        datasets / f".staging-{uuid7()}": "source/.part-0",
        run / "files" / "weights" / f".x.bin.{uuid7()}.tmp": None,
        run / ".run.json.tmp-4242": None,
        run / ".eval-k2j3h4l5": "eval/metrics.json",
        run / ".model.tmp": "model.ubj",
    }
    # Young ones may belong to a request in progress, here or on another server.
    young = {
        home / "uploads" / "tmpz9y8x7w6": "big.csv",
        datasets / f".staging-{uuid7()}": "source/.part-0",
        run / "files" / f".y.bin.{uuid7()}.tmp": None,
    }
    kept = [
        run / "run.json",
        run / "logs.txt",
        run / "files" / "weights" / "x.bin",
        datasets / ("ab" * 32) / "data.parquet",
        root / "p" / "notes.txt",
    ]
    for top, inner in old.items():
        _make(top / inner if inner else top)
        _age(top, 2 * 24 * 3600)
    for top, inner in young.items():
        _make(top / inner if inner else top)
    # A live add writing into a folder it made long ago: its newest write counts.
    busy = datasets / f".staging-{uuid7()}"
    _make(busy / "source" / ".part-0")
    _age(busy, 2 * 24 * 3600)
    _make(busy / "data.parquet")
    young[busy] = None
    for path in kept:
        _make(path)
        _age(path, 30 * 24 * 3600)

    api_factory(QueueOnly)

    assert [p for p in old if p.exists()] == []
    assert [p for p in young if not p.exists()] == []
    assert [p for p in kept if not p.exists()] == []


# --- 3. A full disk answers 507, leaves nothing behind, and fails runs in one line ------


@dataclass
class _Room:
    size: int
    left: int = -1

    def __post_init__(self) -> None:
        self.left = self.size


class _FillingFile:
    """A file that takes writes until its folder's room is used up, then ENOSPC."""

    def __init__(self, inner: Any, room: _Room) -> None:
        self._inner, self._room = inner, room

    def write(self, data: Any) -> int:
        size = len(data) if isinstance(data, str) else memoryview(data).nbytes
        if size > self._room.left:
            if self._room.left:
                self._inner.write(data[: self._room.left])
            self._room.left = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room.left -= size
        written: int = self._inner.write(data)
        return written

    def fileno(self) -> int:
        # Without a descriptor shutil copies through write() instead of os.sendfile.
        raise io.UnsupportedOperation("fileno")

    def __enter__(self) -> _FillingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@dataclass
class FullDisk:
    """Folders that hold ``room`` bytes and no more: a tmpfs each, or simulated."""

    kind: str
    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch
    mounts: list[Path] = field(default_factory=list)
    rooms: dict[Path, _Room] = field(default_factory=dict)

    def folder(self, name: str, room: int) -> Path:
        path = self.tmp_path / name
        path.mkdir()
        if self.kind == "tmpfs":
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={room}", "tmpfs", str(path)],
                capture_output=True,
            )
            if done.returncode != 0:
                pytest.skip("mounting a tmpfs is not permitted here; the simulated disk runs")
            self.mounts.append(path)
        else:
            if not self.rooms:
                self._simulate()
            self.rooms[path] = _Room(room)
        return path

    def _inside(self, file: Any) -> Path | None:
        if not isinstance(file, str | os.PathLike):
            return None
        path = Path(os.path.abspath(os.fspath(file)))  # noqa: PTH100
        return next((root for root in self.rooms if path.is_relative_to(root)), None)

    def _simulate(self) -> None:
        real_open, real_rename, real_replace = io.open, os.rename, os.replace

        def filling_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            inner = real_open(file, mode, *args, **kwargs)
            root = self._inside(file)
            if root is None or not any(c in mode for c in "wax+"):
                return inner
            return _FillingFile(inner, self.rooms[root])

        def moving(real: Callable[..., None]) -> Callable[..., None]:
            def move(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
                if self._inside(src) != self._inside(dst):
                    raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
                real(src, dst, *args, **kwargs)

            return move

        for owner in (io, builtins):
            self.monkeypatch.setattr(owner, "open", filling_open)
        self.monkeypatch.setattr(tarfile, "bltn_open", filling_open)
        self.monkeypatch.setattr(os, "rename", moving(real_rename))
        self.monkeypatch.setattr(os, "replace", moving(real_replace))

    def make_room(self) -> None:
        """What a failed request wrote is gone: a simulated disk has its room back too."""
        for room in self.rooms.values():
            room.left = room.size

    def unmount(self) -> None:
        for path in self.mounts:
            subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture(params=["tmpfs", "simulated"])
def full_disk(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FullDisk]:
    """Make folders that fill up: a real tmpfs (root only) or the simulation."""
    if request.param == "tmpfs" and (os.geteuid() != 0 or shutil.which("mount") is None):
        pytest.skip("mounting a tmpfs needs root and mount; the simulated disk runs")
    disk = FullDisk(request.param, tmp_path, monkeypatch)
    yield disk
    monkeypatch.undo()
    disk.unmount()


def _big_csv(path: Path, mb: float = 2.0) -> Path:
    rng = np.random.default_rng(0)
    rows = int(mb * 1024 * 1024 / 40)
    frame = pl.DataFrame(
        {"a": rng.random(rows), "b": rng.random(rows), "y": rng.integers(0, 2, rows)}
    )
    frame.write_csv(path)
    return path


def _upload_big_csv(api: Api, tmp_path: Path) -> httpx.Response:
    """Upload a 2 MB CSV as dataset ``big`` of project ``p``; the raw answer."""
    big = _big_csv(tmp_path / "big.csv")
    with big.open("rb") as f:
        return api.client.post(
            "/api/projects/p/datasets",
            files={"file": ("big.csv", f, "text/csv")},
            data={"name": "big", "target": "y"},
        )


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _assert_disk_full(response: httpx.Response, settings: Settings) -> None:
    assert response.status_code == 507, response.text
    problem = response.json()
    assert problem["type"].endswith("/disk-full")
    detail = problem["detail"]
    assert "disk is full" in detail and "\n" not in detail, detail
    # No path of this server, not even one redacted to "<artifact root>/...".
    for path in (str(settings.artifact_root), str(settings.home), "<"):
        assert path not in detail, detail


@SQLITE_ONLY
def test_a_dataset_upload_into_a_full_artifact_root_answers_507_and_leaves_nothing(
    api_factory: Callable[..., Api], full_disk: FullDisk, tmp_path: Path
) -> None:
    root = full_disk.folder("artifacts", 256 * 1024)
    api = api_factory(QueueOnly, artifact_root=root)
    api.ok("POST", "/api/projects", 201, json={"name": "p"})
    _assert_disk_full(_upload_big_csv(api, tmp_path), api.settings)
    assert _files_under(root) == []
    assert list((api.settings.home / "uploads").iterdir()) == []
    assert api.ok("GET", "/api/projects/p/datasets") == []
    # Nothing stayed: the room the upload took is free again, and a file fits.
    full_disk.make_room()
    api.upload("p", "penguins", PENGUINS, target="sex")


@SQLITE_ONLY
def test_an_upload_spooled_onto_a_full_disk_answers_507_and_leaves_nothing(
    api_factory: Callable[..., Api], full_disk: FullDisk, tmp_path: Path
) -> None:
    home = full_disk.folder("home", 256 * 1024)
    api = api_factory(QueueOnly, home=home)
    api.ok("POST", "/api/projects", 201, json={"name": "p"})
    _assert_disk_full(_upload_big_csv(api, tmp_path), api.settings)
    assert list((home / "uploads").iterdir()) == []
    assert _files_under(api.settings.artifact_root) == []


def _tracked_run(api: Api) -> dict[str, Any]:
    api.ok("POST", "/api/projects", 201, json={"name": "p"})
    api.upload("p", "penguins", PENGUINS, target="sex")
    body = {"project": "p", "dataset": "penguins@1", "name": "r", "seed": 1, "code_version": CODE}
    run: dict[str, Any] = api.ok("POST", "/api/tracked-runs", 201, json=body)
    return run


@SQLITE_ONLY
def test_a_tracked_file_onto_a_full_disk_answers_507_and_leaves_no_temporary_file(
    api_factory: Callable[..., Api], full_disk: FullDisk
) -> None:
    root = full_disk.folder("artifacts", 256 * 1024)
    api = api_factory(QueueOnly, artifact_root=root)
    run = _tracked_run(api)
    before = _files_under(root)
    response = api.client.post(
        f"/api/runs/{run['id']}/files",
        files={"file": ("x.bin", os.urandom(1024 * 1024), "application/octet-stream")},
        data={"path": "weights/x.bin"},
    )
    _assert_disk_full(response, api.settings)
    assert _files_under(root) == before
    assert list((api.settings.home / "uploads").iterdir()) == []
    full_disk.make_room()
    stored = api.ok(
        "POST",
        f"/api/runs/{run['id']}/files",
        201,
        files={"file": ("x.bin", b"small", "application/octet-stream")},
        data={"path": "weights/x.bin"},
    )
    assert stored == {"path": "files/weights/x.bin"}


@SQLITE_ONLY
def test_an_eval_archive_onto_a_full_disk_answers_507_and_leaves_nothing(
    api_factory: Callable[..., Api], full_disk: FullDisk, tmp_path: Path
) -> None:
    root = full_disk.folder("artifacts", 256 * 1024)
    api = api_factory(QueueOnly, artifact_root=root)
    run = _tracked_run(api)
    before = _files_under(root)
    eval_dir = tmp_path / "eval"
    _make(eval_dir / "plots" / "big.png", os.urandom(1024 * 1024))
    archive = tmp_path / "eval.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(eval_dir, arcname="eval")
    with archive.open("rb") as f:
        response = api.client.post(
            f"/api/runs/{run['id']}/eval", files={"file": ("eval.tar", f, "application/x-tar")}
        )
    _assert_disk_full(response, api.settings)
    assert _files_under(root) == before


def test_the_atomic_writer_leaves_no_temporary_file_on_a_full_disk(full_disk: FullDisk) -> None:
    folder = full_disk.folder("run", 64 * 1024)
    target = folder / "run.json"
    write_bytes_atomic(target, b"{}\n")
    with pytest.raises(OSError) as caught:
        write_bytes_atomic(target, b"x" * 1024 * 1024)
    assert caught.value.errno == errno.ENOSPC
    assert sorted(p.name for p in folder.iterdir()) == ["run.json"]
    assert target.read_bytes() == b"{}\n"


def _dev_full_errors() -> list[BaseException]:
    """What XGBoost, polars and numpy raise when the disk is full (they write /dev/full)."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this machine")
    x = np.random.default_rng(0).random((50, 3))
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(x, x[:, 0] > 0.5), 5)
    errors: list[BaseException] = []
    for write in (
        lambda: booster.save_model("/dev/full"),
        lambda: pl.DataFrame({"a": np.arange(100_000)}).write_parquet("/dev/full"),
        lambda: Path("/dev/full").write_bytes(b"x" * 100_000),
    ):
        try:
            write()
        except Exception as exc:
            errors.append(exc)
    assert len(errors) == 3
    return errors


@pytest.mark.filterwarnings("ignore:.*UBJSON format as default:UserWarning")
def test_a_native_disk_full_error_becomes_a_one_line_run_reason() -> None:
    for exc in _dev_full_errors():
        reason = failure_reason(exc)
        assert "\n" not in reason and "/" not in reason, reason
        assert reason.startswith("the disk is full"), reason


def test_other_native_errors_become_their_first_line_without_paths() -> None:
    native = xgb.core.XGBoostError(
        "[02:06:06] /__w/xgboost/xgboost/src/learner.cc:1024: Check failed: n_features > 0: "
        "the data has no feature\nStack trace:\n  [bt] (0) /srv/venv/lib/libxgboost.so(+0x2c1a8c)"
    )
    assert (
        failure_reason(native)
        == "XGBoostError: Check failed: n_features > 0: the data has no feature"
    )
    crash = [
        "Traceback (most recent call last):",
        '  File "/srv/app/core/runs/training_process.py", line 40, in _main',
        "    await train_claimed_run(db, settings, registry, run_id)",
        "OSError: [Errno 28] No space left on device: '/srv/artifacts/p/r/.run.json.tmp-7'",
    ]
    assert reason_from_output(crash).startswith("the disk is full")
    abort = [
        "terminate called after throwing an instance of 'dmlc::Error'",
        "  what():  [02:06:06] /__w/xgboost/src/tree/updater.cc:88: Check failed: ok: bad tree",
        "Stack trace:",
        "  [bt] (0) /srv/venv/lib/libxgboost.so(+0x2c1a8c) [0x7f08034c1a8c]",
    ]
    assert reason_from_output(abort) == "Check failed: ok: bad tree"
    assert reason_from_output(["ValueError: bad value in /srv/data/x.csv"]) == (
        "ValueError: bad value in x.csv"
    )


@SQLITE_ONLY
def test_a_run_on_a_full_disk_fails_with_a_one_line_reason(
    api_factory: Callable[..., Api], full_disk: FullDisk
) -> None:
    if full_disk.kind != "tmpfs":
        pytest.skip("XGBoost writes natively: only a real full disk stops it")
    root = full_disk.folder("artifacts", 512 * 1024)
    api = api_factory(
        lambda db, s: LocalExecutor(db, s, parallel=1, timing=FAST, spares=0),
        artifact_root=root,
    )
    api.ok("POST", "/api/projects", 201, json={"name": "p"})
    api.upload("p", "penguins", PENGUINS, target="sex", split="stratified")
    # 2,000 trees take about 2 MB: more than the disk holds.
    config = {"n_estimators": 2000, "early_stopping_rounds": 2000}
    run = api.ok("POST", "/api/runs", 202, json=BODY | {"model": "xgboost", "config": config})
    ended = api.wait(run["id"], timeout=120)
    reason = ended["status_reason"]
    assert ended["status"] == "failed"
    assert reason.startswith("the disk is full"), reason
    assert "\n" not in reason and "/" not in reason, reason
    folder = root / "p" / run["id"]
    assert {p.name for p in folder.iterdir()} <= {"run.json", "config.json", "logs.txt"}
    assert json.loads((folder / "run.json").read_text())["run"]["status"] == "failed"


# --- 4. Identical uploads at once all get the version the first one added ---------------


def test_identical_uploads_at_once_all_get_the_same_version(
    live: tuple[str, Settings],
) -> None:
    url, settings = live
    httpx.post(f"{url}/api/projects", json={"name": "p"}).raise_for_status()
    data = PENGUINS.read_bytes()
    start = threading.Barrier(8)

    def upload(_: int) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=120) as client:
            start.wait()
            return client.post(
                "/api/projects/p/datasets",
                files={"file": ("penguins.csv", data, "text/csv")},
                data={"name": "penguins", "target": "sex"},
            )

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(upload, range(8)))
    assert [r.status_code for r in responses] == [201] * 8, [
        r.text for r in responses if r.status_code != 201
    ]
    assert len({r.json()["id"] for r in responses}) == 1
    listed = httpx.get(f"{url}/api/projects/p/datasets").json()
    assert [(v["name"], v["version"]) for v in listed] == [("penguins", 1)]
    datasets = settings.artifact_root / "p" / "datasets"
    assert [p.name for p in datasets.iterdir()] == [listed[0]["checksum"]]
    assert (datasets / listed[0]["checksum"] / "data.parquet").is_file()


# --- a full disk under the database -------------------------------------------------------


def test_a_database_on_a_full_disk_answers_507(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    import asyncpg
    from sqlalchemy.exc import OperationalError

    from modellab import projects
    from modellab.diskfull import is_disk_full

    # What each driver raises when its files cannot grow.
    assert is_disk_full(asyncpg.exceptions.DiskFullError("could not extend file"))
    full = OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))
    assert is_disk_full(full)
    assert not is_disk_full(OperationalError("INSERT", {}, sqlite3.OperationalError("locked")))

    async def no_room(*args: Any, **kwargs: Any) -> Any:
        raise full

    monkeypatch.setattr(projects, "create_project", no_room)
    response = api.client.post("/api/projects", json={"name": "q"})
    assert response.status_code == 507, response.text
    problem = response.json()
    assert problem["type"].endswith("disk-full") and "Traceback" not in response.text
