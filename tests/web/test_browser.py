"""The web UI in a real browser: Debian's Chromium, headless, driven by Playwright.

The walk is the core promise through the UI on a server started here (real training in
child processes): create a project, upload a CSV, read its profile, run baseline and
candidate, open the report and see a plot and a failure slice, copy the reproduce
command, compare the two runs. No page may log a console error.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import pytest

from modellab.client import Client
from modellab.server.app import create_app
from tests.server.conftest import PENGUINS, embedded, make_settings, seed_project, serve

CHROMIUM = Path("/usr/bin/chromium")
XSS = "<img src=x onerror=alert(1)>"

playwright_api = pytest.importorskip("playwright.sync_api")


def _chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but /usr/bin/chromium is missing: .ci/run installs Debian's chromium")
    pytest.skip("Chromium not installed: apt-get install chromium (see .ci/run)")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'modellab.db'}")
    app = create_app(settings, executor=embedded())
    with serve(app) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    _chromium_or_skip()
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


class Watched:
    """A page whose console errors, page errors and dialogs are collected."""

    def __init__(self, browser: Any, url: str, shots: Path) -> None:
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 900},
            permissions=["clipboard-read", "clipboard-write"],
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.url = url
        self.shots = shots
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        #: every refused request, to say which one a console error was about
        self.refused: list[str] = []
        self.page.on(
            "response",
            lambda r: self.refused.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        # An alert() means injected script ran; dismiss it so the page goes on.
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def expect_refused(self, status: int) -> None:
        """The test provoked a refused request: Chromium logs it as an error, drop that."""
        logged = f"the server responded with a status of {status}"
        found = [e for e in self.errors if logged in e]
        assert found, f"no refused request with status {status} was logged: {self.errors}"
        self.errors.remove(found[0])

    def go(self, fragment: str) -> None:
        self.page.goto(f"{self.url}/#{fragment}")

    def shot(self, name: str) -> None:
        """Save a screenshot of the page, after checking its screen-reader basics."""
        self.check_accessible()
        self.shots.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def check_accessible(self) -> None:
        """Every field has a label, every table a caption, every image alt text."""
        unnamed = self.page.evaluate(
            """() => [
                ...[...document.querySelectorAll("input, select, textarea")]
                    .filter((e) => !e.labels.length && !e.getAttribute("aria-label"))
                    .map((e) => `field ${e.id || e.outerHTML.slice(0, 60)}`),
                ...[...document.querySelectorAll("table")]
                    .filter((t) => !t.caption || !t.caption.textContent.trim())
                    .map((t) => `table ${t.querySelector("th")?.textContent}`),
                ...[...document.querySelectorAll("img")]
                    .filter((i) => !i.getAttribute("alt"))
                    .map((i) => `img ${i.src}`),
            ]"""
        )
        assert unnamed == [], unnamed


@pytest.fixture
def ui(browser: Any, server: str, tmp_path: Path) -> Iterator[Watched]:
    watched = Watched(browser, server, tmp_path / "screenshots")
    try:
        yield watched
    finally:
        watched.context.close()
    assert watched.errors == [], (watched.errors, watched.refused)
    assert watched.dialogs == []


def test_from_upload_to_comparison_in_the_browser(ui: Watched) -> None:
    page = ui.page
    ui.go("/")
    page.get_by_role("heading", name="Projects").wait_for()
    page.get_by_role("heading", name="Getting started").wait_for()
    ui.shot("projects")

    page.get_by_label("New project name").fill("Penguins lab")
    page.get_by_role("button", name="Create project").click()
    page.get_by_role("heading", name="Penguins lab").wait_for()
    # Each empty state says what to do next.
    page.get_by_role("note").get_by_text("upload a dataset").wait_for()

    # A refused upload shows the server's words next to the field, and nothing is kept.
    ragged = {"name": "ragged.csv", "mimeType": "text/csv", "buffer": b"a,b\n1,2\n3\n"}
    page.get_by_label("CSV, TSV or Parquet file").set_input_files(ragged)
    # The target is chosen from the file's header; the name comes from the file's.
    page.locator("select#dataset-target option[value=b]").wait_for(state="attached")
    assert page.get_by_label("Dataset name").input_value() == "ragged"
    page.locator("#dataset-target").select_option("b")
    page.get_by_role("button", name="Upload").click()
    error = page.locator("#dataset-error")
    error.get_by_text("ragged.csv").wait_for()  # the file as sent, with the row at fault
    ui.expect_refused(400)
    page.get_by_label("CSV, TSV or Parquet file").set_input_files(str(PENGUINS))
    page.locator("select#dataset-target option[value=bill_length_mm]").wait_for(state="attached")
    page.get_by_label("Dataset name").fill("penguins")
    page.locator("#dataset-target").select_option("sex")
    page.get_by_role("button", name="Upload").click()

    page.get_by_role("heading", name="penguins v1").wait_for()
    page.get_by_role("heading", name="Missing values per column").wait_for()
    page.get_by_role("heading", name="Label balance").wait_for()
    assert page.get_by_role("cell", name="bill_length_mm", exact=True).count() == 1
    ui.shot("dataset")

    page.get_by_role("link", name="Train on this version").click()
    page.get_by_role("heading", name="New run").wait_for()
    # The form starts at the template's reference baseline; a baseline needs none before it.
    assert page.locator("#run-model").input_value() == "logistic_regression"
    assert not page.locator("#run-baseline-first").is_visible()
    page.locator("#run-model").select_option("xgboost")
    assert page.get_by_label("Run the baseline first").is_checked()
    # The baseline it trains is named, and each setting says what it does.
    page.get_by_text("Run the baseline first (logistic_regression)").wait_for()
    page.get_by_text("most trees to grow").wait_for()
    page.get_by_label("n_estimators").fill("0")
    page.get_by_role("button", name="Start run").click()
    page.get_by_text("n_estimators: at least 1").wait_for()
    page.get_by_label("n_estimators").fill("50")
    ui.shot("new-run")
    page.get_by_role("button", name="Start run").click()

    # Both runs queued by one request: their progress shows here, and the page stays.
    progress = page.locator("#run-progress")
    progress.get_by_role("link", name="logistic_regression (baseline)").wait_for()
    candidate = progress.locator("li").filter(has_text="xgboost (candidate)")
    candidate.locator(".status-succeeded").wait_for(timeout=180_000)
    assert progress.locator(".status-succeeded").count() == 2
    assert progress.get_by_role("button", name="Cancel run").count() == 0
    assert page.get_by_role("heading", name="New run").is_visible()
    ui.shot("new-run-progress")
    candidate.get_by_role("link").click()

    # The candidate's page, opened at its top: status first, then the report.
    page.get_by_role("heading", name="Takeaway").wait_for(timeout=180_000)
    assert page.evaluate("window.scrollY") == 0
    assert page.locator(".status").first.inner_text() == "succeeded"
    page.get_by_role("heading", name="Metrics").wait_for()
    # Measured against the baseline trained first: deltas, not "no baseline".
    assert page.get_by_text("no baseline was evaluated").count() == 0
    page.get_by_role("columnheader", name="Delta vs baseline").wait_for()
    # Inference latency, timed after the evaluation: p50/p95 per batch and per row.
    page.get_by_role("heading", name="Inference latency").wait_for()
    latency = page.locator("#latency")
    latency.get_by_text("p95 per batch").wait_for()
    assert "rows of the test split" in latency.inner_text()
    plot = page.locator(".plots img").first
    plot.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=plot.element_handle())
    # Alt text and caption say what the plot shows, not its file name.
    alt = plot.get_attribute("alt") or ""
    assert alt.startswith("Calibration of xgboost: predicted probability"), alt
    assert page.locator(".plots figcaption strong").first.inner_text() == "Calibration"
    # A slice's failure examples.
    page.locator("table button.secondary").first.click()
    page.get_by_text("Failures in slice").wait_for()
    # The slice is in the URL: opening it shows the same slice's failures.
    assert "?slice=" in page.url
    page.reload()
    page.get_by_text("Failures in slice").wait_for()
    page.get_by_text("share of test rows predicted right").first.wait_for()  # metric glossary
    # The reproduce command, copied.
    command = page.locator("code").filter(has_text="modellab reproduce").inner_text()
    page.get_by_role("button", name="Copy").click()
    page.get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == command
    ui.shot("run")

    # Compare from the runs table.
    page.get_by_role("link", name="← penguins-lab").click()
    boxes = page.get_by_role("checkbox")
    boxes.nth(1).wait_for()
    assert boxes.count() == 2
    # Filters: by model, and by a metric range.
    page.locator("#filter-model").select_option("xgboost")
    page.wait_for_function(
        "() => document.querySelectorAll('tbody input[type=checkbox]').length === 1"
    )
    # Each change redraws the filter bar: the next one waits for that, or it would type
    # into an input that is about to be replaced.
    settled = "() => !document.querySelector('[aria-live=polite][aria-busy=true]')"
    page.locator("#filter-model").select_option("")
    page.wait_for_function(settled)
    page.locator("#filter-metric").select_option("accuracy")
    page.wait_for_function(settled)
    page.locator("#filter-metric_max").fill("0.1")
    page.locator("#filter-metric_max").dispatch_event("change")
    page.get_by_text("No run matches these filters.").wait_for()
    # The filters are in the URL: a reload (or a shared link) shows the same runs.
    assert page.url.endswith("?metric=accuracy&metric_max=0.1")
    page.reload()
    page.get_by_text("No run matches these filters.").wait_for()
    assert page.locator("#filter-metric_max").input_value() == "0.1"
    page.locator("#filter-metric_max").fill("")
    page.locator("#filter-metric_max").dispatch_event("change")
    page.wait_for_function(
        "() => document.querySelectorAll('tbody input[type=checkbox]').length === 2"
    )
    page.locator("#filter-metric").select_option("")
    page.wait_for_function(
        "() => document.querySelectorAll('tbody input[type=checkbox]').length === 2"
    )
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.get_by_role("button", name="Compare selected").click()
    page.get_by_role("heading", name="Compare runs").wait_for()
    page.get_by_role("heading", name="Plots (A left, B right)").wait_for()
    page.get_by_role("heading", name="Inference latency").wait_for()
    assert page.locator("#latency td", has_text=" ms").count() >= 6  # both runs measured
    # Whatever order they were ticked in, the baseline is A, "before".
    assert (
        page.locator("main p", has_text="A: ")
        .first.inner_text()
        .startswith("A: logistic_regression")
    )
    assert "#/compare?a=" in page.url
    plots = page.locator(".plots img")
    assert plots.count() >= 3
    for i in range(plots.count()):
        plots.nth(i).scroll_into_view_if_needed()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=plots.nth(i).element_handle()
        )
    page.get_by_label("What changed my mind").fill("xgboost wins on bill length")
    page.get_by_role("button", name="Add note to run B").click()
    page.get_by_text("xgboost wins on bill length").wait_for()
    ui.shot("compare")

    # Shareable: the same URL opens the same comparison in a fresh page.
    again = ui.context.new_page()
    again.goto(page.url)
    again.get_by_role("heading", name="Slice shifts").wait_for()

    # From a run's page: the picker offers its baseline as A, and refuses A = B.
    b_id = page.url.rsplit("b=", 1)[1]
    a_id = page.url.split("a=", 1)[1].split("&", 1)[0]
    ui.go(f"/compare?b={b_id}")
    page.get_by_label("Run A (before)").wait_for()
    assert page.get_by_label("Run A (before)").input_value() == a_id
    page.get_by_label("Run A (before)").select_option(b_id)
    page.get_by_role("button", name="Compare", exact=True).click()
    page.get_by_text("Pick two different runs").wait_for()
    # The baseline's own report says what it is instead of "not meaningful".
    ui.go(f"/runs/{a_id}")
    page.get_by_text("This is a baseline run").wait_for()


def test_user_text_is_shown_as_text(ui: Watched) -> None:
    httpx.post(f"{ui.url}/api/projects", json={"name": XSS, "slug": "xss"}).raise_for_status()
    ui.go("/")
    page = ui.page
    page.get_by_text(XSS, exact=True).wait_for()
    assert page.locator("main img").count() == 0
    ui.go("/p/xss")
    page.get_by_role("heading", name=XSS).wait_for()
    # A column and a note with markup, through an upload.
    rows = "\n".join(f"{i % 7},{'yes' if i % 2 else 'no'}" for i in range(60))
    csv_bytes = f'"{XSS}",label\n{rows}\n'.encode()
    httpx.post(
        f"{ui.url}/api/projects/xss/datasets",
        files={"file": ("x.csv", csv_bytes, "text/csv")},
        data={"name": "marked", "target": "label", "notes": XSS},
    ).raise_for_status()
    ui.go("/p/xss/datasets/marked")
    page.get_by_role("heading", name="Schema").wait_for()
    assert page.get_by_role("cell", name=XSS, exact=True).count() == 1
    assert page.get_by_text(f": {XSS}").count() >= 1  # the note
    assert page.locator("main img").count() == 0


def test_a_text_dataset_shows_its_words_vocabulary_and_rows_per_class(ui: Watched) -> None:
    """Banking77 queries (with markup in them): the dataset page shows the words per row,
    the vocabulary and sample rows of each class; a text run's page shows its failure
    texts and their nearest training texts; every text stays text."""
    from importlib.resources import files

    import pandas as pd

    data = files("modellab_classification.demo_data") / "banking77" / "data" / "train.csv"
    frame = pd.read_csv(str(data)).head(300)
    # Every query carries markup, so whichever the failures are, they show it; the second
    # largest intent plays CLINC150's out-of-scope class.
    frame["text"] = frame["text"] + f" {XSS}"
    second = frame["category"].value_counts().index[1]
    frame.loc[frame["category"] == second, "category"] = "oos"
    httpx.post(f"{ui.url}/api/projects", json={"name": "support"}).raise_for_status()
    httpx.post(
        f"{ui.url}/api/projects/support/datasets",
        files={"file": ("bank.csv", frame.to_csv(index=False).encode(), "text/csv")},
        data={"name": "bank", "target": "category"},
    ).raise_for_status()
    ui.go("/p/support/datasets/bank")
    page = ui.page
    table = page.get_by_role("table", name="Sample rows of text by class")
    table.wait_for(timeout=60_000)
    assert table.locator("tbody tr").count() >= 2
    assert page.get_by_text("distinct words").count() == 1
    page.get_by_role("table", name=re.compile("words per row of text")).or_(
        page.get_by_text("words per row: median")
    ).first.wait_for()
    assert page.locator("main img").count() == 0  # the markup stayed text
    # Records are text and label: distinct queries are not duplicates.
    assert "repeat another row" not in page.locator("main").inner_text()
    ui.shot("text-dataset")
    # The new-run form offers the text template's input column; the tabular one has none.
    ui.go("/p/support/new-run")
    page.locator("#run-template").select_option("text-classification")
    page.get_by_role("checkbox", name="text").wait_for()
    page.locator("#run-template").select_option("tabular-classification")
    page.get_by_text("no column of the roles feature").wait_for()
    run = _trained(ui.url, "support", "bank", "text-classification", "tfidf_logistic", 20)
    ui.go(f"/runs/{run['id']}")
    failures = page.get_by_role("table", name="Failure examples")
    failures.wait_for(timeout=60_000)
    assert failures.get_by_role("button", name="Nearest training text").count() == 1
    cells = failures.locator("tbody td").all_inner_texts()
    assert sum(XSS in c for c in cells) >= 2  # the failure's text and its neighbour's
    assert page.locator("main img[src='x']").count() == 0
    slices = page.get_by_role("table", name="Slices of the test set, weakest first")
    row = slices.locator("tr").filter(has_text="out_of_scope:queries")
    assert "confident_error" in row.inner_text()
    ui.shot("text-run")
    assert ui.dialogs == [] and ui.errors == [], (ui.dialogs, ui.errors)


def test_members_are_added_and_refusals_are_shown(ui: Watched) -> None:
    httpx.post(f"{ui.url}/api/projects", json={"name": "team"}).raise_for_status()
    ui.go("/p/team")
    page = ui.page
    page.get_by_role("heading", name="Members").wait_for()
    page.get_by_text("local@localhost · owner").wait_for()
    page.get_by_text("Local mode: sign-in is off").wait_for()
    page.locator("#member-email").fill("ada@example.com")
    page.locator("#member-role").select_option("editor")
    page.get_by_role("button", name="Add or change").click()
    page.get_by_text("ada@example.com · editor").wait_for()
    # The last owner cannot leave: the API's words appear by the form.
    page.get_by_role("button", name="remove local@localhost").click()
    page.locator("#member-error").get_by_text("owner").wait_for()
    ui.expect_refused(409)
    ui.shot("members")


def test_a_narrow_window_does_not_scroll_sideways(ui: Watched) -> None:
    httpx.post(f"{ui.url}/api/projects", json={"name": "narrow " * 10}).raise_for_status()
    page = ui.page
    page.set_viewport_size({"width": 380, "height": 800})
    ui.go("/")
    page.get_by_role("heading", name="Projects").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    # Keyboard: the skip link is first in the tab order and moves focus to the content
    # without changing the page.
    first = "document.querySelector('a[href], button, input, select, textarea')"
    assert page.evaluate(f"{first}.textContent") == "Skip to content"
    url = page.url
    page.focus("a.skip")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    assert page.url == url
    # A page of tables: they scroll inside their frame, words stay whole, the page does not
    # scroll sideways.
    seed_project(ui.url, "narrow-data")
    ui.go("/p/narrow-data/datasets/penguins")
    page.get_by_role("heading", name="Schema").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    cell = page.get_by_role("cell", name="categorical").first
    line = page.evaluate("parseFloat(getComputedStyle(document.body).lineHeight) || 21")
    assert cell.bounding_box()["height"] < 2 * line + 12, "a word broke over lines"
    assert page.evaluate(
        "() => { const w = document.querySelector('.table-wrap');"
        " return w.scrollWidth > w.clientWidth; }"
    )
    ui.shot("narrow-dataset")


def test_the_plugins_page_lists_templates_and_models(ui: Watched) -> None:
    ui.go("/plugins")
    page = ui.page
    page.get_by_role("heading", name="tabular-classification (classification)").wait_for()
    page.get_by_role("heading", name="tabular-regression (regression)").wait_for()
    page.get_by_role("heading", name="learning-to-rank (ranking)").wait_for()
    assert page.get_by_text("xgboost", exact=True).count() >= 2
    # What each plugin registers.
    page.get_by_text("slicers: class, confidence_decile").wait_for()
    ranking = page.locator("li", has_text="modellab-ranking").inner_text()
    assert (
        "task types: ranking, retrieval; templates: learning-to-rank, retrieval; "
        "evaluators: evalharness-ranking, evalharness-retrieval"
    ) in ranking
    ui.shot("plugins")


def test_errors_are_words_and_unknown_pages_say_so(ui: Watched) -> None:
    ui.go("/p/nope")
    page = ui.page
    page.get_by_role("alert").get_by_text("no project 'nope'").wait_for()
    ui.go("/no/such/page")
    page.get_by_text("There is no page /no/such/page.").wait_for()
    ui.expect_refused(404)


def test_logged_histories_are_charted_and_compare_overlays_them(
    ui: Watched, tmp_path: Path
) -> None:
    """Two tracked runs log a loss curve (a key with markup in it too): each run page
    draws the curve, and compare draws both on shared axes."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    from tests.evalharness.conftest import _split, classify

    seed_project(ui.url, "curves")
    code = {"modellab_version": "outside", "git_commit": "0123abcd", "git_dirty": False}
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    eval_dir = tmp_path / "eval"
    classify(_split(x, y, LogisticRegression(max_iter=2000)), eval_dir)
    ids = []
    with Client(ui.url) as client:
        for seed, rate in ((1, 0.1), (2, 0.3)):
            run = client.start_run(
                "curves", "penguins", name=f"lr-{rate}", seed=seed, code_version=code
            )
            for step in range(40):
                run.log_metric("loss", float(np.exp(-rate * step)), step)
                run.log_metric(XSS, float(step), step)
            run.log_metric("final_accuracy", 0.9, 0)  # one point: a value, not a curve
            # The training script's own report: compare then weighs its metrics too (runs
            # without one compare on what they logged: the test below).
            run.attach_eval(eval_dir)
            run.finish("succeeded")
            ids.append(run.id)
    page = ui.page
    ui.go(f"/runs/{ids[0]}")
    charts = page.locator("#metric-histories figure")
    charts.first.wait_for()
    assert charts.count() == 2  # loss and the markup key; final_accuracy has no curve
    loss = page.get_by_role("img", name="loss by step")
    points = loss.locator("polyline").get_attribute("points")
    assert points is not None and len(points.split()) == 40
    assert page.get_by_role("img", name=f"{XSS} by step").count() == 1
    assert page.locator("main img[src='x']").count() == 0
    ui.go(f"/compare?a={ids[0]}&b={ids[1]}")
    both = page.get_by_role("img", name=re.compile("^loss by step: A .* and B "))
    both.wait_for()
    assert both.locator("polyline").count() == 2
    ui.shot("compare-histories")
    assert ui.dialogs == [] and ui.errors == [], (ui.dialogs, ui.errors)


