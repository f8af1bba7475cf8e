"""Benchmark: how much disk the project's environment takes, and what takes it.

Sums the sizes of the files every installed distribution lists (importlib.metadata's
RECORD, so bytecode written later is not counted), and the size of each one's wheel as
uv.lock records it (what a first ``uv run`` downloads into uv's cache for this machine),
and prints the totals and the largest distributions. It measures the interpreter it runs
under, so ``uv run`` measures the project's ``.venv``: default dependencies and the dev
group, as a plain ``uv run`` installs them. The GPU build of XGBoost and NVIDIA's NCCL
are ~700 MB on Linux x86_64; the default is ``xgboost-cpu`` (docs/install.md), and a line
says which build is installed.

    uv run python benchmarks/install_size.py [--top 15] [--lock uv.lock]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import tomllib
from pathlib import Path

from packaging.tags import sys_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

LOCK = Path(__file__).resolve().parents[1] / "uv.lock"
MB = 1024 * 1024


def installed_bytes(dist: importlib.metadata.Distribution) -> int:
    """The bytes of the files a distribution's RECORD lists that are on disk."""
    total = 0
    for file in dist.files or ():
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total


def locked_wheel_bytes(lock: Path) -> dict[tuple[str, str], int]:
    """(name, version) -> size of the wheel uv.lock pins for this interpreter and platform."""
    order = {str(tag): rank for rank, tag in enumerate(sys_tags())}
    sizes: dict[tuple[str, str], int] = {}
    for package in tomllib.loads(lock.read_text())["package"]:
        best: tuple[int, int] | None = None
        for wheel in package.get("wheels", []):
            filename = wheel["url"].rsplit("/", 1)[-1]
            tags = parse_wheel_filename(filename)[3]
            ranks = [order[str(tag)] for tag in tags if str(tag) in order]
            if ranks and "size" in wheel and (best is None or min(ranks) < best[0]):
                best = (min(ranks), wheel["size"])
        if best is not None:
            sizes[(canonicalize_name(package["name"]), package["version"])] = best[1]
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=15, help="how many distributions to list")
    parser.add_argument("--lock", type=Path, default=LOCK, help="the uv.lock to take sizes from")
    args = parser.parse_args()
    wheels = locked_wheel_bytes(args.lock)
    rows = []
    for dist in importlib.metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        rows.append((installed_bytes(dist), wheels.get((name, dist.version)), name, dist.version))
    rows.sort(reverse=True)
    installed = sum(row[0] for row in rows)
    download = sum(row[1] or 0 for row in rows)
    print(
        f"{len(rows)} distributions: {installed / MB:,.0f} MB installed, "
        f"{download / MB:,.0f} MB of wheels downloaded (sizes from uv.lock)"
    )
    print(f"{'distribution':<32} {'installed':>12} {'wheel':>12}")
    for size, wheel, name, version in rows[: args.top]:
        wheel_text = f"{wheel / MB:,.1f} MB" if wheel is not None else "-"
        print(f"{name + ' ' + version:<32} {size / MB:9,.1f} MB {wheel_text:>12}")
    names = {row[2] for row in rows}
    builds = sorted(names & {"xgboost", "xgboost-cpu"})
    nvidia = sorted(n for n in names if n.startswith("nvidia-"))
    print(f"XGBoost build installed: {', '.join(builds) or 'none'}")
    print(f"NVIDIA distributions installed: {', '.join(nvidia) or 'none'}")


if __name__ == "__main__":
    main()
