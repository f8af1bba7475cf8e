"""The wheels install into a fresh virtualenv and every module imports from them.

This builds real (not editable) wheels, so a subpackage missing from the package list
in pyproject.toml, or a data file missing from package-data, fails here. The evalharness
wheel also installs alone, with its dependencies and nothing of the service. The example
plugin from outside the workspace (docs/examples/modellab-lightgbm) installs next to the
wheels, trains, and passes its own tests there. The locked default install stays without
XGBoost's CUDA build and NVIDIA's NCCL (docs/install.md).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker

REPO = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = {"core": "modellab", "server": "modellab.server", "evalharness": "evalharness"}
#: What the evalharness distribution must never bring along.
SERVICE_STACK = ("litestar", "sqlalchemy", "arq", "modellab")
#: Left out of the copies the wheels are built from: a build needs none of it.
NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".mypy-path",  # mypy's view of the layout, the one place with symlinks
    "artifacts",
    ".modellab",
    "build",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "benchmarks",
)


def modules_of(folder: str, package: str) -> list[str]:
    """Every module in a source folder, by its import name."""
    root = REPO / folder
    modules = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        if "build" in rel.parts:  # evalharness/ is its project folder too: a build's copies
            continue
        modules.append(".".join([package, *(p for p in rel.parts if p != "__init__")]))
    return modules


def source_modules() -> list[str]:
    """Every importable module in the source tree, by its import name."""
    modules = [m for folder, package in SOURCE_ROOTS.items() for m in modules_of(folder, package)]
    for plugin in sorted((REPO / "plugins").iterdir()):
        for path in sorted(plugin.glob("modellab_*/**/*.py")):
            rel = path.relative_to(plugin).with_suffix("")
            modules.append(".".join(p for p in rel.parts if p != "__init__"))
    # Alembic's env.py is a script alembic runs, not a module to import.
    return sorted(set(modules) - {"modellab.store.migrations.env"})


def workspace_distributions() -> set[str]:
    """The wheel names (``modellab_tabular``) of the root and every workspace member."""
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    projects = [REPO / "pyproject.toml"] + [
        path
        for member in root["tool"]["uv"]["workspace"]["members"]
        for path in sorted(REPO.glob(f"{member}/pyproject.toml"))
    ]
    return {tomllib.loads(p.read_text())["project"]["name"].replace("-", "_") for p in projects}


def uv() -> str:
    found = shutil.which("uv")
    if found is None:
        pytest.skip("uv is not on PATH; the README's test command runs under uv")
    return found


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheels")
    dist = tmp / "dist"
    env = {**os.environ, "UV_OFFLINE": "1"}
    # Build from a copy: setuptools leaves build/ and *.egg-info beside the sources.
    source = tmp / "src"
    shutil.copytree(REPO, source, symlinks=True, ignore=NOT_SOURCES)
    # No link stands in for a package-dir mapping: a build has only real folders.
    assert [p for p in source.rglob("*") if p.is_symlink()] == []
    subprocess.run(
        [uv(), "build", "--all-packages", "--wheel", "--out-dir", str(dist)],
        cwd=source,
        check=True,
        capture_output=True,
        env=env,
    )
    wheels = sorted(dist.glob("*.whl"))
    assert {w.name.split("-")[0] for w in wheels} == workspace_distributions(), wheels
    target = tmp / "venv"
    subprocess.run(
        [uv(), "venv", "--python", sys.executable, str(target)],
        check=True,
        capture_output=True,
        env=env,
    )
    python = target / "bin" / "python"
    subprocess.run(
        [uv(), "pip", "install", "--no-deps", "--python", str(python), *map(str, wheels)],
        check=True,
        capture_output=True,
        env=env,
    )
    # Third-party dependencies come from the project's environment (tests run offline);
    # a path added by a .pth file has its own .pth files ignored, so the project's
    # editable installs stay invisible and ModelLab can only come from the wheels.
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    deps = next(p for p in sys.path if p.endswith("site-packages"))
    (Path(site) / "zz_project_dependencies.pth").write_text(deps + "\n")
    return target


def test_every_module_imports_from_the_wheels(venv: Path, tmp_path: Path) -> None:
    modules = source_modules()
    assert "modellab.datasets.ingest" in modules and "modellab.server" in modules
    script = (
        "import importlib, sys\n"
        "failed = []\n"
        f"for name in {modules!r}:\n"
        "    try:\n"
        "        mod = importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "        continue\n"
        f"    if not (mod.__file__ or '').startswith({str(venv)!r}):\n"
        "        failed.append(f'{name} imported from {mod.__file__}, not the wheel')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    # Run outside the repository so nothing resolves to the source tree.
    result = subprocess.run(
        [venv / "bin" / "python", "-c", script], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_console_script_and_plugins_from_the_wheels(venv: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "MODELLAB_HOME": str(tmp_path / "h"),
        "MODELLAB_ARTIFACT_ROOT": str(tmp_path / "a"),
    }
    env.pop("MODELLAB_PLUGINS", None)
    out = subprocess.run(
        [venv / "bin" / "modellab", "plugins", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert '"modellab-classification"' in out.stdout and '"modellab-ranking"' in out.stdout
    demo = subprocess.run(
        [venv / "bin" / "modellab", "demo"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert demo.returncode == 0, demo.stderr
    assert "demo/penguins@1" in demo.stdout
    # migrations ship with the wheel: the database was created from them
    assert (tmp_path / "h" / "modellab.db").exists()


def test_the_web_ui_ships_with_the_wheel(venv: Path, tmp_path: Path) -> None:
    script = (
        "from modellab.server.controllers.web import WEB_DIR\n"
        "names = sorted(str(p.relative_to(WEB_DIR)) for p in WEB_DIR.rglob('*') if p.is_file())\n"
        "print('\\n'.join(names))\n"
    )
    result = subprocess.run(
        [venv / "bin" / "python", "-c", script], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    shipped = set(result.stdout.split())
    source = REPO / "server" / "web"
    expected = {str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()}
    assert shipped == expected


#: The example plugin that lives outside the workspace (docs/plugins.md, "A plugin from
#: outside"): its own pyproject.toml, wheel and tests.
EXAMPLE_PLUGIN = REPO / "docs" / "examples" / "modellab-lightgbm"


def test_a_plugin_from_outside_installs_trains_and_passes_its_own_tests(
    venv: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "UV_OFFLINE": "1"}
    source = tmp_path / "modellab-lightgbm"
    shutil.copytree(EXAMPLE_PLUGIN, source, symlinks=True, ignore=NOT_SOURCES)
    dist = tmp_path / "dist"
    subprocess.run(
        [uv(), "build", "--wheel", "--out-dir", str(dist), str(source)],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env=env,
    )
    (wheel,) = dist.glob("*.whl")
    assert wheel.name.startswith("modellab_lightgbm-"), wheel
    # Next to the ModelLab wheels; LightGBM and pytest come from the project's
    # environment (its dev group holds both), like every third-party dependency here.
    python = venv / "bin" / "python"
    subprocess.run(
        [uv(), "pip", "install", "--no-deps", "--python", str(python), str(wheel)],
        check=True,
        capture_output=True,
        env=env,
    )
    # A home of its own; nothing of the caller's shell or pytest session selects plugins.
    home = {k: v for k, v in env.items() if not k.startswith(("MODELLAB_", "PYTEST_"))}
    home |= {"MODELLAB_HOME": str(tmp_path / "h"), "MODELLAB_ARTIFACT_ROOT": str(tmp_path / "a")}
    work = tmp_path / "work"  # outside the copy: everything imports from the venv
    work.mkdir()

    def modellab(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [venv / "bin" / "modellab", *args], cwd=work, env=home, capture_output=True, text=True
        )
        assert done.returncode == 0, f"modellab {' '.join(args)}\n{done.stdout}\n{done.stderr}"
        return done

    origin = subprocess.run(
        [python, "-c", "import modellab_lightgbm; print(modellab_lightgbm.__file__)"],
        cwd=work,
        env=home,
        capture_output=True,
        text=True,
    )
    assert origin.stdout.startswith(str(venv)), origin.stdout + origin.stderr

    listed = {p["name"]: p for p in json.loads(modellab("plugins", "--json").stdout)}
    found = listed["lightgbm"]  # by its entry point, in the modellab group
    assert found["distribution"] == "modellab-lightgbm", found
    assert found["variants"] == ["tabular-classification/lightgbm"], found
    assert found["slicers"] == ["any_missing"], found

    modellab("project", "create", "p")
    # Species: every penguin has one, and a few lack a feature (sex, measurements).
    penguins = REPO / "core" / "demo_data" / "penguins.csv"
    modellab("dataset", "add", "-p", "p", "-n", "penguins", "-t", "species", str(penguins))
    run = ["run", "-p", "p", "-d", "penguins", "-t", "tabular-classification", "-m", "lightgbm"]
    out = modellab(*run, "--with-baseline", "--n-bootstrap", "20", "--json")
    runs = json.loads(out.stdout)
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"], runs
    assert runs[-1]["model"] == "lightgbm", runs[-1]
    folder = Path(runs[-1]["artifact_dir"])
    assert (folder / "model" / "model.txt").is_file()
    slices = json.loads((folder / "eval" / "slices.json").read_text())
    families = {s["family"] for s in slices["slices"]}
    assert "any_missing" in families, families

    # The example's own tests, with the kit from the modellab wheel (pytest11 entry point).
    tests = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(source / "tests")],
        cwd=work,
        env=home,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout and "skipped" not in tests.stdout, tests.stdout


@pytest.fixture(scope="module")
def evalharness_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the evalharness wheel and the dependencies it declares.

    The wheel is built from a copy of evalharness/ alone, so it needs nothing else of the
    repository; its dependencies are the versions uv.lock pins for it, from uv's cache.
    """
    tmp = tmp_path_factory.mktemp("evalharness")
    env = {**os.environ, "UV_OFFLINE": "1"}
    source = tmp / "evalharness"
    shutil.copytree(REPO / "evalharness", source, symlinks=True, ignore=NOT_SOURCES)
    subprocess.run(
        [uv(), "build", "--wheel", "--out-dir", str(tmp / "dist"), str(source)],
        cwd=tmp,
        check=True,
        capture_output=True,
        env=env,
    )
    (wheel,) = (tmp / "dist").glob("*.whl")
    assert wheel.name.startswith("evalharness-"), wheel
    pins = tmp / "pylock.toml"
    export = ["--project", str(REPO), "--package", "evalharness", "--frozen", "--no-dev"]
    subprocess.run(
        [uv(), "export", *export, "--no-emit-workspace", "--format=pylock.toml", f"-o={pins}"],
        check=True,
        capture_output=True,
        env=env,
    )
    target = tmp / "venv"
    subprocess.run(
        [uv(), "venv", "--python", sys.executable, str(target)],
        check=True,
        capture_output=True,
        env=env,
    )
    python = str(target / "bin" / "python")
    for requirements in (["-r", str(pins)], [str(wheel)]):
        # The wheel goes in with its dependency check: the pins must satisfy what it declares.
        subprocess.run(
            [uv(), "pip", "install", "--python", python, *requirements],
            check=True,
            capture_output=True,
            env=env,
        )
    return target


