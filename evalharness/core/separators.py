"""Single-feature leak check: a column that predicts the target almost perfectly on its own.

A held-out score that one column reaches alone is too good to be true far more often than
it is a discovery: the column usually encodes the target (a status filled in afterwards,
hours worked that are 0 exactly for the people who did not work). For every feature column
alone, three trivial rules are learned on the train rows only and scored on the test rows:

- ``missingness``: is the value missing? -> class (regression: the group's mean target);
- ``zero_nonzero``: is the (numeric) value exactly 0? -> class (regression: group mean);
  only for columns whose non-zero part takes more than one value, else it is ``value``;
- ``value``: a category -> its majority class (regression: its mean target; unseen
  categories get the overall majority or mean); a number -> the majority class of the
  nearest distinct train value (the one-feature nearest neighbour, which is a decision
  stump with as many thresholds as the classes need); regression: the mean target of
  equal-count bins of the column (its distinct values when there are at most 256),
  interpolated linearly between the bins' mean values. Missing values are one more group.

The indicator rules (missingness, zero/non-zero) split the rows in two, so they are scored
as "is the target class c?" for the class c that the train rows pick; with two classes that
is the whole target. A column is flagged when a rule's held-out accuracy and balanced
accuracy (mean recall over the classes) both reach ``EvalConfig.leak_min_accuracy`` /
``leak_min_balanced_accuracy`` (default 0.99; balanced accuracy is what keeps a majority-
class guess on an imbalanced target from counting), or, for regression, its held-out R^2
reaches ``leak_min_r2`` (0.99). Each column is reported once, with the simplest rule that
is flagged (missingness, then zero/non-zero, then value). Test sets under
``leak_min_test_rows`` rows are not judged.

Train and test rows are each a seeded sample (``EvalConfig.seed``) of at most
``leak_max_rows`` (200,000) rows; every rule is a sort, a search or a bincount, so 1M rows
x 20 columns takes seconds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from evalharness.core.config import EvalConfig, LeakageInputs
from evalharness.core.jsonio import clean_float
from evalharness.schemas import files as S
from evalharness.schemas.files import LeakKind

Task = Literal["classification", "regression"]

#: Most bins of the regression value rule (equal-count bins of the sorted train values).
MAX_BINS = 256
#: Fewest train rows per regression bin.
MIN_BIN_ROWS = 10

_KIND_PHRASE = {
    "value": "its value",
    "missingness": "its missingness",
    "zero_nonzero": "its zero/non-zero pattern",
}


@dataclass(frozen=True)
class LeakFinding:
    """One column that a one-feature rule predicts the target from almost perfectly.

    ``metric`` is ``"accuracy"`` (classification) or ``"r2"`` (regression) and ``score``
    its held-out value; ``evidence`` is one line that reads after "column 'x' ".
    """

    column: str
    kind: LeakKind
    metric: str
    score: float
    evidence: str


@dataclass(frozen=True)
class _Scored:
    accuracy: float
    balanced: float
    majority: float
    target: str | None  # the class an indicator rule tells from the rest (multiclass)
    exact_class: str | None  # the class the indicator is 1 for, in the evidence
    on: bool  # True: the indicator is 1 for exact_class; False: it is 0 for it


def _sample(n: int, limit: int, seed: int, stream: int) -> NDArray[np.intp] | None:
    if n <= limit:
        return None
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x5E9, stream)))
    return np.sort(rng.choice(n, size=limit, replace=False)).astype(np.intp)


def _is_datetime(s: pd.Series[Any]) -> bool:
    return bool(pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s))


def _is_number(s: pd.Series[Any]) -> bool:
    return bool(
        pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    ) or _is_datetime(s)


def _as_float(s: pd.Series[Any]) -> NDArray[np.float64]:
    """Numbers (and datetimes as integer nanoseconds) as float64; missing and inf -> NaN."""
    if _is_datetime(s):
        unit = "timedelta64[ns]" if pd.api.types.is_timedelta64_dtype(s) else "datetime64[ns]"
        ints = s.to_numpy(dtype=unit).view(np.int64).astype(np.float64)
        out = np.where(s.isna().to_numpy(), np.nan, ints)
    else:
        out = s.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isfinite(out), out, np.nan)


def _codes(
    train: pd.Series[Any], test: pd.Series[Any]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Joint category codes of train and test values; missing is one more code."""
    both = np.concatenate([train.to_numpy(dtype=object), test.to_numpy(dtype=object)])
    codes, uniques = pd.factorize(both, use_na_sentinel=True)
    codes = np.where(codes < 0, len(uniques), codes).astype(np.intp)
    return codes[: len(train)], codes[len(train) :]