def test_tracked_runs_without_eval_reports_compare_on_what_they_logged(ui: Watched) -> None:
    """Two tracked runs with params and loss curves and no eval report: compare shows the
    newest logged values and their difference, the params that differ, both histories on
    shared axes, and says why there are no verdicts, slices or failures."""
    seed_project(ui.url, "logged")
    ids, losses = [], []
    logs: list[tuple[int, float, dict[str, str | int | float | bool]]] = [
        (1, 0.1, {"lr": 0.1, "optimizer": "adam", "layers": 3}),
        (2, 0.3, {"lr": 0.3, "optimizer": "adam", "dropout": 0.5}),
    ]
    with Client(ui.url) as client:
        for seed, rate, params in logs:
            code = {
                "modellab_version": "outside",
                "git_commit": f"c0ffee{seed}",
                "git_dirty": False,
            }
            run = client.start_run(
                "logged", "penguins", name=f"mlp-{rate}", seed=seed, code_version=code
            )
            run.log_params(params)
            for step in range(40):
                run.log_metric("loss", float(np.exp(-rate * step)), step)
            run.log_metric("val_acc", 0.5 + rate, 39)
            run.finish("succeeded")
            ids.append(run.id)
            losses.append(float(np.exp(-rate * 39)))
    page = ui.page
    ui.go(f"/compare?a={ids[0]}&b={ids[1]}")
    page.locator("#compare-basis").get_by_text(
        "have no eval report: only logged metrics are compared"
    ).wait_for()
    both = page.get_by_role("img", name=re.compile("^loss by step: A .* and B "))
    both.wait_for()
    assert both.locator("polyline").count() == 2
    metrics = page.get_by_role("table", name="Newest logged value of each metric")
    loss = metrics.get_by_role("row").filter(has_text="loss")
    cells = loss.get_by_role("cell").all_inner_texts()
    assert cells[1:] == [
        f"{losses[0]:.4f}",
        f"{losses[1]:.4f}",
        f"{losses[1] - losses[0]:+.4f}",
        "39, 39",
    ], cells
    page.get_by_text("no verdict: each value is one logged number per run").wait_for()
    params = page.get_by_role("table", name="Params that differ")
    rows = sorted(r.get_by_role("cell").all_inner_texts() for r in params.locator("tbody tr").all())
    assert rows == [["dropout", "—", "0.5"], ["layers", "3", "—"], ["lr", "0.1", "0.3"]]
    # Sections that need both eval reports are left out, not filled with made-up numbers.
    for heading in ("Summary", "Metrics", "Slice shifts", "Failures", "Plots (A left, B right)"):
        assert page.get_by_role("heading", name=heading, exact=True).count() == 0, heading
    ui.shot("compare-logged")
    assert ui.dialogs == [] and ui.errors == [], (ui.dialogs, ui.errors)