def test_evalharness_installs_and_imports_alone(evalharness_venv: Path, tmp_path: Path) -> None:
    modules = modules_of("evalharness", "evalharness")
    assert "evalharness" in modules and "evalharness.schemas.validate" in modules
    script = (
        "import importlib, importlib.util, sys\n"
        "failed = []\n"
        f"for name in {modules!r}:\n"
        "    try:\n"
        "        mod = importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "        continue\n"
        f"    if not (mod.__file__ or '').startswith({str(evalharness_venv)!r}):\n"
        "        failed.append(f'{name} imported from {mod.__file__}, not the wheel')\n"
        f"failed += [f'{{n}} is importable' for n in {SERVICE_STACK!r}\n"
        "           if importlib.util.find_spec(n) is not None]\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    result = subprocess.run(
        [evalharness_venv / "bin" / "python", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_evalharness_wheel_brings_nothing_of_the_service(evalharness_venv: Path) -> None:
    listed = subprocess.run(
        [uv(), "pip", "list", "--format", "json", "--python", str(evalharness_venv / "bin/python")],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "UV_OFFLINE": "1"},
    )
    installed = {d["name"].lower() for d in json.loads(listed.stdout)}
    assert {"evalharness", "numpy", "pandas", "scikit-learn", "matplotlib", "msgspec"} <= installed
    assert installed.isdisjoint(SERVICE_STACK), installed & set(SERVICE_STACK)
    assert not any(name.startswith("modellab") for name in installed), installed


def test_evalharness_console_script_from_its_wheel(evalharness_venv: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [evalharness_venv / "bin" / "evalharness", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "validate" in result.stdout and "export-schemas" in result.stdout


def test_the_root_distribution_leaves_evalharness_to_its_own() -> None:
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = root["tool"]["setuptools"]["packages"]
    assert not [p for p in packages if p.split(".")[0] == "evalharness"], packages
    assert "evalharness" not in root["project"]["scripts"]
    assert "evalharness" in root["project"]["dependencies"]
    own = tomllib.loads((REPO / "evalharness" / "pyproject.toml").read_text())
    assert own["project"]["scripts"] == {"evalharness": "evalharness.cli:main"}


#: The platforms and Pythons (the oldest supported, and where uv.lock forks) whose default
#: install is checked: what a plain ``uv run`` installs, the dependencies and the dev group.
MARKER_KEYS = ("sys_platform", "platform_system", "platform_machine", "os_name")
PLATFORMS = {
    "linux-x86_64": ("linux", "Linux", "x86_64", "posix"),
    "linux-aarch64": ("linux", "Linux", "aarch64", "posix"),
    "windows": ("win32", "Windows", "AMD64", "nt"),
    "macos": ("darwin", "Darwin", "arm64", "posix"),
}
PYTHONS = ("3.11.7", "3.12.4", "3.14.0")


def locked_default_install(environment: dict[str, str]) -> set[str]:
    """The names uv.lock installs for ``uv run`` in ``environment``: no extras, dev group in."""
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    by_name: dict[str, list[dict[str, Any]]] = {}
    for package in lock["package"]:
        by_name.setdefault(package["name"], []).append(package)
    (root,) = (p for p in by_name["modellab"] if p["source"] == {"editable": "."})

    def applies(dep: dict[str, Any]) -> bool:
        return "marker" not in dep or Marker(dep["marker"]).evaluate(environment)

    def package_of(dep: dict[str, Any]) -> dict[str, Any]:
        candidates = by_name[dep["name"]]
        if "version" in dep:
            candidates = [p for p in candidates if p["version"] == dep["version"]]
        assert len(candidates) == 1, dep
        return candidates[0]

    seen: set[tuple[str, str]] = set()
    todo = [*root.get("dependencies", []), *root.get("dev-dependencies", {}).get("dev", [])]
    while todo:
        dep = todo.pop()
        if not applies(dep):
            continue
        package = package_of(dep)
        for extra in ("", *dep.get("extra", [])):
            if (package["name"], extra) in seen:
                continue
            seen.add((package["name"], extra))
            if extra:
                todo.extend(package.get("optional-dependencies", {}).get(extra, []))
            else:
                todo.extend(package.get("dependencies", []))
    return {name for name, _ in seen}


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_the_default_install_has_no_cuda_xgboost_nor_nccl(platform: str, python: str) -> None:
    # The CUDA build of XGBoost and NVIDIA's NCCL are ~700 MB on Linux x86_64, for
    # machines that mostly have no GPU; `xgboost-cpu` is the same library without them.
    # macOS has one build only, CUDA-free, published as `xgboost`.
    environment = dict(zip(MARKER_KEYS, PLATFORMS[platform], strict=True)) | {
        "python_version": python.rsplit(".", 1)[0],
        "python_full_version": python,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    names = locked_default_install(environment)
    assert "modellab-classification" in names and "scikit-learn" in names
    nvidia = sorted(n for n in names if n.startswith("nvidia-"))
    assert not nvidia, f"uv.lock installs {nvidia} by default on {platform}"
    builds = {"xgboost", "xgboost-cpu"} & names
    assert builds == {"xgboost" if platform == "macos" else "xgboost-cpu"}, builds


def test_one_xgboost_build_per_environment() -> None:
    # `xgboost` and `xgboost-cpu` own the same files: installed side by side, the one
    # written last wins, and removing either (an exact `uv sync` does) deletes the module.
    folders: dict[str, list[str]] = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name in ("xgboost", "xgboost-cpu"):
            folders.setdefault(str(dist.locate_file("")), []).append(name)
    both = {folder: names for folder, names in folders.items() if len(set(names)) > 1}
    assert not both, (
        f"both XGBoost builds are installed in {both}: run "
        "`uv sync --reinstall-package xgboost-cpu` (docs/install.md)"
    )


def test_the_environment_is_compiled_to_bytecode_at_install() -> None:
    """Whatever the user's PYTHONDONTWRITEBYTECODE, uv writes the bytecode when it
    installs, so no training process compiles scikit-learn from source again."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["tool"]["uv"]["compile-bytecode"] is True
    # And it did here: the heavy libraries' bytecode is in the environment.
    import sklearn

    cached = Path(sklearn.__file__).parent / "__pycache__"
    assert any(
        cached.glob(f"__init__.cpython-{sys.version_info.major}{sys.version_info.minor}*.pyc")
    )