#: largest (groups x classes) table :func:`_majority` counts in directly (32 MB of int64)
_MAX_COUNT_CELLS = 4_000_000


def _majority(groups: NDArray[np.intp], y: NDArray[np.intp], k: int) -> tuple[Any, Any]:
    """(group ids, majority class of each) from the train rows; ties go to the lower class."""
    width = (int(groups.max()) + 1) * k if groups.size else 0
    if 0 < width <= _MAX_COUNT_CELLS:
        # One pass of counting instead of a sort: argmax takes the first (lowest) class
        # among equal counts, the tie rule of the sorted path below.
        table = np.bincount(groups.astype(np.int64) * k + y, minlength=width).reshape(-1, k)
        present = np.flatnonzero(table.any(axis=1))
        return present.astype(np.int64), table[present].argmax(axis=1).astype(np.int64)
    keys, counts = np.unique(groups.astype(np.int64) * k + y, return_counts=True)
    g, cls = keys // k, keys % k
    order = np.lexsort((cls, -counts, g))
    g, cls = g[order], cls[order]
    first = np.r_[True, g[1:] != g[:-1]]
    return g[first], cls[first]


def _lookup(
    groups: NDArray[np.int64], values: NDArray[Any], query: NDArray[Any], default: Any
) -> Any:
    """``values`` of the sorted ``groups`` at ``query``; ``default`` where a group is unknown."""
    if len(groups) == 0:
        return np.full(len(query), default)
    pos = np.clip(np.searchsorted(groups, query), 0, len(groups) - 1)
    return np.where(groups[pos] == query, values[pos], default)


def _class_scores(pred: NDArray[Any], truth: NDArray[Any]) -> tuple[float, float]:
    """(accuracy, balanced accuracy over the classes present in ``truth``)."""
    hit = pred == truth
    labels, inv = np.unique(truth, return_inverse=True)
    recall = np.bincount(inv, weights=hit, minlength=len(labels)) / np.bincount(inv)
    return float(hit.mean()), float(recall.mean())


def _r2(pred: NDArray[np.float64], truth: NDArray[np.float64]) -> float:
    sst = float(((truth - truth.mean()) ** 2).sum())
    if sst == 0.0:
        return float("nan")
    return 1.0 - float(((truth - pred) ** 2).sum()) / sst


class _Target:
    """The target of train and test rows, encoded once for every column."""

    def __init__(self, task: Task, y_tr: NDArray[Any], y_te: NDArray[Any]) -> None:
        self.task = task
        if task == "classification":
            self.labels, inv = np.unique(
                np.concatenate([y_tr, y_te]).astype(str), return_inverse=True
            )
            self.k = len(self.labels)
            self.tr, self.te = inv[: len(y_tr)].astype(np.intp), inv[len(y_tr) :].astype(np.intp)
            counts = np.bincount(self.tr, minlength=self.k)
            self.top = int(np.argmax(counts))
            self.majority = float((self.te == self.top).mean()) if len(self.te) else 0.0
        else:
            self.ftr, self.fte = y_tr.astype(np.float64), y_te.astype(np.float64)
            self.mean = float(self.ftr.mean())

    def valid(self) -> bool:
        if self.task == "classification":
            return len(np.unique(self.tr)) > 1 and len(np.unique(self.te)) > 1
        return bool(np.ptp(self.fte) > 0) and len(self.ftr) > 1


def _indicator_class(
    b_tr: NDArray[np.bool_], b_te: NDArray[np.bool_], t: _Target
) -> _Scored | None:
    """Score "indicator == polarity <=> target is c" for the train's best (c, polarity)."""
    n, n1 = b_tr.size, int(b_tr.sum())
    if n1 in (0, n):
        return None
    pos = np.bincount(t.tr, minlength=t.k).astype(np.float64)
    hit = np.bincount(t.tr[b_tr], minlength=t.k).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr = hit / pos
        tnr = 1.0 - (n1 - hit) / (n - pos)
    ba1 = (tpr + tnr) / 2.0
    ok = ((pos > 0) & (pos < n))[:, None]
    both = np.where(ok, np.column_stack([ba1, 1.0 - ba1]), -1.0).ravel()
    best = int(np.argmax(both))
    c, polarity = best // 2, best % 2 == 0
    truth = t.te == c
    if truth.all() or not truth.any():
        return None
    acc, bal = _class_scores(b_te == polarity, truth)
    share = float(truth.mean())
    label = str(t.labels[c])
    if t.k == 2:
        # "missing <=> class c" or "present <=> class c" = "missing <=> the other class".
        other = str(t.labels[1 - c])
        return _Scored(acc, bal, max(share, 1 - share), None, label if polarity else other, True)
    return _Scored(acc, bal, max(share, 1 - share), label, label, polarity)


