"""Classification stress tests: blanked cells, label noise, one shuffled column, and for
text columns typos, dropped words, truncation and capitals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from evalharness.bootstrap.paired import point_metrics
from evalharness.core.config import ClassifierPredict
from evalharness.core.task import StressContext
from evalharness.metrics import classification as MC
from evalharness.stress.corruptions import flip_labels, inject_missing, shuffle_column
from evalharness.stress.runner import METRIC_SENSITIVITY, StressCase, not_run, severity_rng
from evalharness.stress.text import TEXT_SCENARIOS, corrupt_texts


@dataclass(frozen=True)
class StressedClassifier:
    """One model under stress: how to predict corrupted frames, and its clean answers."""

    name: str
    predict: ClassifierPredict | None
    #: its predicted class codes and scores on the stressed rows; None without predictions
    p: NDArray[np.intp] | None
    scores: NDArray[np.float64] | None

    def on_rows(self, rows: NDArray[np.intp]) -> StressedClassifier:
        """The same model on the caller rows ``rows`` only."""
        p = None if self.p is None else self.p[rows]
        scores = None if self.scores is None else self.scores[rows]
        return StressedClassifier(self.name, self.predict, p, scores)


@dataclass(frozen=True)
class ClassificationStress:
    """The stress tests of a classifier and its baseline on the same rows.

    ``y`` holds the true class codes into ``labels``; ``models`` are the candidate and,
    when there is one, the baseline (which then gets every case, skipped without its
    predictions or predict callable).
    """

    y: NDArray[np.intp]
    labels: list[Any]
    f1_average: str
    models: tuple[StressedClassifier, ...]
    #: the frame's free-text columns: each text scenario corrupts all of them
    text_columns: tuple[str, ...] = ()

    def on_rows(self, rows: NDArray[np.intp]) -> ClassificationStress:
        """The same tests on the caller rows ``rows`` only."""
        models = tuple(m.on_rows(rows) for m in self.models)
        return ClassificationStress(
            self.y[rows], self.labels, self.f1_average, models, self.text_columns
        )

    def clean(self, metric: str) -> dict[str, float | None]:
        """Each model's uncorrupted ``metric`` on these rows."""
        return {
            m.name: None
            if m.p is None
            else point_metrics(self._arrays(m.p, m.scores), [metric])[metric]
            for m in self.models
        }

    def cases(self, ctx: StressContext) -> tuple[list[StressCase], dict[str, str]]:
        """Blanked cells, label noise and one shuffled column at every severity, per model."""
        frame, cfg, y, k = ctx.frame, ctx.cfg, self.y, len(self.labels)
        # The shuffled column: the caller's choice, else the key feature, else the first one.
        column = (
            cfg.stress_column
            or ctx.key
            or (sorted(map(str, frame.columns))[0] if frame.shape[1] else None)
        )
        scenarios = {
            "missing_values": "severity = share of feature cells blanked at random",
            "label_noise": (
                "severity = share of true labels moved to another class; a metric-sensitivity "
                "reference: it corrupts the ground truth, not the inputs, so a perfect model "
                f"loses about as much {ctx.metric}, and it is never the model's worst degradation"
            ),
        }
        if column is not None:
            scenarios[f"shuffle:{column}"] = f"severity = share of rows whose {column} is permuted"
        texts = [c for c in self.text_columns if c in frame.columns]
        if texts:
            scenarios.update(TEXT_SCENARIOS)
        # Candidate and baseline see the same corrupted frames; each model predicts all of
        # them in one call (one feature preparation, one pass of the trees): a row's
        # prediction does not depend on the rows predicted with it.
        corrupted: dict[tuple[str, int], pd.DataFrame] = {}
        for si, sev in enumerate(cfg.stress_severities):
            corrupted["missing", si] = inject_missing(frame, sev, severity_rng(cfg.seed, 0, si))
            if column is not None:
                corrupted["shuffle", si] = shuffle_column(
                    frame, column, sev, severity_rng(cfg.seed, 2, si)
                )
            for j, scenario in enumerate(TEXT_SCENARIOS if texts else ()):
                rng = severity_rng(cfg.seed, 10 + j, si)
                changed = frame.copy()
                for c in texts:
                    changed[c] = corrupt_texts(frame[c], scenario, sev, rng)
                corrupted[scenario, si] = changed
        predicted = {
            m.name: predict_batch(m.predict, corrupted, self.labels, self.f1_average)
            for m in self.models
            if m.predict is not None
        }
        cases: list[StressCase] = []
        no_predict = "no predict callable was given"
        for si, sev in enumerate(cfg.stress_severities):
            for m in self.models:
                # A corrupted-frame case reads its model's batch prediction of that frame.
                def on(kind: str, name: str = m.name, si: int = si) -> Callable[[], Any]:
                    def build() -> Any:
                        got = predicted[name][kind, si]
                        return self._arrays(got.p, got.scores)

                    return build

                def noise(m: StressedClassifier = m, si: int = si, sev: float = sev) -> Any:
                    assert m.p is not None  # a case only for a model with predictions
                    noisy = flip_labels(y, sev, k, severity_rng(cfg.seed, 1, si))
                    return MC.build_arrays(noisy, m.p, m.scores, k, self.f1_average)

                runs = m.predict is not None
                cases.append(
                    StressCase(
                        "missing_values",
                        m.name,
                        sev,
                        on("missing") if runs else not_run,
                        no_predict,
                    )
                )
                cases.append(
                    StressCase(
                        "label_noise",
                        m.name,
                        sev,
                        noise if m.p is not None else not_run,
                        "no predictions were given",
                        kind=METRIC_SENSITIVITY,
                    )
                )
                if column is not None:
                    cases.append(
                        StressCase(
                            f"shuffle:{column}",
                            m.name,
                            sev,
                            on("shuffle") if runs else not_run,
                            no_predict,
                        )
                    )
                for scenario in TEXT_SCENARIOS if texts else ():
                    cases.append(
                        StressCase(
                            scenario, m.name, sev, on(scenario) if runs else not_run, no_predict
                        )
                    )
        return cases, scenarios

    def _arrays(
        self, p: NDArray[np.intp], scores: NDArray[np.float64] | None
    ) -> MC.ClassificationArrays:
        return MC.build_arrays(self.y, p, scores, len(self.labels), self.f1_average)


def predict_batch(
    predict: ClassifierPredict,
    frames: dict[tuple[str, int], pd.DataFrame],
    labels: list[Any],
    f1_average: str,
) -> dict[tuple[str, int], MC.ClassificationArrays]:
    """Predict every frame in one call and split the answers back per frame."""
    keys = sorted(frames)
    if not keys:
        return {}
    y_pred, scores = predict(pd.concat([frames[key] for key in keys]))
    y_pred = np.asarray(y_pred)
    scores = None if scores is None else np.asarray(scores)
    bounds = np.cumsum([0, *(len(frames[key]) for key in keys)])
    out = {}
    for key, start, stop in zip(keys, bounds[:-1], bounds[1:], strict=True):
        part = y_pred[start:stop]
        _, p, sc, _ = MC.encode(part, part, None if scores is None else scores[start:stop], labels)
        out[key] = MC.build_arrays(p, p, sc, len(labels), f1_average)
    return out
