"""msgspec Structs of every JSON file in the eval/ folder (the machine-checked contract)."""

from __future__ import annotations

from typing import Literal

import msgspec

SCHEMA_VERSION = "1"

FailureCategory = Literal[
    "data",
    "objective_metric",
    "model_representation",
    "optimization",
    "systems_infra",
    "human_ux",
]
JsonScalar = str | int | float | bool | None


class _Base(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=False):
    pass


class Estimate(_Base):
    """A value with its bootstrap interval (None where undefined)."""

    value: float | None
    ci_low: float | None
    ci_high: float | None


class RunRef(_Base):
    """Run identity."""

    run_id: str
    dataset_name: str
    dataset_version: str
    dataset_checksum: str
    commit: str
    split_checksum: str | None


class Latency(_Base):
    """Inference latency measured by evalharness.bench.measure_latency."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    batch_size: int
    device: str
    per_sample_ms: float
    warmup: int
    repeats: int


class BaselineHeadline(_Base):
    """Baseline name and its headline deltas."""

    name: str
    run_id: str | None
    deltas: dict[str, Estimate]


#: How a leak suspect was found: ``value`` (its values map to the target), ``missingness``
#: (missing exactly for one class), ``zero_nonzero`` (0 exactly for one class).
LeakKind = Literal["value", "missingness", "zero_nonzero"]


class LeakSuspect(_Base):
    """A column that may leak the target, listed once: found at evaluation by a one-feature
    rule fit on the train rows (``score``: its held-out ``metric``, accuracy or r2; any
    upstream evidence is kept in ``evidence``), else flagged upstream only
    (``cfg.leak_suspects``, e.g. at dataset ingest; no kind, metric or score)."""

    column: str
    source: Literal["upstream", "evaluation"]
    kind: LeakKind | None
    metric: str | None
    score: float | None
    evidence: str


class EvalSummaryFile(_Base):
    """eval_summary.json."""

    schema_version: str
    #: the task type that wrote the report (a plugin may add its own)
    task: str
    run: RunRef
    n_examples: int
    headline: dict[str, Estimate]
    primary_metric: str
    baseline: BaselineHeadline | None
    improvement_is_meaningful: bool
    plots: dict[str, str]
    files: dict[str, str]
    #: the timings themselves (they make the folder machine-dependent), or the path,
    #: relative to this folder, of a file outside it that holds them (ModelLab:
    #: ``../latency.json``), so the folder stays byte-identical; None: not measured
    latency: Latency | str | None
    warnings: list[str]
    #: columns that may leak the target, one entry each, sorted by column (absent in
    #: folders written before it existed)
    leak_suspects: list[LeakSuspect] = []


class ConfusionMatrix(_Base):
    """Rows are the true class, columns the predicted class."""

    labels: list[str]
    matrix: list[list[int]]


class BaselineMetrics(_Base):
    """The baseline's metrics and where they came from."""

    name: str
    run_id: str | None
    source: Literal["predictions", "reported"]
    metrics: dict[str, float | None]


class MetricsFile(_Base):
    """metrics.json."""

    schema_version: str
    #: the task type that wrote the report (a plugin may add its own)
    task: str
    n_examples: int
    classes: list[str] | None
    metrics: dict[str, float | None]
    higher_is_better: dict[str, bool]
    notes: dict[str, str]
    confusion_matrix: ConfusionMatrix | None
    baseline: BaselineMetrics | None
    deltas: dict[str, Estimate] | None
    improvement_is_meaningful: bool
    improvement_reason: str


class Interval(_Base):
    """One metric's bootstrap interval."""

    estimate: float | None
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    n_valid: int


class ConfidenceIntervalsFile(_Base):
    """confidence_intervals.json."""

    schema_version: str
    method: Literal["percentile"]
    resampling: Literal["poisson", "multinomial"]
    confidence_level: float
    n_bootstrap: int
    n_bootstrap_recommended: int
    reduced_replicates: bool
    note: str
    seed: int
    intervals: dict[str, Interval]


#: ``too_small``: under min_slice_size, not evaluated; ``all_rows``: holds every test row,
#: so it equals overall and is not ranked; ``ok``: evaluated and ranked.
SliceStatus = Literal["ok", "too_small", "all_rows"]


class SliceRecord(_Base):
    """One fixed slice; only ``ok`` slices are ranked."""

    id: str
    family: str
    definition: str
    n: int
    status: SliceStatus
    metrics: dict[str, Estimate]
    delta: dict[str, Estimate]
    rank: int | None


class SearchedSlice(_Base):
    """One slice found by the weak-slice search, with its held-out confirmation."""

    id: str
    definition: str
    features: list[str]
    discovery_n: int
    discovery_effect: float
    discovery_p: float
    confirmation_n: int
    confirmation_effect: float | None
    confirmation_p: float | None
    confirmation_q: float | None
    confirmed: bool


