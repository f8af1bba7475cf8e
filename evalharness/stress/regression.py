"""Regression stress tests: feature noise, blanked cells and distribution shift."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from evalharness.bootstrap.paired import point_metrics
from evalharness.core.config import Refit, RegressorPredict
from evalharness.core.task import StressContext
from evalharness.metrics import regression as MR
from evalharness.slicing import fixed as F
from evalharness.stress.corruptions import add_noise, inject_missing
from evalharness.stress.runner import StressCase, current_stress_label, not_run, severity_rng
from evalharness.stress.shift import ShiftPlan, shift_plan

log = logging.getLogger("evalharness.stress")


@dataclass(frozen=True)
class StressedRegressor:
    """One model under stress: how to predict corrupted frames, and its clean answers."""

    name: str
    predict: RegressorPredict | None
    #: its predictions on the stressed rows; None without predictions
    pred: NDArray[np.float64] | None

    def on_rows(self, rows: NDArray[np.intp]) -> StressedRegressor:
        """The same model on the caller rows ``rows`` only."""
        return StressedRegressor(
            self.name, self.predict, None if self.pred is None else self.pred[rows]
        )


@dataclass(frozen=True)
class RegressionStress:
    """The stress tests of a regressor and its baseline on the same rows.

    ``models`` are the candidate (with predictions) and, when there is one, the baseline;
    ``refit`` retrains the candidate for the distribution-shift test, which only the
    candidate gets.
    """

    y: NDArray[np.float64]
    models: tuple[StressedRegressor, ...]
    refit: Refit | None

    def on_rows(self, rows: NDArray[np.intp]) -> RegressionStress:
        """The same tests on the caller rows ``rows`` only."""
        return RegressionStress(
            self.y[rows], tuple(m.on_rows(rows) for m in self.models), self.refit
        )

    def clean(self, metric: str) -> dict[str, float | None]:
        """Each model's uncorrupted ``metric`` on these rows."""
        return {
            m.name: None
            if m.pred is None
            else point_metrics(MR.build_arrays(self.y, m.pred), [metric])[metric]
            for m in self.models
        }

    def cases(self, ctx: StressContext) -> tuple[list[StressCase], dict[str, str]]:
        """Noise and blanked cells per model, and the candidate's shift, at every severity."""
        frame, cfg, y = ctx.frame, ctx.cfg, self.y
        numeric = sorted(str(c) for c in frame.columns if not F.is_categorical(frame[c]))
        selected = [cfg.stress_column] if cfg.stress_column else numeric
        shift_col = ctx.key if ctx.key in numeric else (numeric[0] if numeric else None)
        scenarios = {
            "feature_noise": (
                f"severity = Gaussian noise in column standard deviations on {', '.join(selected)}"
            ),
            "missing_values": "severity = share of feature cells blanked at random",
        }
        shift = None
        if shift_col is not None:
            candidate = self.models[0].pred
            assert candidate is not None  # the candidate always has its predictions
            shift = shift_plan(frame, y, candidate, shift_col, cfg, ctx.metric, ctx.min_rows)
            scenarios[f"distribution_shift:{shift_col}"] = shift.description
        cases: list[StressCase] = []
        skip = "no predict callable was given"
        for si, sev in enumerate(cfg.stress_severities):
            for m in self.models:
                fn = m.predict

                def noisy(fn: Any = fn, si: int = si, sev: float = sev) -> Any:
                    corrupted = add_noise(frame, selected, sev, severity_rng(cfg.seed, 0, si))
                    return MR.prepare(y, np.asarray(fn(corrupted), dtype=np.float64))

                def missing(fn: Any = fn, si: int = si, sev: float = sev) -> Any:
                    corrupted = inject_missing(frame, sev, severity_rng(cfg.seed, 1, si))
                    return MR.prepare(y, np.asarray(fn(corrupted), dtype=np.float64))

                runs = fn is not None
                cases.append(
                    StressCase(
                        "feature_noise", m.name, sev, noisy if runs and selected else not_run, skip
                    )
                )
                cases.append(
                    StressCase("missing_values", m.name, sev, missing if runs else not_run, skip)
                )
            if shift is not None:
                cases.append(self._shift_case(frame, shift, si, sev))
        return cases, scenarios

    def _shift_case(self, frame: pd.DataFrame, shift: ShiftPlan, si: int, sev: float) -> StressCase:
        """The candidate's refit at severity ``sev`` (index ``si``), or its skipped row."""
        segment, refit, y = shift.segments[si], self.refit, self.y

        def shifted() -> Any:
            assert refit is not None
            train, test = segment.train, shift.test
            log.info(
                "%s: refit on %d rows, evaluated on %d rows",
                current_stress_label(),
                int(train.sum()),
                int(test.sum()),
            )
            fn = refit(frame[train], y[train])
            return MR.prepare(y[test], np.asarray(fn(frame[test]), dtype=np.float64))

        runs = refit is not None and segment.skip is None
        return StressCase(
            f"distribution_shift:{shift.column}",
            "candidate",
            sev,
            shifted if runs else not_run,
            "no refit callable was given" if refit is None else segment.skip or "",
            reference=shift.reference,
        )
