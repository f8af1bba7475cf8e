"""Import boundaries: evalharness stands alone; core and server never name a plugin."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
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


def test_core_and_server_never_import_a_plugin_by_name() -> None:
    assert PLUGIN_PACKAGES == ["modellab_classification", "modellab_ranking", "modellab_regression"]
    offenders = []
    for folder in ("core", "server"):
        for p in sorted((REPO / folder).rglob("*.py")):
            source = p.read_text()
            for plugin in PLUGIN_PACKAGES:
                if plugin in source:
                    offenders.append(f"{p.relative_to(REPO)} names {plugin}")
    assert offenders == []


def _imports_server(folder: Path, allowed: frozenset[Path] = frozenset()) -> list[str]:
    # core/server is the symlink to server/ (issue 15 removes it): server code itself.
    return [
        f"{p.relative_to(REPO)}: {name}"
        for p in sorted(folder.rglob("*.py"))
        if p not in allowed and "server" not in p.relative_to(folder).parts[:1]
        for name in imported_names(p)
        if name == "modellab.server" or name.startswith("modellab.server.")
    ]


def test_core_imports_no_server_code_but_the_commands_that_start_it() -> None:
    """Run execution, the store and the services know no web server: ``modellab serve``
    and ``modellab worker`` (core/cli.py) are the one place that starts it."""
    assert _imports_server(REPO / "core", frozenset({REPO / "core" / "cli.py"})) == []


def test_plugins_import_no_server_code() -> None:
    assert _imports_server(REPO / "plugins") == []
