"""Regenerate the README's screenshots of the web UI.

    uv run python scripts/screenshots.py [--out docs/screenshots]

Starts ModelLab on a loopback port with a fresh home in a temporary folder, ingests the
demo's penguins data, trains the baseline and an XGBoost candidate through the API, then
opens the projects, dataset, run and compare pages in headless Chromium
(/usr/bin/chromium) and saves one PNG per page.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from playwright.sync_api import sync_playwright

from modellab.server.app import create_app
from modellab.settings import Settings

REPO = Path(__file__).resolve().parents[1]
PENGUINS = REPO / "core" / "demo_data" / "penguins.csv"
CHROMIUM = "/usr/bin/chromium"
FINAL = {"succeeded", "failed", "cancelled", "timed_out"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(client: httpx.Client, run_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        run: dict[str, object] = client.get(f"/api/runs/{run_id}").json()
        if run["status"] in FINAL:
            if run["status"] != "succeeded":
                raise SystemExit(f"run {run_id} ended {run['status']}: {run.get('status_reason')}")
            return run
        time.sleep(0.5)
    raise SystemExit(f"run {run_id} did not finish in 5 minutes")


def _seed(url: str) -> tuple[str, str]:
    """The demo project with a dataset and a baseline and candidate run: (a, b)."""
    with httpx.Client(base_url=url, timeout=60) as client:
        client.post(
            "/api/projects", json={"name": "Penguins", "slug": "penguins"}
        ).raise_for_status()
        with PENGUINS.open("rb") as f:
            client.post(
                "/api/projects/penguins/datasets",
                files={"file": ("penguins.csv", f, "text/csv")},
                data={"name": "penguins", "target": "sex"},
            ).raise_for_status()
        body = {
            "project": "penguins",
            "dataset": "penguins",
            "template": "tabular-classification",
            # Fewer bootstrap replicates and trees than by default: pictures, not science.
            "n_bootstrap": 200,
        }
        ids = []
        for model, config in (("logistic_regression", {}), ("xgboost", {"n_estimators": 60})):
            run = client.post("/api/runs", json=body | {"model": model, "config": config}).json()
            ids.append(str(_wait(client, run["id"])["id"]))
        return ids[0], ids[1]


def main() -> None:
    """Start a server, seed it, and save a screenshot of each page."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(
            {
                "MODELLAB_HOME": f"{tmp}/home",
                "MODELLAB_ARTIFACT_ROOT": f"{tmp}/artifacts",
            }
        )
        port = _port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        try:
            a, b = _seed(url)
            # Each page with the heading that shows it finished loading.
            pages = {
                "projects": ("/", "Projects"),
                "project": ("/p/penguins", "Runs"),
                "dataset": ("/p/penguins/datasets/penguins", "Split"),
                "run": (f"/runs/{b}", "Stress tests"),
                "compare": (f"/compare?a={a}&b={b}", "Plots (A left, B right)"),
            }
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM,
                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
                )
                page = browser.new_page(viewport={"width": 1280, "height": 1400})
                for name, (fragment, ready) in pages.items():
                    page.goto(f"{url}/#{fragment}")
                    page.get_by_role("heading", name=ready, exact=True).wait_for()
                    # Plots load lazily: bring each into view and wait for it.
                    for img in page.locator("main img").all():
                        img.scroll_into_view_if_needed()
                        page.wait_for_function(
                            "i => i.complete && i.naturalWidth > 0", arg=img.element_handle()
                        )
                    page.evaluate("window.scrollTo(0, 0)")
                    page.screenshot(path=str(out / f"{name}.png"))
                    print(out / f"{name}.png")
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=30)


if __name__ == "__main__":
    main()