def test_the_runs_table_pages_and_filters_on_the_server(ui: Watched) -> None:
    """More runs than a page: the table loads 50, more on demand, and filters search all."""
    seed_project(ui.url, "many")
    code = {"modellab_version": "outside", "git_commit": "0123abcd", "git_dirty": False}
    with Client(ui.url) as client:
        for i in range(60):
            run = client.start_run("many", "penguins", name=f"sweep-{i}", seed=i, code_version=code)
            run.log_metric("loss", i / 100, 0)
            run.flush()
            if i % 3 == 0:
                run.finish("failed", "diverged")
    page = ui.page
    ui.go("/p/many")
    page.get_by_text("The newest 50 matching runs.").wait_for()
    # Live: a run that ends elsewhere changes its row without a reload.
    newest = page.locator("tbody tr", has=page.locator(f"a[href='#/runs/{run.id}']"))
    assert newest.locator(".status").inner_text() == "running"
    httpx.post(
        f"{ui.url}/api/runs/{run.id}/finish", json={"status": "succeeded"}
    ).raise_for_status()
    newest.locator(".status", has_text="succeeded").wait_for(timeout=10_000)
    rows = page.locator("tbody tr")
    assert rows.count() == 50
    page.get_by_role("button", name="Load 50 more").click()
    page.get_by_text("60 runs.").wait_for()
    assert rows.count() == 60
    # Failed runs are among the oldest too: the filter finds all 20, not those of one page.
    page.locator("#filter-status").select_option("failed")
    page.get_by_text("20 runs match.").wait_for()
    # A metric range, on the server, combined with the status.
    page.locator("#filter-metric").select_option("loss")
    page.locator("#filter-metric_max").fill("0.3")
    page.locator("#filter-metric_max").dispatch_event("change")
    page.get_by_text("11 runs match.").wait_for()  # i in 0, 3, ..., 30
    assert page.get_by_role("columnheader", name="loss").count() == 1
    assert "#/p/many?status=failed&metric=loss&metric_max=0.3" in page.url
    page.locator("#filter-status").select_option("")
    page.get_by_text("31 runs match.").wait_for()
    ui.shot("runs-filtered")


