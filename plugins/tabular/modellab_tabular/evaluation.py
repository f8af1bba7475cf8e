"""Bridging a run's :class:`~modellab.tasks.EvalRequest` to EvalHarness' inputs.

Task plugins' evaluators share these so every task reports the same run identity, runs
the same leakage checks and slices by what the run's slicers gave.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from evalharness import BaselineResult, EvalConfig, LeakageInputs, RunInfo
from evalharness.slicing import SliceDef, SliceFamily
from modellab.tasks import EvalRequest, SliceDefinition
from modellab_tabular.features import prepare_features


def run_info(req: EvalRequest) -> RunInfo:
    """The run identity EvalHarness writes.

    It carries the run key (a hash of data, split, template, model, config, seed and
    code), not the run id, so that running the same command twice gives a
    byte-identical eval folder; run.json maps the run id to it.
    """
    name, _, version = req.dataset_ref.rpartition("@")
    return RunInfo(
        run_id=req.run_key,
        dataset_name=name,
        dataset_version=version,
        dataset_checksum=req.dataset_checksum,
        commit=req.commit,
        split_checksum=req.split_checksum,
        seed=req.seed,
        install_command="uv sync",
        dataset_command=f"modellab dataset show {req.dataset_ref}",
        train_command=req.reproduce_command,
    )


def leakage_inputs(req: EvalRequest) -> LeakageInputs:
    """Leakage inputs in the space the preprocessors were fit in (prepared features)."""
    train, test = prepare_features(req.train_frame), prepare_features(req.test_frame)
    if req.time_column and req.time_column not in train.columns and req.train_time is not None:
        # The split's time column is not a model feature, but the order check needs it.
        times = pd.concat([req.train_time, req.test_time]).to_frame(req.time_column)
        prepared = prepare_features(times)[req.time_column]
        train = train.assign(**{req.time_column: prepared.loc[train.index]})
        test = test.assign(**{req.time_column: prepared.loc[test.index]})
    return LeakageInputs(
        train_index=req.train_frame.index,
        test_index=req.test_frame.index,
        train_frame=train,
        test_frame=test,
        preprocessors=list(req.model.preprocessors),
        train_target=req.train_target,
        time_column=req.time_column,
        split=req.split,
        test_target=req.y_true,
        measured_duplicates=req.duplicates,
    )


def eval_config(req: EvalRequest) -> EvalConfig:
    """The EvalHarness settings of a run: its seed, replicates, thresholds and suspects."""
    return EvalConfig(
        seed=req.seed,
        leak_suspects=req.leak_suspects,
        **req.eval_settings.given(),
    )


def baseline_result(
    req: EvalRequest, as_labels: bool, predict: Callable[[pd.DataFrame], Any] | None = None
) -> BaselineResult | None:
    """The baseline run's predictions as EvalHarness' paired baseline; with ``predict``
    (its loaded model's, in the evaluator's output shape) the stress tests run on it too."""
    b = req.baseline
    if b is None:
        return None
    y_pred = np.asarray(b.y_pred).astype(str) if as_labels else np.asarray(b.y_pred, dtype=float)
    return BaselineResult(
        name=b.name,
        y_pred=y_pred,
        scores=None if b.scores is None else np.asarray(b.scores, dtype=float),
        run_id=b.run_key,
        dataset_version=b.dataset_version.rpartition("@")[2],
        split_checksum=b.split_checksum,
        predict=predict,
    )


def slice_families(req: EvalRequest) -> list[SliceFamily]:
    """The run's slices (``req.slices``, from its task's slicers) as EvalHarness families,
    in the order the slicers gave them."""
    grouped: dict[str, list[SliceDef]] = {}
    first: dict[str, SliceDefinition] = {}
    for s in req.slices:
        grouped.setdefault(s.family, []).append(SliceDef(s.name, s.family, s.definition, s.mask))
        first.setdefault(s.family, s)
    return [
        SliceFamily(name, first[name].family_description, tuple(defs), first[name].family_metrics)
        for name, defs in grouped.items()
    ]
