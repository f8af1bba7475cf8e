"""Runs as CSV for spreadsheets, with formula injection neutralized.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some
programs, a tab or carriage return) as a formula, so a run name or note such as
``=HYPERLINK(...)`` would turn an export into an attack on whoever opens it. Such text
cells get a leading apostrophe, which spreadsheets show as text (OWASP's advice). Numbers
stay numbers: a negative metric is not a formula.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from modellab.domain import Run

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

COLUMNS = (
    "id",
    "project",
    "status",
    "kind",
    "template",
    "model",
    "role",
    "dataset",
    "seed",
    "primary_metric",
    "value",
    "ci_low",
    "ci_high",
    "status_reason",
    "created_at",
    "finished_at",
    "notes",
)


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell a spreadsheet shows as text, never runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _row(run: Run) -> list[Any]:
    primary = run.metrics.get("primary_metric") or ""
    estimate = run.metrics.get("headline", {}).get(primary, {}) if primary else {}
    return [
        run.id,
        run.project,
        run.status.value,
        run.kind,
        run.template,
        run.model,
        run.role,
        run.environment.get("dataset", ""),
        run.seed,
        primary,
        estimate.get("value"),
        estimate.get("ci_low"),
        estimate.get("ci_high"),
        run.status_reason,
        run.created_at.isoformat(),
        run.finished_at.isoformat() if run.finished_at else None,
        "\n".join(note.text for note in run.notes),
    ]


def runs_csv(runs: list[Run]) -> str:
    """A header and one row per run, every cell passed through :func:`safe_cell`."""
    out = io.StringIO()
    # Rows end in CRLF (RFC 4180): the writer then quotes any cell holding a bare CR as well
    # as an LF, so a spreadsheet never splits a cell there and starts a new one mid-text.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for run in runs:
        writer.writerow([safe_cell(cell) for cell in _row(run)])
    return out.getvalue()
