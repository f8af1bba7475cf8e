"""Run comparison: what improved, what got worse, and how sure we are.

``build_comparison(A, B)`` reads both runs' artifact folders (the EvalHarness contract,
predictions, run.json) and computes the comparison in memory; it writes nothing, so the
API's read of a comparison changes no run folder. ``compare_runs(A, B)`` (the CLI) also
writes ``<run_b>/compare/<run_a>/``: ``compare.json``, ``summary.txt`` and one
side-by-side PNG per plot kind (A left, B right). The API draws those PNGs on request
into a cache outside every run folder (``<artifact root>/.cache/compare/``), one file
per plot named by the hash of what it is drawn from.

When both runs scored the same test rows, EvalHarness' paired bootstrap over those rows
(the task type's ``paired_deltas``, with run B's report settings: its replicates, seed
and resampling) gives the CI of each metric's difference
and decides the label; those are the numbers of B's own report against A as baseline.
Only a metric without a paired CI falls back to whether the two runs' CIs overlap.

A run without an eval report (a tracked run that logged only loss curves and params)
is compared on what both runs have: the newest logged value of each metric, params,
tags, data, config, seed, code and files (``doc["basis"] == "logged"``). The sections
that rest on eval reports (metrics with CIs and verdicts, slices, failures, paired
bootstrap and test, plots) are then null and ``doc["basis_reason"]`` says why: one
logged number per run has no per-example predictions to resample, so no verdict.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import select

from evalharness import EvalConfig, PairedDeltas
from evalharness.core.jsonio import clean_float
from modellab.datasets.schema import diff_schemas
from modellab.domain import DatasetVersion, Run
from modellab.errors import InvalidInputError, NotFoundError
from modellab.nonfinite import as_logged
from modellab.runs.artifacts import (
    file_hashes,
    replace_dir,
    run_dir,
    sha256_of,
    write_bytes_atomic,
    write_json_atomic,
)
from modellab.runs.latency import read_latency
from modellab.runs.options import parse_options
from modellab.runs.predictions import UNIT_ID, read_predictions, same_keys
from modellab.runs.tracking import TRACKED, run_params, run_tags
from modellab.settings import Settings
from modellab.store import datasets as dataset_repo
from modellab.store import runs as run_repo
from modellab.store.database import Database
from modellab.store.models import RunLatestMetricRow
from modellab.tasks import TaskType

SKIP_IN_ARTIFACT_DIFF = ("compare/", "logs.txt", "run.json")
#: bump when side_by_side draws differently: cached plots of the old look are not reused
PLOT_CACHE_VERSION = 1


@dataclass(frozen=True)
class Side:
    """One run with its folder and dataset version."""

    run: Run
    folder: Path
    version: DatasetVersion

    def eval_json(self, name: str) -> Any:
        path = self.folder / "eval" / name
        return json.loads(path.read_text()) if path.exists() else None

    def latency(self) -> dict[str, Any]:
        """The run's latency.json, or why it has none (a tracked run is never timed)."""
        return read_latency(self.folder, tracked=self.run.kind == TRACKED)

    def has_eval(self) -> bool:
        """Whether the run holds an EvalHarness report (its ``eval/metrics.json``)."""
        return (self.folder / "eval" / "metrics.json").is_file()


def delta_of(a: Any, b: Any) -> float | None:
    """B - A of two finite numbers, rounded off float noise; None for anything else
    (a NaN or infinity as logged, a missing value): never a made-up number."""
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b)):
        return None
    if not (math.isfinite(a) and math.isfinite(b)):
        return None
    delta: float = round(b - a, 12)  # ints stay ints, as the reports wrote them
    return delta


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``)."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for key in sorted(obj):
            out.update(flatten(obj[key], f"{prefix}{key}."))
        return out
    return {prefix[:-1]: obj}


