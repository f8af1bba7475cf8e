"""Training a claimed run: fit, predict, evaluate, inside its training process.

:func:`train_claimed_run` is what a training process (:mod:`modellab.runs.training_process`)
does with the run :func:`modellab.runs.job.run_job` claimed for it. It streams the
training log to ``logs.txt``; and whatever fails, the run ends ``failed`` with a reason
and no half-written model, predictions or eval folder is left behind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import polars as pl

from modellab.datasets.storage import attachments_of, load_frame, load_version_split
from modellab.domain import ColumnRole, DatasetVersion, Run, RunStatus
from modellab.errors import ModelLabError
from modellab.plugins import Registry
from modellab.runs.artifacts import replace_dir, run_dir, write_json_atomic
from modellab.runs.configs import build_config
from modellab.runs.latency import LATENCY_POINTER, measure_model_latency, write_latency
from modellab.runs.lifecycle import (
    end_run,
    load_run,
    metrics_from_eval,
    recorded_features,
    remove_partial_outputs,
)
from modellab.runs.options import RunOptions, bootstrap_replicates, parse_options, run_features
from modellab.runs.predictions import (
    ITEM_ID,
    UNIT_ID,
    PredictionKeys,
    aligned_baseline,
    baseline_predictions,
    predictions_table,
    read_predictions,
    retrieval_table,
)
from modellab.runs.reasons import failure_reason
from modellab.runs.service import reproduce_command
from modellab.runs.slices import run_slicers
from modellab.settings import Settings
from modellab.store import runs as repo
from modellab.store.database import Database
from modellab.tasks import (
    ATTACHMENTS,
    GROUP,
    ITEM,
    TARGET,
    TEXT_COLUMNS,
    BaselinePredictions,
    EvalRequest,
    FittedModel,
    TaskPredictions,
    TaskType,
    Template,
)

log = logging.getLogger("modellab.run")
#: loggers whose lines go to a run's logs.txt; EvalHarness says there what each stress
#: case ran on and what it skipped
TRAIN_LOGGERS = ("modellab.run", "modellab.train", "evalharness.stress")


class StressLabels(logging.Filter):
    """Prefix a line logged while EvalHarness builds a stress case with the case's label.

    A distribution-shift case refits the model, and the refit logs like training does
    (rows to fit, rounds): without its label such a line reads as if the run itself had
    been trained again on a few dozen rows.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        from evalharness.stress import current_stress_label

        label = current_stress_label()
        if label is not None and not record.name.startswith("evalharness"):
            # With args, msg is %-formatted later: a '%' in the label must stay literal.
            prefix = label.replace("%", "%%") if record.args else label
            record.msg = f"{prefix}: {record.msg}"
        return True


ROW_ID = "row_id"


