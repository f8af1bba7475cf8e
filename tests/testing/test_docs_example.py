"""docs/plugins.md, "Testing your plugin": its example plugin and test pass as written,
run by pytest as a plugin author runs them (the kit comes in through its ``pytest11``
entry point); and a test that names no plugin is told what is missing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

DOC = REPO / "docs" / "plugins.md"
SECTION = "\n## Testing your plugin\n"


def example_files() -> dict[str, str]:
    """The section's python blocks by the file name each names in its first line."""
    section = DOC.read_text(encoding="utf-8").partition(SECTION)[2]
    files: dict[str, str] = {}
    for block in re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL):
        first = block.partition("\n")[0]
        assert re.fullmatch(r"# \w+\.py", first), f"a block must start with '# NAME.py': {first}"
        files[first[2:]] = block
    return files


def pytest_in(folder: Path, test_file: str) -> subprocess.CompletedProcess[str]:
    """Run pytest on ``test_file`` of ``folder``, a project of its own (its own config)."""
    (folder / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-q", str(folder / test_file)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_documented_plugin_test_passes(tmp_path: Path) -> None:
    files = example_files()
    assert sorted(files) == ["my_plugin.py", "test_my_plugin.py"]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = pytest_in(tmp_path, "test_my_plugin.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_a_kit_fixture_without_a_plugin_says_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "test_nothing_named.py").write_text(
        "def test_untouched():\n"
        "    pass\n\n\n"
        "def test_needs_a_plugin(modellab_registry):\n"
        "    pass\n"
    )
    result = pytest_in(tmp_path, "test_nothing_named.py")
    assert result.returncode == 1, result.stdout + result.stderr
    # The fixture fails in setup (an error, not a failure); the other test is untouched.
    assert "1 passed, 1 error" in result.stdout
    assert "needs the plugin under test" in result.stdout