def config_diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Keys added, removed and changed between two nested configs."""
    fa, fb = flatten(a), flatten(b)
    return {
        "added": {k: fb[k] for k in sorted(fb.keys() - fa.keys())},
        "removed": {k: fa[k] for k in sorted(fa.keys() - fb.keys())},
        "changed": {
            k: {"a": fa[k], "b": fb[k]} for k in sorted(fa.keys() & fb.keys()) if fa[k] != fb[k]
        },
    }


def _files(folder: Path) -> dict[str, str]:
    return {
        rel: digest
        for rel, digest in file_hashes(folder).items()
        if not rel.startswith(SKIP_IN_ARTIFACT_DIFF)
    }


def artifact_diff(a: Path, b: Path) -> dict[str, list[str]]:
    """Files added, removed, changed (by sha256) and unchanged between two run folders."""
    fa, fb = _files(a), _files(b)
    return {
        "added": sorted(fb.keys() - fa.keys()),
        "removed": sorted(fa.keys() - fb.keys()),
        "changed": sorted(k for k in fa.keys() & fb.keys() if fa[k] != fb[k]),
        "unchanged": sorted(k for k in fa.keys() & fb.keys() if fa[k] == fb[k]),
    }


def _overlap(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool | None:
    if (
        not a
        or not b
        or None in (a.get("ci_low"), a.get("ci_high"), b.get("ci_low"), b.get("ci_high"))
    ):
        return None
    return bool(a["ci_low"] <= b["ci_high"] and b["ci_low"] <= a["ci_high"])


def report_settings(side: Side) -> EvalConfig:
    """The settings of a run's report: its bootstrap (replicates, seed, resampling) and
    the evaluation settings the run changed (a ranking run's cutoffs and gain, say).

    The bootstrap is read from its ``eval/confidence_intervals.json``; EvalHarness'
    defaults when the file does not say.
    """
    ci = side.eval_json("confidence_intervals.json") or {}
    default = EvalConfig()
    n_bootstrap, seed, method = ci.get("n_bootstrap"), ci.get("seed"), ci.get("resampling")
    given = parse_options(side.run.options).eval.given()
    given.pop("n_bootstrap", None)
    return EvalConfig(
        n_bootstrap=n_bootstrap if isinstance(n_bootstrap, int) else default.n_bootstrap,
        seed=seed if isinstance(seed, int) else default.seed,
        bootstrap_method=method if method in ("poisson", "multinomial") else "auto",
        **given,
    )


def paired_deltas(
    a: pl.DataFrame, b: pl.DataFrame, task: TaskType, config: EvalConfig
) -> PairedDeltas | None:
    """The task type's paired bootstrap of (B - A) on the units both runs scored.

    Rows in ``predictions.parquet`` order (row id), the order both reports saw them in;
    with B's report ``config`` the deltas are those of B's report against A. A task
    without one gives None, and the verdicts fall back to CI overlap.
    """
    if task.paired_deltas is None:
        return None
    result: PairedDeltas | None = task.paired_deltas(a, b, config)
    return result


def paired_rows(result: PairedDeltas | None) -> dict[str, dict[str, float]]:
    """Per metric ``{delta, ci_low, ci_high}``, rounded as the eval files round them."""
    out: dict[str, dict[str, float]] = {}
    for name, iv in (result.deltas if result is not None else {}).items():
        delta, lo, hi = clean_float(iv.estimate), clean_float(iv.ci_low), clean_float(iv.ci_high)
        if delta is not None and lo is not None and hi is not None:
            out[name] = {"delta": delta, "ci_low": lo, "ci_high": hi}
    return out


def verdict(
    delta: float | None, higher: bool, paired: dict[str, float] | None, overlap: bool | None
) -> str:
    """What a metric's change from A to B means: the paired CI decides, else CI overlap."""
    if delta is None:
        return "not comparable"
    if paired is not None:
        if paired["ci_low"] <= 0 <= paired["ci_high"]:
            return "within noise"
        better = (paired["delta"] > 0) == higher
        return "improved" if better else "worse"
    if delta == 0:
        return "unchanged"
    if overlap is False:
        return "improved" if (delta > 0) == higher else "worse"
    if overlap is None:
        # Neither a paired CI nor both runs' CIs: calling it noise would be a guess.
        return "no CI"
    return "within noise"


def metric_diff(sa: Side, sb: Side, paired: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Per metric: A, B, delta, CI overlap, paired CI and a verdict."""
    ma, mb = sa.eval_json("metrics.json") or {}, sb.eval_json("metrics.json") or {}
    ca = (sa.eval_json("confidence_intervals.json") or {}).get("intervals", {})
    cb = (sb.eval_json("confidence_intervals.json") or {}).get("intervals", {})
    higher = {**ma.get("higher_is_better", {}), **mb.get("higher_is_better", {})}
    rows = []
    metrics_a, metrics_b = ma.get("metrics", {}), mb.get("metrics", {})
    for name in sorted(metrics_a.keys() & metrics_b.keys()):
        va, vb = metrics_a[name], metrics_b[name]
        if not isinstance(va, int | float) or not isinstance(vb, int | float):
            continue
        delta = delta_of(va, vb)
        overlap = _overlap(ca.get(name), cb.get(name))
        rows.append(
            {
                "metric": name,
                "a": va,
                "b": vb,
                "delta": delta,
                "higher_is_better": higher.get(name, True),
                "ci_a": [ca[name]["ci_low"], ca[name]["ci_high"]] if name in ca else None,
                "ci_b": [cb[name]["ci_low"], cb[name]["ci_high"]] if name in cb else None,
                "cis_overlap": overlap,
                "paired": paired.get(name),
                "verdict": verdict(delta, higher.get(name, True), paired.get(name), overlap),
            }
        )
    return rows


#: what a logged-metric comparison cannot say, in its own words
NO_LOGGED_VERDICT = (
    "no verdict: each value is one logged number per run, with no per-example "
    "predictions to resample, so no CI can tell a change from noise"
)


async def logged_latest(db: Database, run_id: str) -> dict[str, dict[str, Any]]:
    """The newest logged value of each metric of a run, ``{key: {"value", "step"}}``.

    From ``run_latest_metrics``: what a tracked run logged (and a trained run's headline
    numbers, indexed there when it ended). A NaN or infinity comes back as logged.
    """
    async with db.session() as session:
        row, _ = await run_repo.get_run_row(session, run_id)
        found = await session.scalars(
            select(RunLatestMetricRow)
            .where(RunLatestMetricRow.run_id == row.id)
            .order_by(RunLatestMetricRow.key)
        )
        return {
            r.key: {"value": as_logged(float("nan") if r.nan else r.value), "step": r.step}
            for r in found
        }


def logged_metric_diff(
    a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Per metric both runs logged: A, B (newest values), B - A and each one's step;
    the metrics only one run logged, with their values; and why there is no verdict."""
    rows = [
        {
            "metric": key,
            "a": a[key]["value"],
            "b": b[key]["value"],
            "delta": delta_of(a[key]["value"], b[key]["value"]),
            "step_a": a[key]["step"],
            "step_b": b[key]["step"],
        }
        for key in sorted(a.keys() & b.keys())
    ]
    return {
        "rows": rows,
        "only_a": {k: a[k]["value"] for k in sorted(a.keys() - b.keys())},
        "only_b": {k: b[k]["value"] for k in sorted(b.keys() - a.keys())},
        "verdict": NO_LOGGED_VERDICT,
    }


def slice_shifts(sa: Side, sb: Side) -> list[dict[str, Any]]:
    """Slices present in both runs, with the metric change and whether CIs overlap."""
    a = {s["id"]: s for s in (sa.eval_json("slices.json") or {}).get("slices", [])}
    b = {s["id"]: s for s in (sb.eval_json("slices.json") or {}).get("slices", [])}
    metric = (sb.eval_json("slices.json") or {}).get("metric")
    out = []
    for sid in sorted(a.keys() & b.keys()):
        if "all_rows" in (a[sid].get("status"), b[sid].get("status")):
            continue  # the whole test set again: the metrics table already has it
        ea, eb = a[sid]["metrics"].get(metric or "", {}), b[sid]["metrics"].get(metric or "", {})
        if ea.get("value") is None or eb.get("value") is None:
            continue
        overlap = _overlap(ea, eb)
        out.append(
            {
                "slice": sid,
                "definition": b[sid]["definition"],
                "n": b[sid]["n"],
                "metric": metric,
                "a": ea["value"],
                "b": eb["value"],
                "delta": round(eb["value"] - ea["value"], 12),
                "cis_overlap": overlap,
                "shifted": overlap is False,
            }
        )
    out.sort(key=lambda r: (-abs(r["delta"]), r["slice"]))
    return out


def failure_changes(
    task: TaskType,
    sa: Side,
    sb: Side,
    pa: pl.DataFrame | None,
    pb: pl.DataFrame | None,
    same_rows: bool,
) -> dict[str, Any]:
    """New and fixed failures by example id, and the failure-mode distribution change.

    Where the task type tells which units fail (``unit_failures``) and both runs scored
    the same units, every unit counts; otherwise the two reports' failure examples.
    """
    fa, fb = (
        sa.eval_json("failure_examples.json") or {},
        sb.eval_json("failure_examples.json") or {},
    )
    out: dict[str, Any] = {}
    if same_rows and pa is not None and pb is not None and task.unit_failures is not None:
        wrong_a = np.asarray(task.unit_failures(pa), dtype=bool)
        wrong_b = np.asarray(task.unit_failures(pb), dtype=bool)
        ids = pa[UNIT_ID].to_numpy()
        out["basis"] = f"every test {task.unit}'s prediction"
        out["new"] = [str(i) for i in ids[wrong_b & ~wrong_a]]
        out["fixed"] = [str(i) for i in ids[wrong_a & ~wrong_b]]
        out["still_failing"] = int((wrong_a & wrong_b).sum())
    else:
        ids_a = {e["example_id"] for e in fa.get("examples", [])}
        ids_b = {e["example_id"] for e in fb.get("examples", [])}
        out["basis"] = "the selected failure examples"
        out["new"] = sorted(ids_b - ids_a)
        out["fixed"] = sorted(ids_a - ids_b)
    ca, cb = fa.get("category_counts", {}), fb.get("category_counts", {})
    out["failure_modes"] = {
        k: {"a": ca.get(k, 0), "b": cb.get(k, 0), "delta": cb.get(k, 0) - ca.get(k, 0)}
        for k in sorted(ca.keys() | cb.keys())
    }
    return out


def dataset_diff(sa: Side, sb: Side) -> dict[str, Any]:
    """Checksums, versions and schema changes between the two runs' data."""
    va, vb = sa.version, sb.version
    diff = diff_schemas(va.schema, vb.schema, va.version)
    return {
        "a": {"ref": va.ref, "checksum": va.checksum, "split_checksum": va.split.checksum},
        "b": {"ref": vb.ref, "checksum": vb.checksum, "split_checksum": vb.split.checksum},
        "same_data": va.checksum == vb.checksum,
        "same_split": va.split.checksum == vb.split.checksum,
        "schema": {
            "added": diff.added,
            "removed": diff.removed,
            "changed": [{"column": c.column, "a": c.before, "b": c.after} for c in diff.changed],
        },
    }


def side_by_side(a: Path, b: Path, out: Path, title_a: str, title_b: str) -> None:
    """One PNG: plot ``a`` left, ``b`` right, deterministic bytes, written atomically."""
    import matplotlib.image as mpimg
    from matplotlib.figure import Figure

    # A Figure of its own, not pyplot's global state: requests may draw at once.
    fig = Figure(figsize=(12, 5), dpi=100)
    axes = fig.subplots(1, 2)
    for ax, path, title in ((axes[0], a, title_a), (axes[1], b, title_b)):
        ax.imshow(mpimg.imread(path))
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    # A temporary name of its own: two requests may draw the same plot at once.
    tmp = out.with_name(f".{out.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        fig.savefig(tmp, format="png", metadata={"Software": None})
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def plot_names(sa: Side, sb: Side) -> list[str]:
    """The PNG plots (file names) that both runs' reports hold."""

    def names(side: Side) -> set[str]:
        folder = side.folder / "eval" / "plots"
        if not folder.is_dir():
            return set()
        return {p.name for p in folder.glob("*.png") if p.is_file() and not p.is_symlink()}

    return sorted(names(sa) & names(sb))


def _titles(sa: Side, sb: Side) -> tuple[str, str]:
    return (
        f"A: {sa.run.model} ({sa.run.id[:13]})",
        f"B: {sb.run.model} ({sb.run.id[:13]})",
    )


def plot_cache_dir(settings: Settings) -> Path:
    """Where the API's side-by-side plots are cached: outside every run folder."""
    # A project slug never starts with a dot, so this name is no project's folder.
    return settings.artifact_root / ".cache" / "compare"


def cached_plot(settings: Settings, sa: Side, sb: Side, name: str) -> Path:
    """The side-by-side PNG of plot ``name`` of both runs, drawn once into the cache.

    The file is named by the hash of everything it is drawn from (both source plots'
    bytes, the titles, the drawing's version), so a changed report draws a new one.

    :raises NotFoundError: when not both runs' reports hold plot ``name``.
    """
    if name not in plot_names(sa, sb):
        raise NotFoundError(
            f"runs {sa.run.id} and {sb.run.id} have no plot {name[:80]!r} in common"
        )
    src_a = sa.folder / "eval" / "plots" / name
    src_b = sb.folder / "eval" / "plots" / name
    title_a, title_b = _titles(sa, sb)
    key = hashlib.sha256(
        json.dumps(
            [PLOT_CACHE_VERSION, name, sha256_of(src_a), sha256_of(src_b), title_a, title_b]
        ).encode()
    ).hexdigest()
    out = plot_cache_dir(settings) / f"{key}.png"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        side_by_side(src_a, src_b, out, title_a, title_b)
    return out


def _summary_text(doc: dict[str, Any]) -> str:
    lines = [
        f"Compare run A {doc['a']['id']} ({doc['a']['model']})\n"
        f"     -> run B {doc['b']['id']} ({doc['b']['model']})"
    ]
    if not doc["like_for_like"]:
        lines.append(
            "WARNING: not like-for-like: the runs used different data or splits; "
            "differences mix model and data."
        )
    for side in ("a", "b"):
        for suspect in doc["leak_suspects"][side]:
            lines.append(
                f"WARNING: run {side.upper()} uses feature {suspect['column']!r}, a possible "
                f"target leak ({suspect['evidence']}): its numbers are no evidence until the "
                "column is checked or left out (--exclude)."
            )
    logged = doc["basis"] == "logged"
    lines += _logged_lines(doc) if logged else _eval_lines(doc)
    # Template runs log no params or tags: their summary says nothing of them.
    for title, key in (("Params", "params"), ("Tags", "tags"), ("Code", "code")):
        if logged or any(doc[key].values()):
            lines.append(f"{title}: {_diff_text(doc[key])}")
    lines.append(f"Config: {_diff_text(doc['config'])}")
    d = doc["dataset"]
    same_data = "same bytes" if d["same_data"] else "different bytes"
    same_split = "same split" if d["same_split"] else "different split"
    lines.append(f"Dataset: {d['a']['ref']} -> {d['b']['ref']} ({same_data}, {same_split})")
    lines.append(_latency_line(doc["latency"]))
    art = doc["artifacts"]
    counts = ", ".join(f"{len(art[k])} {k}" for k in ("added", "removed", "changed", "unchanged"))
    lines.append(f"Artifacts: {counts}")
    lines.append("Notes:")
    for side in ("a", "b"):
        for n in doc["notes"][side]:
            lines.append(f"  {side.upper()} {n['created_at']}  {n['text']}")
    if not doc["notes"]["a"] and not doc["notes"]["b"]:
        lines.append("  none yet; add one with: modellab note RUN TEXT")
    return "\n".join(lines) + "\n"


def _diff_text(diff: dict[str, Any]) -> str:
    """A :func:`config_diff` on one line: ``k: a -> b; +added=v; -removed``."""
    changes = [f"{k}: {v['a']!r} -> {v['b']!r}" for k, v in diff["changed"].items()]
    changes += [f"+{k}={v!r}" for k, v in diff["added"].items()]
    changes += [f"-{k}" for k in diff["removed"]]
    return "; ".join(changes) or "no change"


def _value_text(value: Any) -> str:
    """A logged value or delta: four decimals, a NaN or infinity as logged, None as n/a."""
    if value is None:
        return "n/a"
    return f"{value:.4f}" if isinstance(value, int | float) else str(value)


def _logged_lines(doc: dict[str, Any]) -> list[str]:
    """The summary of a comparison without both eval reports: the newest logged values."""
    m = doc["logged_metrics"]
    lines = [f"NOTE: {doc['basis_reason']}", f"Logged metrics (newest value; {m['verdict']}):"]
    for r in m["rows"]:
        delta = r["delta"]
        lines.append(
            f"  {r['metric']:<18} {_value_text(r['a'])} -> {_value_text(r['b'])}  "
            f"{'n/a' if delta is None else f'{delta:+.4f}'}  "
            f"(step {r['step_a']} -> {r['step_b']})"
        )
    if not m["rows"]:
        lines.append("  none logged by both runs")
    for side in ("a", "b"):
        only = m[f"only_{side}"]
        if only:
            values = ", ".join(f"{k}={_value_text(v)}" for k, v in only.items())
            lines.append(f"  only run {side.upper()} logged: {values}")
    return lines


def _eval_lines(doc: dict[str, Any]) -> list[str]:
    """The summary of two eval reports: verdicts, the paired test, slices, failures."""
    lines = []
    for verdict in ("improved", "worse", "within noise", "no CI", "unchanged", "not comparable"):
        rows = [m for m in doc["metrics"] if m["verdict"] == verdict]
        if rows:
            lines.append(f"{verdict[0].upper()}{verdict[1:]}:")
            for m in rows:
                ci = ""
                if m["paired"]:
                    lo, hi = m["paired"]["ci_low"], m["paired"]["ci_high"]
                    ci = f" (paired 95% CI {lo:+.4f} .. {hi:+.4f})"
                elif m["cis_overlap"] is not None:
                    ci = " (CIs overlap)" if m["cis_overlap"] else " (CIs do not overlap)"
                delta = "n/a" if m["delta"] is None else f"{m['delta']:+.4f}"
                lines.append(f"  {m['metric']:<18} {m['a']:.4f} -> {m['b']:.4f}  {delta}{ci}")
    test = doc.get("paired_test")
    if test:
        lines.append(
            f"{test['name']} on {test['metric']}: B - A = {test['observed']:+.4f} over "
            f"{test['n']} {test['units']}, p = {test['p_value']:.4g} ({test['n_permutations']} "
            f"permutations, seed {test['seed']})"
        )
    shifted = [s for s in doc["slices"] if s["shifted"]]
    lines.append(f"Slices: {len(doc['slices'])} compared, {len(shifted)} shifted beyond CI overlap")
    for s in doc["slices"][:5]:
        flag = " SHIFTED" if s["shifted"] else ""
        lines.append(
            f"  {s['slice']:<32} {s['a']:.4f} -> {s['b']:.4f} ({s['delta']:+.4f}, n={s['n']}){flag}"
        )
    f = doc["failures"]
    lines.append(f"Failures ({f['basis']}): {len(f['new'])} new, {len(f['fixed'])} fixed")
    if f["new"]:
        lines.append(f"  new: {', '.join(f['new'][:10])}")
    if f["fixed"]:
        lines.append(f"  fixed: {', '.join(f['fixed'][:10])}")
    modes = ", ".join(f"{k} {v['a']}->{v['b']}" for k, v in f["failure_modes"].items())
    lines.append(f"Failure modes: {modes or 'none'}")
    return lines


def _latency_text(lat: dict[str, Any]) -> str:
    if not lat.get("measured"):
        return f"not measured ({lat.get('reason', 'no figures')})"
    return (
        f"p50 {lat['p50_ms']:.3f} / p95 {lat['p95_ms']:.3f} ms per batch of "
        f"{lat['batch_size']} ({lat['per_sample_ms']:.4f} ms per row, {lat['device']})"
    )


def _latency_line(latency: dict[str, Any]) -> str:
    """The summary's inference latency of both runs; the machine matters, so it says so."""
    a, b = latency["a"], latency["b"]
    line = f"Latency: A {_latency_text(a)}\n      -> B {_latency_text(b)}"
    if a.get("measured") and b.get("measured") and a.get("platform") != b.get("platform"):
        line += "\n  (timed on different machines: the difference mixes model and machine)"
    return line


async def _side(db: Database, settings: Settings, run_id: str) -> Side:
    async with db.session() as session:
        row, project = await run_repo.get_run_row(session, run_id)
        run = await run_repo.to_domain(session, row, project.slug)
        vrow = await dataset_repo.get_version_row_by_id(session, run.dataset_version_id)
        version = await dataset_repo.to_domain(session, vrow, project.slug)
    return Side(run, run_dir(settings.artifact_root, run.project, run.id), version)


async def comparable_sides(
    db: Database, settings: Settings, run_a: str, run_b: str
) -> tuple[Side, Side]:
    """Both runs, refused unless they can be compared: one project, one task.

    An eval report is not needed: without one, only what was logged is compared.
    """
    sa, sb = await _side(db, settings, run_a), await _side(db, settings, run_b)
    if sa.run.project != sb.run.project:
        raise InvalidInputError("runs of different projects cannot be compared")
    if sa.version.task != sb.version.task:
        raise InvalidInputError(
            f"a {sa.version.task} run and a {sb.version.task} run cannot be compared"
        )
    return sa, sb


def _code(run: Run) -> dict[str, Any]:
    """The code a run executed, as the keys its code diff compares."""
    cv = run.code_version
    return {
        "modellab_version": cv.modellab_version,
        "git_commit": cv.git_commit,
        "git_dirty": cv.git_dirty,
        "diff_sha256": cv.diff_sha256,
    }


def no_eval_reason(sa: Side, sb: Side) -> str | None:
    """Why the comparison rests on logged metrics only; None when both runs have reports."""
    missing = [f"run {side} ({s.run.id})" for side, s in (("A", sa), ("B", sb)) if not s.has_eval()]
    if not missing:
        return None
    has = "have" if len(missing) == 2 else "has"
    return (
        f"{' and '.join(missing)} {has} no eval report: only logged metrics are compared "
        "(with params, tags, data, config and files). Metrics with CIs and verdicts, "
        "slices, failures, paired tests and report plots need both runs' eval reports."
    )


@dataclass(frozen=True)
class Comparison:
    """A comparison computed in memory: its document and the two runs behind it."""

    doc: dict[str, Any]
    a: Side
    b: Side


async def build_comparison(
    db: Database, settings: Settings, task_types: Mapping[str, TaskType], run_a: str, run_b: str
) -> Comparison:
    """Compare two runs of one project; reads both folders and writes nothing.

    ``task_types`` are the installed ones: the runs' task pairs them and tells failures.
    When both runs have eval reports, their metrics, slices and failures are compared
    (``basis`` "eval"); otherwise the newest logged metrics (``basis`` "logged").

    ``doc["plots"]`` names the side-by-side plots (``plots/NAME.png``) that
    :func:`write_comparison` or :func:`cached_plot` draws.
    """
    sa, sb = await comparable_sides(db, settings, run_a, run_b)
    reason = no_eval_reason(sa, sb)
    like = (
        sa.version.checksum == sb.version.checksum
        and sa.version.split.checksum == sb.version.split.checksum
    )
    doc: dict[str, Any] = {
        "a": {
            "id": sa.run.id,
            "template": sa.run.template,
            "model": sa.run.model,
            "seed": sa.run.seed,
        },
        "b": {
            "id": sb.run.id,
            "template": sb.run.template,
            "model": sb.run.model,
            "seed": sb.run.seed,
        },
        # "eval": both reports compared; "logged": what both runs logged, and why.
        "basis": "logged" if reason else "eval",
        "basis_reason": reason,
        "like_for_like": like,
        # A headline that rests on a suspected leak is no evidence: both sides say so.
        "leak_suspects": {
            "a": (sa.eval_json("eval_summary.json") or {}).get("leak_suspects", []),
            "b": (sb.eval_json("eval_summary.json") or {}).get("leak_suspects", []),
        },
    }
    if reason is None:
        doc |= _eval_sections(task_types, sa, sb)
        doc["logged_metrics"] = None  # the reports' metrics, with CIs, are the comparison
    else:
        doc |= dict.fromkeys(
            ("paired_bootstrap", "paired_test", "metrics", "slices", "failures", "plots")
        )
        doc["logged_metrics"] = logged_metric_diff(
            await logged_latest(db, sa.run.id), await logged_latest(db, sb.run.id)
        )
    doc |= {
        # Params and tags are text as logged: "changed", "added" (only in B), "removed"
        # (only in A), like the config's keys.
        "params": config_diff(await run_params(db, sa.run.id), await run_params(db, sb.run.id)),
        "tags": config_diff(await run_tags(db, sa.run.id), await run_tags(db, sb.run.id)),
        "config": config_diff(
            {
                "template": sa.run.template,
                "model": sa.run.model,
                "seed": sa.run.seed,
                "config": sa.run.config,
                "options": sa.run.options,
            },
            {
                "template": sb.run.template,
                "model": sb.run.model,
                "seed": sb.run.seed,
                "config": sb.run.config,
                "options": sb.run.options,
            },
        ),
        "code": config_diff(_code(sa.run), _code(sb.run)),
        "dataset": dataset_diff(sa, sb),
        "artifacts": artifact_diff(sa.folder, sb.folder),
        # Timings of two runs compare fairly only when one machine took both: the
        # platform of each side is in its figures.
        "latency": {"a": sa.latency(), "b": sb.latency()},
        "notes": {
            "a": [{"created_at": n.created_at.isoformat(), "text": n.text} for n in sa.run.notes],
            "b": [{"created_at": n.created_at.isoformat(), "text": n.text} for n in sb.run.notes],
        },
    }
    return Comparison(doc, sa, sb)


def _eval_sections(task_types: Mapping[str, TaskType], sa: Side, sb: Side) -> dict[str, Any]:
    """What two eval reports tell: metrics with CIs and verdicts, slices, failures, the
    paired bootstrap and test over the rows both runs scored, and their common plots."""
    if sa.version.task not in task_types:
        raise InvalidInputError(
            f"runs of task {sa.version.task!r} cannot be compared: no installed plugin "
            "registers that task type"
        )
    task = task_types[sa.version.task]
    pa = read_predictions(sa.folder / "predictions.parquet")
    pb = read_predictions(sb.folder / "predictions.parquet")
    # A retrieving task's runs hold each its own documents: they pair query by query.
    same_rows = (
        pa is not None
        and pb is not None
        and (task.retrieves or same_keys(pa, pb))
        and sa.version.checksum == sb.version.checksum
    )
    result = None
    if same_rows and pa is not None and pb is not None:
        try:
            result = paired_deltas(pa, pb, task, report_settings(sb))
        except ValueError:
            # Predictions EvalHarness refuses (say, scores outside [0, 1]): no paired CI,
            # so the verdicts fall back to CI overlap.
            result = None
    paired = paired_rows(result)
    test = None
    primary = (sb.eval_json("eval_summary.json") or {}).get("primary_metric")
    if same_rows and pa is not None and pb is not None and task.paired_test and primary:
        found = task.paired_test(pa, pb, report_settings(sb), primary)
        # Rounded as the eval files round numbers, so compare and report agree.
        test = (
            None
            if found is None
            else {k: clean_float(v) if isinstance(v, float) else v for k, v in found.items()}
        )
    return {
        # The replicates behind every paired CI: B's report settings, over these rows.
        "paired_bootstrap": (
            {
                "n_bootstrap": result.n_bootstrap,
                "seed": result.seed,
                "method": result.method,
                "rows": result.n,
                "settings": "run B's eval/confidence_intervals.json",
            }
            if result is not None
            else None
        ),
        # The task's significance test of B against A on B's primary metric, over the
        # units both scored (a ranking run's paired randomization test), with its seed.
        "paired_test": test,
        "metrics": metric_diff(sa, sb, paired),
        "slices": slice_shifts(sa, sb),
        "failures": failure_changes(task, sa, sb, pa, pb, same_rows),
        "plots": [f"plots/{name}" for name in plot_names(sa, sb)],
    }


def write_comparison(c: Comparison, out: Path) -> None:
    """Write ``compare.json``, ``summary.txt`` and the side-by-side plots to ``out``.

    The folder is written aside and moved into place, replacing an older one.
    """
    sa, sb = c.a, c.b
    tmp = out.with_name(f".{out.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "plots").mkdir(parents=True)
    title_a, title_b = _titles(sa, sb)
    for plot in c.doc["plots"] or []:  # none without both eval reports
        name = plot.removeprefix("plots/")
        side_by_side(
            sa.folder / "eval" / "plots" / name,
            sb.folder / "eval" / "plots" / name,
            tmp / "plots" / name,
            title_a,
            title_b,
        )
    write_json_atomic(tmp / "compare.json", c.doc)
    write_bytes_atomic(tmp / "summary.txt", _summary_text(c.doc).encode())
    out.parent.mkdir(parents=True, exist_ok=True)
    replace_dir(tmp, out)


async def compare_runs(
    db: Database, settings: Settings, task_types: Mapping[str, TaskType], run_a: str, run_b: str
) -> tuple[dict[str, Any], Path]:
    """Compare two finished runs and write the comparison to ``<run_b>/compare/<run_a>/``.

    For the CLI, which writes where its user works; the API uses
    :func:`build_comparison`, which writes nothing.
    """
    c = await build_comparison(db, settings, task_types, run_a, run_b)
    out = c.b.folder / "compare" / c.a.run.id
    write_comparison(c, out)
    return c.doc, out
