"""Import boundaries: evalharness stands alone; core and server never name a plugin; no
symlink stands in for the package-dir mapping."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
#: The folders whose files are installed: packages, and the projects that build them.
INSTALLED_FOLDERS = ("core", "server", "evalharness", "plugins")
#: Import names that differ from the distribution that provides them.
DISTRIBUTION_OF = {"sklearn": "scikit-learn", "PIL": "pillow"}
PLUGIN_PACKAGES = sorted(
    p.name for p in (REPO / "plugins").glob("*/modellab_*") if (p / "__init__.py").exists()
)


def imported_names(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Call) and getattr(
            node.func, "attr", getattr(node.func, "id", "")
        ) in (
            "import_module",
            "__import__",
        ):
            names += [
                a.value
                for a in node.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            ]
    return names


def test_evalharness_never_imports_modellab_statically() -> None:
    offenders = [
        f"{p.relative_to(REPO)}: {name}"
        for p in sorted((REPO / "evalharness").rglob("*.py"))
        for name in imported_names(p)
        if name == "modellab" or name.startswith("modellab.") or name.startswith("modellab_")
    ]
    assert offenders == []


def test_evalharness_never_imports_modellab_at_runtime() -> None:
    code = (
        "import importlib, pkgutil, sys, evalharness\n"
        "for m in pkgutil.walk_packages(evalharness.__path__, 'evalharness.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules\n"
        "             if n == 'modellab' or n.startswith(('modellab.', 'modellab_')))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_evalharness_imports_only_what_its_distribution_declares() -> None:
    """Its wheel installs alone (tests/test_packaging.py): every third-party import of
    evalharness is a dependency of its own, so none of the service stack can creep in."""
    project = tomllib.loads((REPO / "evalharness" / "pyproject.toml").read_text())["project"]
    declared = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    undeclared = sorted(
        f"{p.relative_to(REPO)}: {name}"
        for p in (REPO / "evalharness").rglob("*.py")
        for name in imported_names(p)
        if (top := name.split(".")[0]) not in sys.stdlib_module_names
        and top not in ("evalharness", "__future__")
        and canonicalize_name(DISTRIBUTION_OF.get(top, top)) not in declared
    )
    assert undeclared == []


def test_core_and_server_never_import_a_plugin_by_name() -> None:
    assert PLUGIN_PACKAGES == [
        "modellab_classification",
        "modellab_ranking",
        "modellab_regression",
        "modellab_tabular",
    ]
    offenders = []
    for folder in ("core", "server"):
        for p in sorted((REPO / folder).rglob("*.py")):
            source = p.read_text()
            for plugin in PLUGIN_PACKAGES:
                if plugin in source:
                    offenders.append(f"{p.relative_to(REPO)} names {plugin}")
    assert offenders == []


def _imports_server(folder: Path, allowed: frozenset[Path] = frozenset()) -> list[str]:
    return [
        f"{p.relative_to(REPO)}: {name}"
        for p in sorted(folder.rglob("*.py"))
        if p not in allowed
        for name in imported_names(p)
        if name == "modellab.server" or name.startswith("modellab.server.")
    ]


def test_core_imports_no_server_code_but_the_commands_that_start_it() -> None:
    """Run execution, the store and the services know no web server: ``modellab serve``
    and ``modellab worker`` (core/cli.py) are the one place that starts it."""
    assert _imports_server(REPO / "core", frozenset({REPO / "core" / "cli.py"})) == []


def test_plugins_import_no_server_code() -> None:
    assert _imports_server(REPO / "plugins") == []


def test_no_symlink_in_the_installed_folders() -> None:
    """setuptools' package-dir mapping alone places server/ at modellab.server, in the
    editable install as in the wheel. A link such as core/server -> ../server is worse
    than useless: setuptools resolves it, takes server/ for a subfolder of core/ and
    leaves modellab.server out of the editable finder, which then works only through it."""
    links = [
        str(p.relative_to(REPO))
        for folder in INSTALLED_FOLDERS
        for p in (REPO / folder).rglob("*")
        if p.is_symlink()
    ]
    assert links == []


def test_the_only_symlinks_in_the_tree_are_mypys_view_of_the_layout() -> None:
    """mypy has no package-dir mapping and cannot run the editable install's import hook:
    .mypy-path/ maps the import names to the folders for it, and for nothing else."""
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    # What is tracked or would be (not ignored), as it is in the working tree.
    listed = subprocess.run(
        [git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    links = {
        path: (REPO / path).resolve().relative_to(REPO).as_posix()
        for path in sorted(set(listed.split("\0")) - {""})
        if (REPO / path).is_symlink()
    }
    assert links == {
        ".mypy-path/modellab": "core",
        ".mypy-path/server/modellab/server": "server",
    }