class SliceSearch(_Base):
    """How the search ran and what it found."""

    loss: str
    n_candidates: int
    n_discovery_rows: int
    n_confirmation_rows: int
    fdr: float
    test: str
    seed: int
    slices: list[SearchedSlice]
    note: str


class SlicesFile(_Base):
    """slices.json."""

    schema_version: str
    metric: str
    min_slice_size: int
    n_bootstrap: int
    families: dict[str, str]
    slices: list[SliceRecord]
    ranking: list[str]
    search: SliceSearch | None
    #: how min_slice_size was chosen: derived from the test size or given (absent in
    #: older folders)
    min_slice_rule: str | None = None


class NearestTrainingExample(_Base):
    """The training row whose text reads most like a failed example's (TF-IDF cosine)."""

    example_id: str
    label: JsonScalar
    similarity: float
    #: its text, cut like a failure's own
    text: str


class FailureExample(_Base, omit_defaults=True):
    """One selected failure."""

    example_id: str
    list: str
    input_summary: dict[str, JsonScalar]
    prediction: JsonScalar
    truth: JsonScalar
    confidence: float | None
    reason: str
    category: FailureCategory
    #: a text example's nearest training example (absent for rows without free text)
    nearest_training: NearestTrainingExample | None = None


class FailureExamplesFile(_Base):
    """failure_examples.json."""

    schema_version: str
    selection: dict[str, str]
    examples: list[FailureExample]
    category_counts: dict[str, int]


#: ``model_robustness``: the scenario corrupts or shifts the inputs, it measures the model;
#: ``metric_sensitivity``: it corrupts the ground truth (label noise), so it measures how
#: the metric responds to wrong labels, not the model, and is never its worst degradation.
StressKind = Literal["model_robustness", "metric_sensitivity"]


class StressRow(_Base):
    """One cell of the degradation table."""

    scenario: str
    model: Literal["candidate", "baseline"]
    severity: float
    metric: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    degradation: float | None
    status: str
    #: what the scenario measures (absent in older folders)
    kind: StressKind | None = None


class StressFile(_Base):
    """stress.json."""

    schema_version: str
    metric: str
    higher_is_better: bool
    n_bootstrap: int
    seed: int
    scenarios: dict[str, str]
    rows: list[StressRow]
    plot: str | None
    #: what each kind of scenario in ``rows`` measures (absent in older folders)
    kinds: dict[str, str] = {}


class CurvePoint(_Base):
    """One cutoff of a metric-vs-K curve, with its bootstrap interval."""

    k: int
    value: float | None
    ci_low: float | None
    ci_high: float | None


class QueryResult(_Base):
    """One query's measures (and the baseline's, when there is one)."""

    query_id: str
    candidates: int
    relevant: int
    metrics: dict[str, float]
    baseline: dict[str, float] | None


class RandomizationResult(_Base):
    """The paired randomization test of the candidate against the baseline, per query."""

    metric: str
    observed: float
    p_value: float
    n: int
    n_permutations: int
    seed: int


class IndexSweepPoint(_Base):
    """One setting of a retriever's approximate index (the index sweep): its recall
    against exact search over the same embeddings at ``k`` and the primary metric, with
    bootstrap intervals over queries; ``degradation`` is the metric's change against the
    deployed setting. Its latency is in the run's timings, outside the report."""

    label: str
    family: str
    parameter: str
    value: int
    deployed: bool
    k: int
    recall_vs_exact: float | None
    recall_ci_low: float | None
    recall_ci_high: float | None
    metric: str
    metric_value: float | None
    metric_ci_low: float | None
    metric_ci_high: float | None
    degradation: float | None


class RankingFile(_Base):
    """ranking.json: what a ranking report rests on, query by query.

    The counts say which queries the means are over; ``curves`` are each model's
    metric-vs-K values with bootstrap intervals over queries; ``index_sweep`` is empty
    unless the model is a retriever with an approximate index.
    """

    schema_version: str
    conventions: str
    cutoffs: list[int]
    gain: Literal["linear", "exponential"]
    relevance_level: int
    num_q: int
    missing_queries: list[str]
    no_relevant_queries: list[str]
    tie_k: int
    tie_share: float
    curves: dict[str, dict[str, list[CurvePoint]]]
    randomization: RandomizationResult | None
    per_query: list[QueryResult]
    index_sweep: list[IndexSweepPoint] = msgspec.field(default_factory=list)


#: file name -> Struct type, the single source of truth for validate and schema export.
FILE_TYPES: dict[str, type[msgspec.Struct]] = {
    "eval_summary.json": EvalSummaryFile,
    "metrics.json": MetricsFile,
    "confidence_intervals.json": ConfidenceIntervalsFile,
    "slices.json": SlicesFile,
    "failure_examples.json": FailureExamplesFile,
    "stress.json": StressFile,
}
#: a task's own files (eval_summary.json ``files``): checked whenever a folder has them
TASK_FILE_TYPES: dict[str, type[msgspec.Struct]] = {"ranking.json": RankingFile}