def _indicator_mean(b_tr: NDArray[np.bool_], b_te: NDArray[np.bool_], t: _Target) -> float | None:
    n1 = int(b_tr.sum())
    if n1 in (0, b_tr.size):
        return None
    m1, m0 = float(t.ftr[b_tr].mean()), float(t.ftr[~b_tr].mean())
    return _r2(np.where(b_te, m1, m0), t.fte)


def _value_class(tr: pd.Series[Any], te: pd.Series[Any], t: _Target) -> _Scored:
    if _is_number(tr):
        x_tr, x_te = _as_float(tr), _as_float(te)
        ok_tr, ok_te = ~np.isnan(x_tr), ~np.isnan(x_te)
        pred = np.full(x_te.size, t.top, dtype=np.intp)
        if (~ok_tr).any():
            miss = np.bincount(t.tr[~ok_tr], minlength=t.k)
            pred[~ok_te] = int(np.argmax(miss))
        if ok_tr.any() and ok_te.any():
            u, inv = np.unique(x_tr[ok_tr], return_inverse=True)
            _, maj = _majority(inv.astype(np.intp), t.tr[ok_tr], t.k)
            q = x_te[ok_te]
            right = np.clip(np.searchsorted(u, q), 0, u.size - 1)
            left = np.clip(right - 1, 0, u.size - 1)
            nearest = np.where(u[right] - q < q - u[left], right, left)
            pred[ok_te] = maj[nearest]
    else:
        c_tr, c_te = _codes(tr, te)
        groups, maj = _majority(c_tr, t.tr, t.k)
        pred = _lookup(groups, maj, c_te.astype(np.int64), t.top)
    acc, bal = _class_scores(pred, t.te)
    return _Scored(acc, bal, t.majority, None, None, True)


