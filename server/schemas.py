"""Request and response bodies of the JSON API that are not domain objects.

Projects, dataset versions and runs travel as the msgspec Structs of
:mod:`modellab.domain`; this module holds what only the API needs.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from modellab.access.tokens import MAX_DAYS as MAX_TOKEN_DAYS
from modellab.domain import MAX_SEED, Run

Name = Annotated[str, Meta(min_length=1, max_length=200)]


#: The largest JSON request body the API reads (uploads have their own, larger limit:
#: MODELLAB_MAX_UPLOAD_MB). A tracking batch of 10,000 metric points is about 1 MB.
JSON_BODY_LIMIT = 16 * 1024 * 1024


class ProjectCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new project; the slug is derived from the name unless given."""

    name: Name
    slug: str | None = None


class RunCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A run to queue: what ``modellab run`` takes, as JSON."""

    project: Name
    #: NAME or NAME@VERSION
    dataset: Name
    template: Name
    model: Name
    seed: Annotated[int, Meta(ge=0, le=MAX_SEED)] = 0
    #: overrides of the model's config (see GET /api/plugins for each model's schema)
    config: dict[str, Any] = {}
    #: bootstrap replicates (None: 1000); the same as ``eval`` ``n_bootstrap``
    n_bootstrap: Annotated[int, Meta(ge=10, le=100_000)] | None = None
    #: end the run as timed_out after this many seconds of training
    timeout_seconds: Annotated[float, Meta(gt=0, le=7 * 24 * 3600)] | None = None
    #: feature columns of the dataset version this run leaves out
    exclude: Annotated[list[Name], Meta(max_length=10_000)] = []
    #: train on exactly these columns instead of the dataset version's features
    features: Annotated[list[Name], Meta(max_length=10_000)] | None = None
    #: thresholds of the evaluation's rules for this run (see GET /api/plugins
    #: ``eval_settings``), e.g. {"duplicate_excess_error": 0.1, "key_feature": "island"}
    eval: Annotated[dict[Name, float | str], Meta(max_length=50)] = {}
    #: queue the template's reference baseline first when this dataset version has no
    #: succeeded baseline: the run waits on it (``waits_on``) and fails with its reason
    #: if it fails
    with_baseline: bool = False


class RunPage(msgspec.Struct):
    """One page of runs, newest first; pass ``next_cursor`` as ``cursor`` for the next."""

    items: list[Run]
    next_cursor: str | None


class NoteCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A note to append ("what changed my mind")."""

    text: Annotated[str, Meta(min_length=1, max_length=10_000)]


class ArtifactFile(msgspec.Struct):
    """One file of a run's folder."""

    path: str
    size: int
    sha256: str


class EvalReportOut(msgspec.Struct):
    """The EvalHarness folder of a run: every JSON contract file, and the takeaway."""

    run_id: str
    files: dict[str, Any]
    takeaway: str
    plots: list[str]
    #: the run's latency.json (outside eval/: timings differ between machines), or
    #: ``{"measured": false, "reason": ...}`` for a tracked run or one without the file
    latency: dict[str, Any]


class ModelOut(msgspec.Struct):
    """A model variant of a template, with the JSON Schema of its config."""

    name: str
    role: str
    description: str
    config_schema: dict[str, Any]


class TemplateOut(msgspec.Struct):
    """A task template and its models, baselines first."""

    name: str
    task_type: str
    description: str
    plugin: str
    models: list[ModelOut]
    #: the baseline a candidate is measured against (the strongest the template declares)
    reference_baseline: str
    #: the column roles its runs train on (``feature``; a text template also ``text``)
    input_roles: list[str]


class PluginOut(msgspec.Struct):
    """An installed plugin and the names of what it registers."""

    name: str
    distribution: str
    version: str
    task_types: list[str]
    templates: list[str]
    #: ``TEMPLATE/VARIANT`` of the models it adds to other plugins' templates
    variants: list[str]
    evaluators: list[str]
    slicers: list[str]


class TaskTypeOut(msgspec.Struct):
    """An installed task type: what datasets' ``task`` may be."""

    name: str
    description: str
    plugin: str
    #: what one test unit is ("row", or a group such as "query")
    unit: str
    #: the target holds class labels (splits may stratify on it)
    labels: bool
    #: the folder layouts a dataset of this task may arrive in besides a table
    #: (``TREC collection (documents, topics, qrels)``), as their descriptions
    source_formats: list[str] = []


class EvalSettingOut(msgspec.Struct):
    """A threshold of the evaluation's rules that a run may change (run option ``eval``)."""

    name: str
    description: str
    #: null: derived from the data (e.g. the minimum slice size from the test size); a
    #: list setting's default is written comma-separated, as ``--eval`` takes it
    default: float | str | None


class MetricWordsOut(msgspec.Struct):
    """A metric: what it measures, and whether a higher value is better."""

    description: str
    higher_is_better: bool