class PhaseClock:
    """Wall time per phase of a run, for logs.txt and benchmarks/run_tabular.py."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.laps[phase] = now - self.start
        self.start = now

    def summary(self) -> str:
        return " ".join(f"{k}={v:.3f}s" for k, v in self.laps.items())


@dataclass
class Prepared:
    """The frames of one run, indexed by dataset row position."""

    train: pd.DataFrame  # features + TARGET
    test_x: pd.DataFrame
    test_y: np.ndarray
    # The time split's column when it is not a feature: the leakage check needs it.
    train_time: pd.Series | None = None
    test_time: pd.Series | None = None


def load_run_frames(
    version: DatasetVersion,
    settings: Settings,
    task: TaskType,
    features: list[str] | None = None,
) -> Prepared:
    """The train and test frames of a dataset version's split, as a run sees them.

    The target is cast by the version's ``task``; ``features`` are the run's feature
    columns (default: the version's). For a grouped task both frames also hold each
    row's unit id (the split's group column) as :data:`~modellab.tasks.GROUP`. A version
    with attachments (a collection's documents) hands them to the models in both frames'
    ``attrs`` (:data:`~modellab.tasks.ATTACHMENTS`), and the ``features`` of role
    ``text`` are named there (:data:`~modellab.tasks.TEXT_COLUMNS`).
    """
    features = list(version.feature_columns) if features is None else features
    frame = load_frame(settings.artifact_root, version)
    split = load_version_split(settings.artifact_root, version)
    cols = [*features, version.target]
    table = frame.select(cols)
    if task.grouped:
        group = version.split.group_column
        if group is None:
            raise ModelLabError(
                f"task {task.name!r} needs a dataset split by {task.unit}, but "
                f"{version.ref} was not split by a group column; ingest it again with "
                "--split group --group-column COLUMN"
            )
        table = table.with_columns(frame[group].cast(pl.String).alias(GROUP))
    if task.retrieves:
        item = next((c.name for c in version.schema if c.role is ColumnRole.ITEM), None)
        if item is None:
            raise ModelLabError(
                f"task {task.name!r} ranks the items it retrieves against the judged ones, "
                f"but {version.ref} has no item column; add the dataset with --role "
                "COLUMN=item"
            )
        table = table.with_columns(frame[item].cast(pl.String).alias(ITEM))

    def part(idx: np.ndarray) -> pd.DataFrame:
        pdf = table[idx].to_pandas()
        pdf.index = pd.Index(idx, name=ROW_ID)
        return pdf

    train = part(split.train).rename(columns={version.target: TARGET})
    test = part(split.test)
    y = test.pop(version.target)
    attached = attachments_of(settings.artifact_root, version)
    if attached.names:
        train.attrs[ATTACHMENTS] = test.attrs[ATTACHMENTS] = attached
    texts = {c.name for c in version.schema if c.role is ColumnRole.TEXT}
    if texts.intersection(features):
        train.attrs[TEXT_COLUMNS] = test.attrs[TEXT_COLUMNS] = [c for c in features if c in texts]
    train[TARGET] = task.cast_target(train[TARGET])
    prepared = Prepared(train, test, task.cast_target(y).to_numpy())
    time_column = version.split.time_column
    if time_column and time_column not in features:
        times = frame.select(time_column)
        prepared.train_time = times[split.train].to_pandas()[time_column].set_axis(train.index)
        prepared.test_time = times[split.test].to_pandas()[time_column].set_axis(test.index)
    return prepared


@dataclass(frozen=True)
class PredictionRows:
    """A run's prediction rows: the predictions table, its keys and values in the
    evaluator's order, each row's truth when the rows are not the test rows, and the
    baseline paired with them."""

    table: pl.DataFrame
    keys: PredictionKeys
    predicted: TaskPredictions
    truth: np.ndarray | None
    baseline: BaselinePredictions | None


def prediction_rows(
    task: TaskType,
    prepared: Prepared,
    predicted: TaskPredictions,
    baseline: BaselinePredictions | None,
) -> PredictionRows:
    """The prediction rows of ``predicted`` on ``prepared``'s test rows.

    A retrieving task's rows are the documents the model retrieved and the judged ones
    (the baseline's table holds its own, and the evaluator pairs the two query by query);
    any other task's are the test rows, the baseline reordered to them by key.
    """
    test = prepared.test_x
    keys = PredictionKeys.of(test.index.to_numpy().astype(np.int64), predicted)
    if task.retrieves:
        table = retrieval_table(keys, predicted, test[GROUP], test[ITEM], prepared.test_y)
        return PredictionRows(
            table,
            PredictionKeys(table[UNIT_ID].to_numpy(), table[ITEM_ID].to_numpy()),
            TaskPredictions(table["prediction"].fill_null(np.nan).to_numpy()),
            table["truth"].to_numpy(),
            baseline,
        )
    table = predictions_table(keys, prepared.test_y, predicted)
    paired = None if baseline is None else aligned_baseline(baseline, keys)
    return PredictionRows(table, keys, predicted, None, paired)


async def strongest_baseline(
    db: Database, settings: Settings, run: Run, version: DatasetVersion
) -> BaselinePredictions | None:
    """The predictions of the strongest finished baseline of ``run``'s template on its
    dataset version and split, which a candidate is judged against (None: none yet, or
    ``run`` is a baseline)."""
    if run.role == "baseline":
        return None
    async with db.session() as session:
        rows = await repo.baselines_by_strength(
            session, run.dataset_version_id, run.split_checksum, run.template
        )
    if not rows:
        return None
    row = rows[0]
    folder = run_dir(settings.artifact_root, run.project, row.id)
    preds = read_predictions(folder / "predictions.parquet")
    if preds is None:
        log.warning("baseline run %s has no predictions.parquet; comparing without it", row.id)
        return None
    strength = repo.baseline_strength(row)
    log.info(
        "baseline: run %s (%s), the strongest of %d baseline run(s) on this dataset version "
        "and split%s",
        row.id,
        row.model,
        len(rows),
        f" by {strength[1]}" if strength else "",
    )
    return baseline_predictions(
        preds,
        name=row.model,
        run_key=row.run_key,
        dataset_version=version.ref,
        split_checksum=row.split_checksum,
        folder=folder,
    )


def with_baseline_model(
    baseline: BaselinePredictions | None, template: Template, features: list[str]
) -> BaselinePredictions | None:
    """``baseline`` with its model loaded back from its run folder, for the stress tests.

    A baseline that cannot take this run's inputs (it trained on columns the run does not
    have) or whose variant cannot load keeps its predictions only: the report then
    compares the two models on clean data and stresses the candidate alone, and the log
    says why.
    """
    if baseline is None or baseline.folder is None:
        return baseline
    variant = template.variant(baseline.name)
    if variant is None or variant.load is None:
        log.info("baseline %s has no load: the stress tests run on this model only", baseline.name)
        return baseline
    theirs = recorded_features(baseline.folder)
    missing = sorted(set(theirs) - set(features)) if theirs is not None else None
    if missing is None or missing:
        log.info(
            "baseline %s trained on %s: the stress tests run on this model only",
            baseline.name,
            "columns this run lacks (" + ", ".join(missing) + ")" if missing else "unknown columns",
        )
        return baseline
    try:
        model = variant.load(baseline.folder / "model")
    except Exception as exc:  # a baseline folder from an older release, a removed file
        log.warning(
            "baseline %s's model did not load (%s: %s): the stress tests run on this model only",
            baseline.name,
            type(exc).__name__,
            exc,
        )
        return baseline
    return dataclasses.replace(baseline, model=model)


def _train_and_evaluate(
    run: Run,
    version: DatasetVersion,
    registry: Registry,
    settings: Settings,
    folder: Path,
    baseline: BaselinePredictions | None,
) -> None:
    """The CPU-bound part of a run; runs in a worker thread."""
    template = registry.template(run.template)
    variant = template.variant(run.model)
    if variant is None:
        raise ModelLabError(f"template {run.template!r} no longer has model {run.model!r}")
    task = registry.task_type(template.task_type)
    evaluator = registry.evaluator_for(template.task_type)
    config = build_config(variant.config_type, run.config, variant.name)
    options = parse_options(run.options)
    features = run_features(version, options, template.input_roles)
    clock = PhaseClock()
    log.info("loading %s (%s rows)", version.ref, version.rows)
    if features != version.feature_columns:
        log.info("features of this run: %s", ", ".join(features))
    prepared = load_run_frames(version, settings, task, features)
    if not task.retrieves:
        # A retriever's stress tests search its own index again: a baseline's is not loaded.
        baseline = with_baseline_model(baseline, template, features)
    clock.lap("load")
    duplicates = _check_duplicates_before_fit(prepared, options)
    suspects = leak_suspects(version, features)
    for column, evidence in suspects:
        log.warning("possible target leak in feature %r: %s", column, evidence)
    log.info(
        "fitting %s/%s on %d train rows, seed %d",
        run.template,
        run.model,
        len(prepared.train),
        run.seed,
    )
    model = variant.fit(prepared.train, config, run.seed)
    clock.lap("fit")
    log.info("predicting %d test rows", len(prepared.test_x))
    rows = prediction_rows(task, prepared, task.predict(model, prepared.test_x), baseline)
    keys, predicted = rows.keys, rows.predicted
    clock.lap("predict")
    slicers = registry.slicers_for(task.name)
    n_units = np.unique(keys.units).size if task.grouped else len(prepared.test_x)
    slices = run_slicers(
        slicers,
        n_units,
        frame=prepared.test_x,
        train_frame=prepared.train.drop(columns=[TARGET]),
        units=keys.units,
        y_true=prepared.test_y,
        y_pred=predicted.y_pred,
        scores=predicted.scores,
        score_labels=predicted.score_labels,
        settings=options.eval,
    )
    log.info(
        "%d slices from slicers %s", len(slices), ", ".join(s.name for s in slicers) or "(none)"
    )
    clock.lap("slice")

    tmp_model = folder / ".model.tmp"
    shutil.rmtree(tmp_model, ignore_errors=True)
    fmt = model.save(tmp_model)
    write_json_atomic(tmp_model / "signature.json", {"format": fmt, **dict(model.signature)})
    replace_dir(tmp_model, folder / "model")
    tmp = folder / ".predictions.parquet.tmp"
    rows.table.write_parquet(tmp)
    tmp.replace(folder / "predictions.parquet")
    clock.lap("write")

    def refit(frame: pd.DataFrame, target: np.ndarray) -> FittedModel:
        return variant.fit(frame.assign(**{TARGET: target}), config, run.seed)

    replicates = bootstrap_replicates(options, run.environment)
    log.info("evaluating with %s (%d bootstrap replicates)", evaluator.name, replicates)
    evaluator.evaluate(
        EvalRequest(
            out_dir=folder / "eval",
            model=model,
            test_frame=prepared.test_x,
            y_true=prepared.test_y,
            train_frame=prepared.train.drop(columns=[TARGET]),
            train_target=prepared.train[TARGET].to_numpy(),
            split=version.split.strategy.value,
            time_column=version.split.time_column,
            baseline=rows.baseline,
            run_key=run.run_key,
            dataset_ref=version.ref,
            dataset_checksum=version.checksum,
            split_checksum=version.split.checksum,
            commit=run.code_version.git_commit or "unknown",
            seed=run.seed,
            reproduce_command=reproduce_command(run, version.ref),
            y_pred=predicted.y_pred,
            scores=predicted.scores,
            units=keys.units,
            items=keys.items,
            truth=rows.truth,
            train_time=prepared.train_time,
            test_time=prepared.test_time,
            refit=refit,
            eval_settings=msgspec.structs.replace(options.eval, n_bootstrap=replicates),
            leak_suspects=suspects,
            latency_file=LATENCY_POINTER,
            duplicates=duplicates,
            slices=slices,
        )
    )
    clock.lap("evaluate")
    # After the evaluation, so that its bootstrap and stress refits do not share the CPU
    # with the timed calls; into the run folder, not eval/, which must stay byte-identical.
    latency = measure_model_latency(model, prepared.test_x)
    write_latency(folder, latency)
    log.info(
        "latency: p50 %.3f ms, p95 %.3f ms per batch of %d rows (%.4f ms per row), %s",
        latency["p50_ms"],
        latency["p95_ms"],
        latency["batch_size"],
        latency["per_sample_ms"],
        latency["device"],
    )
    clock.lap("latency")
    # Timings go to logs.txt only: they differ on every run, and eval/ must not.
    log.info("timing: %s", clock.summary())


def leak_suspects(version: DatasetVersion, features: list[str]) -> tuple[tuple[str, str], ...]:
    """(column, evidence) of the run's features that the dataset's profile flagged as
    possible target leaks: every report that uses them says so."""
    return tuple(
        sorted(
            (w.column, w.message)
            for w in version.profile.warnings
            if w.code == "target_leak" and w.column in features
        )
    )


def _check_duplicates_before_fit(prepared: Prepared, options: RunOptions) -> Any:
    """Fail a run whose test rows copy train records before it spends time training.

    Returns the measure (an ``evalharness.core.leakage.DuplicateCheck``), which the
    evaluator's leakage checks reuse instead of hashing every row again: the features
    it checks are these columns prepared, and preparing them changes no row's equality.
    """
    from evalharness import EvalConfig, LeakageInputs, check_duplicates
    from evalharness.core.leakage import duplicate_check

    train_x = prepared.train.drop(columns=[TARGET])
    inputs = LeakageInputs(
        train_x.index,
        prepared.test_x.index,
        train_x,
        prepared.test_x,
        train_target=prepared.train[TARGET].to_numpy(),
        test_target=prepared.test_y,
    )
    measured = duplicate_check(inputs)
    check_duplicates(
        dataclasses.replace(inputs, measured_duplicates=measured),
        EvalConfig(**options.eval.given()),
    )
    return measured


async def train_claimed_run(
    db: Database, settings: Settings, registry: Registry, run_id: str
) -> Run:
    """Train and evaluate a run claimed for this process; record how it ended."""
    run, version = await load_run(db, run_id)
    folder = run_dir(settings.artifact_root, run.project, run.id)
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / "logs.txt", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(StressLabels())
    loggers = [logging.getLogger(n) for n in TRAIN_LOGGERS]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    status, reason, metrics = RunStatus.SUCCEEDED, None, None
    try:
        log.info(
            "run %s started (process %d): %s/%s on %s",
            run.id,
            os.getpid(),
            run.template,
            run.model,
            version.ref,
        )
        baseline = await strongest_baseline(db, settings, run, version)
        if baseline is None and run.role == "candidate":
            log.warning(
                "no finished baseline on this dataset version and split: the eval will "
                "say the improvement is not meaningful"
            )
        await asyncio.to_thread(
            _train_and_evaluate, run, version, registry, settings, folder, baseline
        )
        metrics = metrics_from_eval(folder)
        log.info("run %s succeeded", run.id)
    except Exception as exc:
        status, reason = RunStatus.FAILED, failure_reason(exc)
        log.error("run %s failed: %s", run.id, reason)
        log.debug("%s", traceback.format_exc())
        remove_partial_outputs(folder)
    finally:
        for lg in loggers:
            lg.removeHandler(handler)
        handler.close()
    return await end_run(db, settings, run.id, status, reason, metrics)