def _value_mean(tr: pd.Series[Any], te: pd.Series[Any], t: _Target) -> float:
    if not _is_number(tr):
        c_tr, c_te = _codes(tr, te)
        groups, inv, counts = np.unique(c_tr, return_inverse=True, return_counts=True)
        means = np.bincount(inv, weights=t.ftr) / counts
        return _r2(_lookup(groups.astype(np.int64), means, c_te.astype(np.int64), t.mean), t.fte)
    x_tr, x_te = _as_float(tr), _as_float(te)
    ok_tr, ok_te = ~np.isnan(x_tr), ~np.isnan(x_te)
    pred = np.full(x_te.size, t.mean)
    if (~ok_tr).any():
        pred[~ok_te] = float(t.ftr[~ok_tr].mean())
    if ok_tr.any() and ok_te.any():
        order = np.argsort(x_tr[ok_tr], kind="stable")
        xs, ys = x_tr[ok_tr][order], t.ftr[ok_tr][order]
        n_bins = min(MAX_BINS, max(2, xs.size // MIN_BIN_ROWS))
        u, inv = np.unique(xs, return_inverse=True)
        if u.size > n_bins:
            inv = (np.arange(xs.size) * n_bins) // xs.size
        counts = np.bincount(inv).astype(np.float64)
        cx = np.bincount(inv, weights=xs) / counts
        cy = np.bincount(inv, weights=ys) / counts
        # Bins made of one repeated value share a centre: merge them (np.interp needs order).
        ux, uinv = np.unique(cx, return_inverse=True)
        w = np.bincount(uinv, weights=counts)
        uy = np.bincount(uinv, weights=cy * counts) / w
        pred[ok_te] = np.interp(x_te[ok_te], ux, uy)
    return _r2(pred, t.fte)


def _rules(tr: pd.Series[Any], te: pd.Series[Any]) -> list[tuple[LeakKind, Any, Any]]:
    """(kind, train indicator, test indicator) of the indicator rules that apply; value last."""
    out: list[tuple[LeakKind, Any, Any]] = []
    out.append(("missingness", tr.isna().to_numpy(), te.isna().to_numpy()))
    if _is_number(tr) and not _is_datetime(tr):
        x_tr, x_te = _as_float(tr), _as_float(te)
        zero = x_tr == 0
        if zero.any() and np.unique(x_tr[~zero & ~np.isnan(x_tr)]).size > 1:
            out.append(("zero_nonzero", zero, x_te == 0))
    out.append(("value", None, None))
    return out


def _class_evidence(kind: LeakKind, s: _Scored) -> str:
    how = _KIND_PHRASE[kind]
    scores = f"held-out accuracy {s.accuracy:.3f}, balanced accuracy {s.balanced:.3f}"
    if kind == "value":
        return (
            f"predicts the target from {how} alone ({scores}; majority class alone "
            f"{s.majority:.3f})"
        )
    state = "missing" if kind == "missingness" else "zero"
    if not s.on:
        state = "present" if kind == "missingness" else "non-zero"
    exact = "exactly" if s.accuracy == 1.0 else "almost exactly"
    told = "" if s.target is None else f" at telling {s.target!r} from the other classes"
    return (
        f"is {state} {exact} when the target is {s.exact_class!r} ({scores}{told}, from "
        f"{how} alone; majority class alone {s.majority:.3f})"
    )


def find_single_feature_leaks(
    train_frame: pd.DataFrame,
    train_target: ArrayLike,
    test_frame: pd.DataFrame,
    test_target: ArrayLike,
    task: str,
    *,
    config: EvalConfig | None = None,
    columns: Sequence[Any] | None = None,
) -> list[LeakFinding]:
    """Columns that one trivial rule, fit on the train rows, predicts the test target from.

    ``columns`` defaults to the columns of both frames. Thresholds, sample size and seed
    come from ``config`` (``leak_min_accuracy``, ``leak_min_balanced_accuracy``,
    ``leak_min_r2``, ``leak_min_test_rows``, ``leak_max_rows``, ``seed``). Rows whose target
    is missing are left out. Findings are sorted by column name.
    """
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    cfg = config or EvalConfig()
    y_tr, y_te = np.asarray(train_target), np.asarray(test_target)
    if len(y_tr) != len(train_frame) or len(y_te) != len(test_frame):
        raise ValueError("each target must have one value per row of its frame")
    keep_tr, keep_te = ~pd.isna(y_tr), ~pd.isna(y_te)
    if task == "regression":
        keep_tr &= np.isfinite(np.asarray(y_tr, dtype=np.float64))
        keep_te &= np.isfinite(np.asarray(y_te, dtype=np.float64))
    train, test = (
        train_frame.iloc[np.flatnonzero(keep_tr)],
        test_frame.iloc[np.flatnonzero(keep_te)],
    )
    y_tr, y_te = y_tr[keep_tr], y_te[keep_te]
    rows = _sample(len(train), cfg.leak_max_rows, cfg.seed, 0)
    if rows is not None:
        train, y_tr = train.iloc[rows], y_tr[rows]
    rows = _sample(len(test), cfg.leak_max_rows, cfg.seed, 1)
    if rows is not None:
        test, y_te = test.iloc[rows], y_te[rows]
    if len(test) < cfg.leak_min_test_rows or len(train) < 2:
        return []
    target = _Target(cast(Task, task), y_tr, y_te)
    if not target.valid():
        return []
    names = list(columns) if columns is not None else [c for c in train.columns if c in test]
    found: list[LeakFinding] = []
    for col in sorted(names, key=str):
        tr, te = train[col], test[col]
        for kind, b_tr, b_te in _rules(tr, te):
            finding = _judge(str(col), kind, tr, te, b_tr, b_te, target, cfg)
            if finding is not None:
                found.append(finding)
                break
    return found


def _judge(
    name: str,
    kind: LeakKind,
    tr: pd.Series[Any],
    te: pd.Series[Any],
    b_tr: Any,
    b_te: Any,
    t: _Target,
    cfg: EvalConfig,
) -> LeakFinding | None:
    if t.task == "classification":
        scored = _value_class(tr, te, t) if kind == "value" else _indicator_class(b_tr, b_te, t)
        if (
            scored is None
            or scored.accuracy < cfg.leak_min_accuracy
            or scored.balanced < cfg.leak_min_balanced_accuracy
        ):
            return None
        return LeakFinding(name, kind, "accuracy", scored.accuracy, _class_evidence(kind, scored))
    r2 = _value_mean(tr, te, t) if kind == "value" else _indicator_mean(b_tr, b_te, t)
    if r2 is None or not np.isfinite(r2) or r2 < cfg.leak_min_r2:
        return None
    evidence = (
        f"explains the target almost perfectly from {_KIND_PHRASE[kind]} alone "
        f"(held-out R^2 {r2:.3f})"
    )
    return LeakFinding(name, kind, "r2", r2, evidence)


# --- what the evaluators write ------------------------------------------------------------


def collect_leak_suspects(
    frame: pd.DataFrame,
    y_true: ArrayLike,
    leakage: LeakageInputs | None,
    cfg: EvalConfig,
    task: str,
) -> list[S.LeakSuspect]:
    """One suspect per column of ``frame`` that is flagged upstream (``cfg.leak_suspects``)
    or by :func:`find_single_feature_leaks` (when ``leakage`` gives the train frame and
    target), sorted by column.

    A column found at evaluation is reported with its rule (``source="evaluation"``, kind
    and score on this run's split); evidence given upstream for it is kept in its text.
    """
    present = {str(c) for c in frame.columns}
    upstream: dict[str, list[str]] = {}
    for col, evidence in cfg.leak_suspects:
        if col in present and evidence not in upstream.setdefault(col, []):
            upstream[col].append(evidence)
    found: dict[str, LeakFinding] = {}
    if cfg.run_leak_check and leakage is not None and leakage.train_target is not None:
        train, test = leakage.train_frame, leakage.test_frame
        y = np.asarray(y_true)
        if test is None or len(test) != len(y):
            test = frame  # the evaluated rows are the test rows
        if train is not None:
            cols = [c for c in frame.columns if c in train.columns and c in test.columns]
            findings = find_single_feature_leaks(
                train, leakage.train_target, test, y, task, config=cfg, columns=cols
            )
            found = {f.column: f for f in findings}
    out = []
    for col in sorted(upstream.keys() | found.keys()):
        given = "; ".join(upstream.get(col, []))
        f = found.get(col)
        if f is None:
            out.append(
                S.LeakSuspect(
                    column=col,
                    source="upstream",
                    kind=None,
                    metric=None,
                    score=None,
                    evidence=given,
                )
            )
            continue
        out.append(
            S.LeakSuspect(
                column=col,
                source="evaluation",
                kind=f.kind,
                metric=f.metric,
                score=clean_float(f.score),
                evidence=f"{f.evidence}; the dataset flagged it too" if given else f.evidence,
            )
        )
    return out


def suspect_warnings(suspects: Sequence[S.LeakSuspect]) -> list[str]:
    """One ``warnings`` entry per suspect, naming its column."""
    return [
        f"leak_suspect: column {s.column!r} may leak the target: it {s.evidence}"
        if s.source == "evaluation"
        else f"leak_suspect: column {s.column!r} was flagged as a possible leak upstream: "
        f"{s.evidence}"
        for s in suspects
    ]


def _name(column: str) -> str:
    # A column name must not end the takeaway's sentence early.
    return repr(re.sub(r"[.!?](?=\s)", "_", column.replace("\n", " ")))


def suspect_clause(suspects: Sequence[S.LeakSuspect]) -> str | None:
    """The leak warning of the takeaway's baseline sentence, or None without suspects.

    The column named first is the one a rule predicts best (then by name); suspects only
    flagged upstream come after those found at evaluation.
    """
    if not suspects:
        return None
    ranked = sorted(suspects, key=lambda s: (s.source != "evaluation", -(s.score or 0.0), s.column))
    lead = ranked[0]
    if lead.source == "evaluation" and lead.kind is not None:
        metric = "R^2" if lead.metric == "r2" else lead.metric
        what = (
            f"alone predicts the target (held-out {metric} {lead.score or 0.0:.3f} by "
            f"{_KIND_PHRASE[lead.kind]})"
        )
    else:
        what = "was flagged as a possible leak before evaluation"
    columns = sorted({s.column for s in suspects})
    if len(columns) == 1:
        return f"column {_name(lead.column)} {what}: check it is not a leak"
    others = [c for c in columns if c != lead.column]
    listed = ", ".join(_name(c) for c in others)
    return (
        f"column {_name(lead.column)} {what} and {len(others)} more column(s) are leak "
        f"suspects ({listed}): check they are not leaks"
    )


def reason_with_suspects(reason: str, meaningful: bool, suspects: Sequence[S.LeakSuspect]) -> str:
    """metrics.json's improvement_reason: a meaningful improvement names its leak suspects."""
    clause = suspect_clause(suspects)
    if not meaningful or clause is None:
        return reason
    return f"{reason}; but {clause}"