def test_the_header_of_a_csv_is_read_in_the_browser(ui: Watched) -> None:
    """The upload form's target choices: quoted names with separators and quotes, a BOM."""
    ui.go("/")
    ui.page.get_by_role("heading", name="Projects").wait_for()
    columns = ui.page.evaluate(
        r"""async ([csv, tsv]) => {
            const { headerColumns } = await import("/ui/js/views/project.js");
            return [headerColumns(csv, ","), headerColumns(tsv, "\t")];
        }""",
        ['\ufeff"a,b",c,"say ""hi"""\r\n1,2,3\n', "x\ty z\n"],
    )
    assert columns == [["a,b", "c", 'say "hi"'], ["x", "y z"]]


def test_files_that_are_not_csv_text_are_refused_before_a_target_is_offered(
    ui: Watched,
) -> None:
    """A PNG renamed .csv never offers its bytes as columns; ; and | headers are split."""
    httpx.post(f"{ui.url}/api/projects", json={"name": "files"}).raise_for_status()
    ui.go("/p/files")
    page = ui.page
    chooser = page.get_by_label("CSV, TSV or Parquet file")
    chooser.wait_for()
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"
    chooser.set_input_files({"name": "picture.csv", "mimeType": "text/csv", "buffer": png})
    error = page.locator("#dataset-error")
    error.get_by_text("picture.csv is not a CSV text file: it starts like a PNG image").wait_for()
    assert chooser.get_attribute("aria-invalid") == "true"
    # No header was offered: the target is typed, and nothing holds the PNG's bytes.
    assert page.locator("select#dataset-target").count() == 0
    assert page.locator("input#dataset-target").count() == 1
    assert "PNG" not in page.locator("label[for=dataset-target]").inner_text()
    # Sending it anyway is stopped here, with the same words; the server sees nothing.
    page.locator("#dataset-target").fill("y")
    page.get_by_role("button", name="Upload").click()
    error.get_by_text("picture.csv is not a CSV text file").wait_for()
    assert ui.refused == []
    assert httpx.get(f"{ui.url}/api/projects/files/datasets").json() == []

    # A semicolon file's header is split by the same rule as the server's.
    semi = b'a;"b;c";y\n1,5;x;0\n2,5;z;1\n'
    chooser.set_input_files({"name": "semi.csv", "mimeType": "text/csv", "buffer": semi})
    page.locator("select#dataset-target option[value=y]").wait_for(state="attached")
    options = page.locator("select#dataset-target option").all_inner_texts()
    assert options[1:] == ["a", "b;c", "y"]
    assert error.inner_text() == "" and chooser.get_attribute("aria-invalid") is None
    # Parquet is binary on purpose: no refusal, the target is typed.
    parquet = b"PAR1" + b"\x00" * 16 + b"PAR1"
    chooser.set_input_files(
        {"name": "t.parquet", "mimeType": "application/octet-stream", "buffer": parquet}
    )
    page.locator("input#dataset-target").wait_for()
    assert error.inner_text() == ""

    found = page.evaluate(
        r"""async (samples) => {
            const { binaryReason, detectDelimiter } = await import("/ui/js/views/project.js");
            const bytes = (xs) => new Uint8Array(xs);
            return {
                zip: binaryReason(bytes([0x50, 0x4b, 0x03, 0x04, 1, 2]), "book.csv"),
                gzip: binaryReason(bytes([0x1f, 0x8b, 8, 0]), "data.csv.csv"),
                pdf: binaryReason(new TextEncoder().encode("%PDF-1.7\n"), "doc.csv"),
                nul: binaryReason(new TextEncoder().encode("a,b\n1,\u0000\n"), "nul.csv"),
                latin1: binaryReason(bytes([0x61, 0x2c, 0xe9, 0x0a]), "latin.csv"),
                cut: binaryReason(bytes([0x61, 0x2c, 0xc3]), "cut.csv"),
                delimiters: samples.map(([text, truncated]) => detectDelimiter(text, truncated)),
            };
        }""",
        [
            ["a,b,y\n1,2,0\n", False],
            ["a;b;y\n1,5;2,25;0\n", False],
            ["a\tb\n1\t2\n", False],
            ["a|b\n1|2\n", False],
            ['name,note\n"x;y;z",1\n', False],
            ['a;b;y\n"multi\nline";2;0\n3;4;1\n', False],
            ["a,b,y\n1,2,0\n3,4\n", False],
            ["a;b;y\n1;2;0\n3;4", True],
        ],
    )
    assert "book.csv is not a CSV text file: it starts like a ZIP archive" in found["zip"]
    assert "gzip archive" in found["gzip"] and "PDF document" in found["pdf"]
    assert "NUL byte at byte offset 6" in found["nul"]
    assert "latin.csv is not valid UTF-8" in found["latin1"]
    assert found["cut"] is None  # a character cut by the end of the sample
    assert found["delimiters"] == [",", ";", "\t", "|", ",", ";", ",", ";"]

    # The dataset page says which delimiter the file was read with.
    semicolons = PENGUINS.read_bytes().replace(b",", b";")
    httpx.post(
        f"{ui.url}/api/projects/files/datasets",
        files={"file": ("penguins.csv", semicolons, "text/csv")},
        data={"name": "semi", "target": "sex"},
    ).raise_for_status()
    ui.go("/p/files/datasets/semi")
    page.get_by_role("heading", name="semi v1").wait_for()
    source = page.locator("#dataset-source").inner_text()
    assert source == "Read from penguins.csv (1 file) · delimiter ; (semicolon)"
    assert page.get_by_role("cell", name="bill_length_mm", exact=True).count() == 1


