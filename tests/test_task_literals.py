"""Core knows no task by name: no installed task type's name is a string in core or server.

A task name spelled in core (``if task == "classification"``) is a branch a third
party's task type cannot reach; what differs between tasks belongs to the task type
(``register_task_types``). Docstrings and comments may mention tasks; code may not.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from modellab.plugins import load_registry
from tests.conftest import REPO

ROOTS = (REPO / "core", REPO / "server")
#: names no plugin installs yet but that core must not branch on either
UPCOMING = ("text-classification",)


def task_names() -> set[str]:
    return {*load_registry().task_types, *UPCOMING}


def python_files() -> list[Path]:
    """Every module of core and server, each once."""
    return sorted({p.resolve() for root in ROOTS for p in root.rglob("*.py")})


def string_literals(path: Path) -> list[tuple[int, str]]:
    """(line, value) of every string constant of ``path`` that is not a docstring."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_no_task_name_is_a_literal_in_core_or_server() -> None:
    names = task_names()
    found = [
        f"{path.relative_to(REPO.resolve())}:{line}: {value!r}"
        for path in python_files()
        for line, value in string_literals(path)
        if value in names
    ]
    assert not found, "task names spelled in core (move the branch into the task type):\n" + (
        "\n".join(found)
    )


def test_no_task_name_is_a_literal_in_the_web_ui() -> None:
    names = task_names()
    quoted = re.compile(r"""(["'`])([a-z-]+)\1""")
    found = [
        f"{path.relative_to(REPO)}: {m.group(0)}"
        for path in sorted((REPO / "server" / "web").rglob("*.js"))
        for m in quoted.finditer(path.read_text())
        if m.group(2) in names
    ]
    assert not found, "task names spelled in the UI:\n" + "\n".join(found)


def test_the_literal_check_finds_a_task_name(tmp_path: Path) -> None:
    # The check above must be able to fail: a branch on a task name is found.
    sample = tmp_path / "sample.py"
    sample.write_text('"""Doc naming classification."""\nif task == "classification":\n    pass\n')
    assert string_literals(sample) == [(2, "classification")]
