"""What a run records before it starts: code version and environment.

The code version is ModelLab's own version plus, for runs started from the CLI, the
state of the git repository the command runs in: commit, whether the work tree is dirty,
and a hash of the uncommitted diff, so that two runs of "the same code" can be told
apart when they are not. Runs started through the API record the installed versions.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from pathlib import Path

import modellab
from modellab.domain import CodeVersion

#: Distributions that install the same module under another name: XGBoost's CPU build.
ALTERNATIVES = {"xgboost": ("xgboost", "xgboost-cpu")}
#: Packages whose versions change results; all installed versions are recorded too.
KEY_PACKAGES = (
    "modellab",
    "numpy",
    "pandas",
    "polars",
    "scikit-learn",
    "xgboost",
    "matplotlib",
    "msgspec",
)


def _git(repo: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=repo, capture_output=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.decode("utf-8", errors="replace")


def git_diff(repo: Path) -> str:
    """The uncommitted change against HEAD (tracked files), as git prints it."""
    return _git(repo, "diff", "HEAD", "--no-color", "--no-ext-diff") or ""


def code_version(repo: Path | None = None) -> CodeVersion:
    """ModelLab's version and the git state of ``repo`` (default: the working directory)."""
    where = repo or Path.cwd()
    commit = _git(where, "rev-parse", "HEAD")
    if commit is None:
        return CodeVersion(modellab_version=modellab.__version__, git_commit=None, git_dirty=False)
    status = _git(where, "status", "--porcelain", "--untracked-files=no") or ""
    dirty = bool(status.strip())
    diff_hash = hashlib.sha256(git_diff(where).encode()).hexdigest() if dirty else None
    return CodeVersion(
        modellab_version=modellab.__version__,
        git_commit=commit.strip(),
        git_dirty=dirty,
        diff_sha256=diff_hash,
    )


def installed_code_version() -> CodeVersion:
    """The code version of a run started through the API: the installed ModelLab only.

    The server's working directory may be a git checkout with the operator's private
    changes; it is not the caller's code, so no commit or diff of it is recorded. The
    installed package versions go into the run's environment.
    """
    return CodeVersion(modellab_version=modellab.__version__, git_commit=None, git_dirty=False)


def find_lockfile(start: Path | None = None) -> Path | None:
    """The nearest ``uv.lock`` at or above ``start``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "uv.lock"
        if candidate.is_file():
            return candidate
    return None


def _installed(packages: dict[str, str], name: str) -> str | None:
    """The version of ``name`` by whichever distribution installs it."""
    for dist in ALTERNATIVES.get(name, (name,)):
        if dist in packages:
            return packages[dist]
    return None


def environment(start: Path | None = None) -> dict[str, object]:
    """Python, platform, package versions and the uv.lock hash when there is one."""
    # Imported here: scanning installed distributions is for starting runs, not reading them.
    from importlib.metadata import distributions

    packages = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name:
            packages[name.lower()] = dist.version
    lock = find_lockfile(start)
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "key_packages": {p: _installed(packages, p) for p in KEY_PACKAGES},
        "packages": dict(sorted(packages.items())),
        "uv_lock_sha256": hashlib.sha256(lock.read_bytes()).hexdigest() if lock else None,
    }