def _wait_run(url: str, run_id: str, timeout: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = httpx.get(f"{url}/api/runs/{run_id}").json()
        if run["status"] in ("succeeded", "failed", "cancelled", "timed_out"):
            return run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not end in {timeout} s")


def _trained(
    url: str, project: str, dataset: str, template: str, model: str, n_bootstrap: int
) -> dict[str, Any]:
    """A run created through the API and waited for; it must succeed."""
    created = httpx.post(
        f"{url}/api/runs",
        json={
            "project": project,
            "dataset": dataset,
            "template": template,
            "model": model,
            "n_bootstrap": n_bootstrap,
        },
    )
    created.raise_for_status()
    run = _wait_run(url, created.json()["id"])
    assert run["status"] == "succeeded", run["status_reason"]
    return run


PAIRED = ("accuracy", "roc_auc", "log_loss", "brier")


def _last_ci(text: str) -> tuple[str, str]:
    """The last "[low, high]" in a piece of page text."""
    found: list[tuple[str, str]] = re.findall(r"\[(-?[0-9.]+), (-?[0-9.]+)\]", text)
    assert found, text
    return found[-1]


def test_a_suspected_leak_is_named_on_every_page(ui: Watched) -> None:
    """Penguins plus 'hours', 0 exactly for the females: the run page, the project card,
    the compare page and the new-run form all name it, and leaving it out is one tick."""
    frame = pl.read_csv(PENGUINS, null_values=["NA"]).drop_nulls("sex")
    rng = np.random.default_rng(7)
    hours = np.where(frame["sex"].to_numpy() == "female", 0.0, rng.uniform(1, 60, frame.height))
    body = frame.with_columns(pl.Series("hours", hours.round(1))).write_csv()
    httpx.post(f"{ui.url}/api/projects", json={"name": "leaky"}).raise_for_status()
    httpx.post(
        f"{ui.url}/api/projects/leaky/datasets",
        files={"file": ("hours.csv", body.encode(), "text/csv")},
        data={"name": "hours", "target": "sex"},
    ).raise_for_status()
    runs = {}
    for model in ("logistic_regression", "xgboost"):
        created = httpx.post(
            f"{ui.url}/api/runs",
            json={
                "project": "leaky",
                "dataset": "hours",
                "template": "tabular-classification",
                "model": model,
                "n_bootstrap": 50,
            },
        )
        created.raise_for_status()
        runs[model] = _wait_run(ui.url, created.json()["id"])
        assert runs[model]["status"] == "succeeded", runs[model]["status_reason"]
    page = ui.page
    ui.go(f"/runs/{runs['xgboost']['id']}")
    banner = page.get_by_role("alert").filter(has_text="Possible target leak")
    banner.get_by_text('Column "hours"').wait_for(timeout=60_000)
    banner.get_by_text("--exclude hours").wait_for()
    ui.shot("run-leak")
    # One paired statistic: the run page's delta CIs are the compare page's, metric by metric.
    page.get_by_role("heading", name="Metrics").wait_for()
    on_run = {
        m: _last_ci(page.get_by_role("row").filter(has_text=m).first.inner_text()) for m in PAIRED
    }
    ui.go("/p/leaky")
    page.get_by_text('Possible target leak: it uses "hours"').wait_for()
    difference = page.get_by_text("Difference:").inner_text()
    assert _last_ci(difference) == on_run["accuracy"]
    ui.go(f"/compare?a={runs['logistic_regression']['id']}&b={runs['xgboost']['id']}")
    page.get_by_text('Run B uses feature "hours", a possible target leak').wait_for()
    page.get_by_text('Run A uses feature "hours", a possible target leak').wait_for()
    for metric in PAIRED:
        row = page.get_by_role("row").filter(has_text=metric).first.inner_text()
        assert "paired 95% CI of B − A" in row, row
        assert _last_ci(row.split("paired 95% CI of B − A:")[1]) == on_run[metric], metric
    ui.go("/p/leaky/new-run")
    page.get_by_role("heading", name="New run").wait_for()
    assert page.locator("#run-model").input_value() == "logistic_regression"
    hours_box = page.get_by_role("checkbox", name="hours (possible target leak)")
    assert hours_box.is_checked()
    assert not page.get_by_role("checkbox", name="bill_length_mm").is_checked()
    # A rule's threshold is a setting of the run, with its default shown.
    page.get_by_text("Evaluation rules").click()
    rule = page.locator("#run-eval-duplicate_excess_error")
    assert rule.get_attribute("placeholder") == "default 0.05"
    rule.fill("0.2")
    page.get_by_role("button", name="Start run").click()
    page.get_by_role("heading", name="Takeaway").wait_for(timeout=180_000)
    run_id = page.url.split("#/runs/")[1].split("?")[0]
    run = httpx.get(f"{ui.url}/api/runs/{run_id}").json()
    assert run["options"]["exclude"] == ["hours"]
    assert run["options"]["eval"] == {"duplicate_excess_error": 0.2}
    shown = page.locator("#run-options").inner_text()
    assert '"exclude"' in shown and '"hours"' in shown and "duplicate_excess_error" in shown
    assert page.get_by_text("Possible target leak").count() == 0


def test_a_low_cardinality_table_evaluates_with_a_note(ui: Watched) -> None:
    """Titanic's passengers: 12 feature rows, every test row repeats a train row by chance."""
    titanic = Path(__file__).resolve().parents[1] / "data" / "titanic_passengers.csv"
    httpx.post(f"{ui.url}/api/projects", json={"name": "ship"}).raise_for_status()
    httpx.post(
        f"{ui.url}/api/projects/ship/datasets",
        files={"file": ("titanic.csv", titanic.read_bytes(), "text/csv")},
        data={"name": "titanic", "target": "survived"},
    ).raise_for_status()
    run = _trained(ui.url, "ship", "titanic", "tabular-classification", "logistic_regression", 50)
    ui.go(f"/runs/{run['id']}")
    notes = ui.page.get_by_role("note").filter(has_text="Evaluation notes")
    notes.get_by_text("low_cardinality").wait_for(timeout=60_000)
    notes.get_by_text("expected by chance, not a leak").wait_for()
    ui.go("/p/ship/datasets/titanic")
    ui.page.get_by_text("Duplicate records:").wait_for()
    ui.page.get_by_text("are left spread over train and test").wait_for()


def test_closing_the_page_after_baseline_first_still_trains_the_candidate(ui: Watched) -> None:
    seed_project(ui.url, "lab")
    page = ui.page
    ui.go("/p/lab/new-run")
    page.locator("#run-model").select_option("xgboost")
    assert page.get_by_label("Run the baseline first").is_checked()
    page.get_by_label("n_estimators").fill("20")
    page.get_by_role("button", name="Start run").click()
    page.locator("#run-progress").get_by_text("xgboost (candidate)").wait_for()
    # Gone before the baseline has finished: nothing in the browser is left to start
    # the candidate.
    ui.context.close()
    runs = httpx.get(f"{ui.url}/api/projects/lab/runs").json()["items"]
    (cand,) = [r for r in runs if r["model"] == "xgboost"]
    assert cand["waits_on"] is not None
    ended = _wait_run(ui.url, cand["id"])
    base = httpx.get(f"{ui.url}/api/runs/{cand['waits_on']}").json()
    assert base["status"] == ended["status"] == "succeeded", ended["status_reason"]
    assert ended["started_at"] >= base["finished_at"]


def test_a_run_is_cancelled_from_its_page(ui: Watched) -> None:
    seed_project(ui.url, "lab")
    created = httpx.post(
        f"{ui.url}/api/runs",
        json={
            "project": "lab",
            "dataset": "penguins",
            "template": "tabular-classification",
            "model": "xgboost",
            # Minutes of training: it is stopped long before.
            "config": {"n_estimators": 100000, "early_stopping_rounds": 100000},
        },
    )
    created.raise_for_status()
    run_id = created.json()["id"]
    page = ui.page
    # Scrolled down on another page first: the run's page still opens at its top.
    ui.go("/p/lab")
    page.get_by_role("heading", name="lab").wait_for()
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    ui.go(f"/runs/{run_id}")
    # The project page's runs table has a running status too: wait for the run's page.
    page.get_by_role("heading", name="xgboost on lab/penguins@1").wait_for()
    page.get_by_label("training log").wait_for()
    page.locator(".status-running").wait_for(timeout=60_000)
    assert page.evaluate("window.scrollY") == 0
    assert page.get_by_label("training log").is_visible()
    page.get_by_role("button", name="Cancel run").click()
    page.locator(".status-cancelled").wait_for(timeout=60_000)
    page.get_by_text("cancelled while running").wait_for()
    assert page.get_by_role("button", name="Cancel run").count() == 0
    ui.shot("run-cancelled")
    assert _wait_run(ui.url, run_id)["status"] == "cancelled"


def test_a_ranking_run_shows_its_queries_and_compares_query_by_query(ui: Watched) -> None:
    """The Vaswani candidates, split by query: the run page lists every query with its
    change against BM25's single feature and the randomization test, the compare page
    the paired test and a per-query table."""
    from modellab.demo import DEMO_DATASETS

    vaswani = next(d for d in DEMO_DATASETS if d.task == "ranking")
    httpx.post(f"{ui.url}/api/projects", json={"name": "search"}).raise_for_status()
    httpx.post(
        f"{ui.url}/api/projects/search/datasets",
        files={"file": ("vaswani_ltr.csv", vaswani.path.read_bytes(), "text/csv")},
        data={
            "name": "ltr",
            "target": "relevance",
            "task": "ranking",
            "split": "group",
            "group_column": "query_id",
            "test_size": "0.5",
            "roles": "doc_id=item",
        },
    ).raise_for_status()
    runs = {}
    for model in ("single_feature", "xgb_ranker"):
        created = httpx.post(
            f"{ui.url}/api/runs",
            json={
                "project": "search",
                "dataset": "ltr",
                "template": "learning-to-rank",
                "model": model,
                "n_bootstrap": 100,
                "eval": {"randomization_n": 1000},
            },
        )
        created.raise_for_status()
        runs[model] = _wait_run(ui.url, created.json()["id"])
        assert runs[model]["status"] == "succeeded", runs[model]["status_reason"]
    page = ui.page
    ui.go(f"/runs/{runs['xgb_ranker']['id']}")
    page.get_by_role("heading", name="Queries").wait_for(timeout=60_000)
    test = page.locator("#randomization").inner_text()
    assert "Paired randomization test on ndcg@10" in test and "over 47 queries" in test
    assert "1000 sign flips, seed 0" in test
    table = page.get_by_role("table", name="ndcg@10 of every query, against the baseline")
    assert table.locator("tbody tr").count() == 47
    page.get_by_role("img", name=re.compile("Metrics against K")).wait_for()
    ui.shot("ranking-run")
    ui.go(f"/compare?a={runs['single_feature']['id']}&b={runs['xgb_ranker']['id']}")
    paired = page.locator("#paired-test")
    paired.wait_for(timeout=60_000)
    assert "paired randomization test on ndcg@10" in paired.inner_text()
    assert page.locator("#per-query tbody tr").count() == 47
    assert re.search(
        r"better on \d+ queries, worse on \d+", page.locator("#per-query").inner_text()
    )
    ui.shot("ranking-compare")
    assert ui.errors == [], ui.errors


def test_a_collection_shows_its_documents_queries_and_judgments(
    ui: Watched, tmp_path: Path
) -> None:
    """The Vaswani TREC collection, added with the CLI into the server's home: the dataset
    page shows the collection's counts, length distributions and grades."""
    from concurrent.futures import ThreadPoolExecutor
    from importlib.resources import files

    from click.testing import CliRunner

    from modellab.cli import cli

    env = {
        "MODELLAB_HOME": str(tmp_path / "home"),
        "MODELLAB_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "MODELLAB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'modellab.db'}",
    }
    httpx.post(f"{ui.url}/api/projects", json={"name": "search"}).raise_for_status()
    vaswani = str(files("modellab_ranking.demo_data") / "vaswani")
    args = ["dataset", "add", "-p", "search", "-n", "npl", vaswani]
    # Playwright's event loop runs in this thread, and the CLI starts its own: another thread.
    with ThreadPoolExecutor(1) as pool:
        added = pool.submit(CliRunner().invoke, cli, args, env=env).result()
    assert added.exit_code == 0, added.output
    page = ui.page
    ui.go("/p/search/datasets/npl")
    section = page.locator("#source-profile")
    section.wait_for(timeout=60_000)
    text = section.inner_text()
    assert "TREC collection (documents, topics, qrels)" in text
    assert "11,429" in text and "2,083" in text
    for label in ("document length (terms)", "query length (terms)", "judgments per grade"):
        assert label in text
    page.get_by_role("img", name=re.compile("histogram of document length")).wait_for()
    ui.shot("collection-dataset")
    runs = {}
    for model in ("bm25", "dense_tfidf_svd_hnsw"):
        created = httpx.post(
            f"{ui.url}/api/runs",
            json={
                "project": "search",
                "dataset": "npl",
                "template": "retrieval",
                "model": model,
                "n_bootstrap": 100,
                "eval": {"randomization_n": 1000},
            },
        )
        created.raise_for_status()
        runs[model] = _wait_run(ui.url, created.json()["id"])
        assert runs[model]["status"] == "succeeded", runs[model]["status_reason"]
    ui.go(f"/runs/{runs['dense_tfidf_svd_hnsw']['id']}")
    page.get_by_role("heading", name="Queries").wait_for(timeout=60_000)
    assert "Paired randomization test on ndcg@10" in page.locator("#randomization").inner_text()
    assert "not retrieved" in page.locator("main").inner_text()  # a missed relevant document
    # The index sweep: every setting with its recall, quality and search time, and the
    # recall-latency plot drawn beside the eval folder.
    run_id = runs["dense_tfidf_svd_hnsw"]["id"]
    sweep = httpx.get(f"{ui.url}/api/runs/{run_id}/eval").json()["files"]["ranking.json"]
    table = page.get_by_role("table", name="Approximate index settings")
    assert table.locator("tbody tr").count() == len(sweep["index_sweep"]) >= 10
    deployed = table.locator("tbody tr", has_text="hnsw efSearch=256 (deployed)").inner_text()
    assert "not timed" not in table.inner_text() and " ms" in deployed
    page.get_by_role("img", name=re.compile("Recall against latency")).wait_for()
    plot = httpx.get(f"{ui.url}/api/runs/{run_id}/artifacts/recall_latency.png")
    assert plot.headers["content-type"] == "image/png" and plot.content[:4] == b"\x89PNG"
    ui.shot("retrieval-run")
    ui.go(f"/compare?a={runs['bm25']['id']}&b={runs['dense_tfidf_svd_hnsw']['id']}")
    page.locator("#per-query").wait_for(timeout=60_000)
    dataset = httpx.get(f"{ui.url}/api/projects/search/datasets/npl").json()
    assert page.locator("#per-query tbody tr").count() == dataset["split"]["test"]["groups"]
    ui.shot("retrieval-compare")
    assert ui.errors == [], ui.errors


def test_the_links_the_mlflow_client_prints_open_the_run(ui: Watched) -> None:
    """mlflow prints ``<tracking URI>/#/experiments/N/runs/ID`` after a run: that opens
    the run's page, and the experiment's link the project's."""
    seed_project(ui.url, "flow")
    base = f"{ui.url}/mlflow/flow/api/2.0/mlflow"
    tags = [
        {"key": "modellab.dataset", "value": "penguins@1"},
        {"key": "modellab.seed", "value": "4"},
        {"key": "modellab.git_commit", "value": "0123abcd"},
    ]
    created = httpx.post(f"{base}/runs/create", json={"run_name": "sgd", "tags": tags})
    run_id = created.json()["run"]["info"]["run_id"]
    page = ui.page
    page.goto(f"{ui.url}/mlflow/flow/#/experiments/0/runs/{run_id}")
    page.get_by_role("heading", name=re.compile("sgd")).first.wait_for()
    page.goto(f"{ui.url}/mlflow/flow/#/experiments/0")
    page.wait_for_url(re.compile(r"#/p/flow$"))
