"""scripts/screenshots.py, which the README names, makes a picture of each page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.conftest import REPO
from tests.web.test_browser import _chromium_or_skip


def test_the_screenshot_script_saves_every_page(tmp_path: Path) -> None:
    _chromium_or_skip()
    out = tmp_path / "shots"
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "screenshots.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["compare.png", "dataset.png", "project.png", "projects.png", "run.png"]
    for name in names:
        with Image.open(out / name) as image:
            assert image.size == (1280, 1400)
    readme = (REPO / "README.md").read_text()
    assert "docs/screenshots/run.png" in readme and "docs/screenshots/compare.png" in readme
    assert (REPO / "docs" / "screenshots" / "run.png").exists()