class PlotWordsOut(msgspec.Struct):
    """A plot, by its file stem: its title and what it shows."""

    title: str
    shows: str


class FailureModeWordsOut(msgspec.Struct):
    """A failure-mode category: its title and what falls in it."""

    title: str
    description: str


class DescriptionsOut(msgspec.Struct):
    """The words pages show beside a report: EvalHarness' catalog of its metrics, plots
    and failure modes, and the metrics plugins' evaluators add."""

    metrics: dict[str, MetricWordsOut]
    plots: dict[str, PlotWordsOut]
    failure_modes: dict[str, FailureModeWordsOut]


class PluginsOut(msgspec.Struct):
    """Everything the installed plugins register, the evaluation settings of a run, and
    what a report's metrics, plots and failure modes mean."""

    plugins: list[PluginOut]
    task_types: list[TaskTypeOut]
    templates: list[TemplateOut]
    eval_settings: list[EvalSettingOut]
    descriptions: DescriptionsOut


class Health(msgspec.Struct):
    """Liveness, and which executor runs the runs."""

    status: str
    version: str
    executor: str
    database: str


class RunSide(msgspec.Struct):
    """One of the two runs of a comparison."""

    id: str
    template: str
    model: str
    seed: int


class Comparison(msgspec.Struct):
    """Run A (before) against run B (after): what ``modellab compare`` prints.

    Each part's rows are documented in the CLI's ``compare --json`` output. With both
    runs' eval reports ``basis`` is "eval"; without, it is "logged": the sections that
    need reports (``metrics``, ``slices``, ``failures``, ``paired_*``, ``plots``) are
    null, ``basis_reason`` says why, and ``logged_metrics`` compares what was logged.
    """

    a: RunSide
    b: RunSide
    #: "eval" (both reports compared) or "logged" (the newest logged metrics only)
    basis: str
    #: why the comparison is "logged" (which run has no eval report), or null
    basis_reason: str | None
    like_for_like: bool
    #: per side ("a", "b"): features suspected of leaking the target, from each report
    leak_suspects: dict[str, list[dict[str, Any]]]
    paired_bootstrap: dict[str, Any] | None
    #: the task's significance test of B against A on B's primary metric (a ranking
    #: run's paired randomization test: its p-value, seed and count), or null
    paired_test: dict[str, Any] | None
    #: the reports' metrics with CIs and verdicts; null without both reports
    metrics: list[dict[str, Any]] | None
    slices: list[dict[str, Any]] | None
    failures: dict[str, Any] | None
    #: without both reports: ``rows`` (metric, a, b, delta, step_a, step_b: the newest
    #: logged values; delta null unless both are finite), ``only_a``/``only_b`` (metric to
    #: value) and ``verdict`` (why there is none); null when both reports are compared
    logged_metrics: dict[str, Any] | None
    #: params and tags as logged: ``changed`` ({a, b}), ``added`` (only in B),
    #: ``removed`` (only in A), the shape of ``config``
    params: dict[str, Any]
    tags: dict[str, Any]
    config: dict[str, Any]
    #: the code versions' keys (modellab_version, git_commit, git_dirty, diff_sha256)
    code: dict[str, Any]
    dataset: dict[str, Any]
    artifacts: dict[str, list[str]]
    notes: dict[str, list[dict[str, str]]]
    #: side-by-side plots, ``plots/NAME.png``: served at ``/api/compare/plots/NAME.png``
    #: with the same ``a`` and ``b`` (a read writes no comparison into a run folder);
    #: null without both reports
    plots: list[str] | None
    #: per side ("a", "b"): the run's latency.json, or ``{"measured": false, "reason": ...}``
    latency: dict[str, dict[str, Any]]


class Params(msgspec.Struct):
    """The params of a run (values as logged; numbers as JSON text)."""

    params: dict[str, str]


Email = Annotated[str, Meta(min_length=3, max_length=320)]


class MagicLinkRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Ask for a sign-in link by email."""

    email: Email


class Accepted(msgspec.Struct):
    """A request taken for processing in the background."""

    detail: str


class SignInMethods(msgspec.Struct):
    """What the sign-in page offers, and who is signed in (null when nobody)."""

    sign_in_required: bool
    magic_link: bool
    google: bool
    email: str | None = None


class Me(msgspec.Struct):
    """The signed-in user and how the request was authenticated."""

    email: str
    via: str
    read_only: bool
    project: str | None = None


class TokenCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new API token, optionally limited to one project, read-only and expiring."""

    name: Name = "api"
    project: str | None = None
    read_only: bool = False
    #: the token stops working this many days from now; None: when revoked
    expires_in_days: Annotated[int, Meta(ge=1, le=MAX_TOKEN_DAYS)] | None = None


class MemberSet(msgspec.Struct, forbid_unknown_fields=True):
    """Give ``email`` a role in the project."""

    email: Email
    role: str
