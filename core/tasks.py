"""What a task plugin registers: task types, templates with model variants, evaluators,
slicers.

A task type ("classification", "regression", a third party's "my-task") owns everything
core must not know by name: which targets it accepts, how its target is profiled, split
and cast for a model, how a model's predictions become the predictions table, and how
two runs' predictions compare. Templates, evaluators and slicers name the task type
they belong to. The hooks in :mod:`modellab.hookspecs` return lists of these objects.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from modellab.datasets.sources import SourceFormat
from modellab.runs.options import FEATURE_ROLES, EvalSettings

#: the target's column name in a training frame, whatever the dataset calls it
TARGET = "__target__"
#: the column that holds each row's unit id (a query's id) in the frames of a task whose
#: units are groups of rows (``TaskType.grouped``), whatever the dataset calls it
GROUP = "__group__"
#: the column that holds each row's item id (a judged document's id) in the frames of a
#: task whose models choose their items (``TaskType.retrieves``)
ITEM = "__item__"
#: the ``DataFrame.attrs`` key of a run's frames that names the run's columns of role
#: ``text`` (free text), for a template that takes them (``Template.input_roles``)
TEXT_COLUMNS = "modellab.text_columns"
#: the ``DataFrame.attrs`` key of a run's frames that holds the dataset version's
#: attachments (:class:`modellab.datasets.storage.Attachments`: a collection's documents),
#: for a model that needs more than the rows
ATTACHMENTS = "modellab.attachments"

Role = Literal["baseline", "candidate"]
ROLES: tuple[str, ...] = ("baseline", "candidate")


class FittedModel(Protocol):
    """What a variant's ``fit`` returns.

    ``predict`` takes a frame of raw feature columns; ``preprocessors`` are the fitted
    preprocessing objects (fit on train rows only, which EvalHarness verifies);
    ``signature`` describes the inference interface (input columns, dtypes, output).
    """

    @property
    def preprocessors(self) -> Sequence[Any]:
        """Fitted preprocessing objects, for EvalHarness' fit-on-train-only check."""

    @property
    def signature(self) -> Mapping[str, Any]:
        """Input columns with dtypes, and the output."""

    def save(self, folder: Path) -> str:
        """Write the model into ``folder`` in a format that loads without running code."""

    def predict(self, frame: Any) -> Any:
        """Return predictions for every row of ``frame``."""


#: a :class:`StagedModel` part that searches an approximate index alone at one setting of
#: its index sweep: ``INDEX_PART + label``, the label as ranking.json's ``index_sweep``
#: names the setting; the run joins the two into its recall-latency trade-off
INDEX_PART = "index "


@runtime_checkable
class StagedModel(Protocol):
    """A fitted model whose prediction has stages worth timing apart (candidate
    generation and reranking, embedding and index search); the run's latency.json
    times each one beside the whole ``predict``, and each :data:`INDEX_PART` part is a
    point of the recall-latency plot."""

    def latency_parts(self, frame: Any) -> Mapping[str, Callable[[], Any]]:
        """Zero-argument calls, by name, that each perform one stage of predicting
        ``frame`` (set up before the call, so that only the stage is timed)."""


class Deferred:
    """A callable that imports ``"package.module:function"`` on its first call.

    Plugins register fit and evaluate functions through :func:`deferred` so that
    discovering plugins (``modellab plugins``, every CLI start) does not import
    scikit-learn, XGBoost or EvalHarness. Long-lived processes (workers, the server)
    call :meth:`load` up front so that no run pays for imports.
    """

    def __init__(self, target: str) -> None:
        module_name, _, attr = target.partition(":")
        if not module_name or not attr:
            raise ValueError(f"deferred() takes 'package.module:function', got {target!r}")
        self.target = target
        self._module = module_name
        self._attr = attr
        self._resolved: Callable[..., Any] | None = None
        self.__name__ = attr
        self.__qualname__ = attr
        self.__doc__ = f"Deferred call of {target}."

    def load(self) -> Callable[..., Any]:
        """Import the target now (once) and return it."""
        if self._resolved is None:
            self._resolved = getattr(importlib.import_module(self._module), self._attr)
        return self._resolved

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.load()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"deferred({self.target!r})"


def deferred(target: str) -> Deferred:
    """Wrap ``"package.module:function"`` in a :class:`Deferred` callable."""
    return Deferred(target)


FitFunction = Callable[[Any, Any, int], FittedModel]
"""``fit(train_frame, spec, seed) -> FittedModel``; ``spec`` is the variant's config."""


@dataclass(frozen=True)
class ModelVariant:
    """A named model of a template, marked as a baseline or a candidate.

    ``load(folder) -> FittedModel`` reads back what the fitted model's ``save`` wrote
    (the plugin test kit checks that the loaded model predicts the same).
    """

    name: str
    role: Role
    fit: FitFunction
    config_type: type[msgspec.Struct]
    description: str = ""
    load: Callable[[Path], FittedModel] | None = None


@dataclass(frozen=True)
class Template:
    """A task template: a task type and its model variants, baselines first."""

    name: str
    task_type: str
    variants: tuple[ModelVariant, ...]
    description: str = ""
    #: the column roles a run of the template trains on, by default: tabular templates
    #: take the ``feature`` columns; a text template also the ``text`` ones, which its
    #: models find named in the frames' ``attrs`` (:data:`TEXT_COLUMNS`)
    input_roles: tuple[str, ...] = FEATURE_ROLES

    def variant(self, name: str) -> ModelVariant | None:
        """Return the variant called ``name``, or None."""
        return next((v for v in self.variants if v.name == name), None)


@dataclass(frozen=True)
class TaskPredictions:
    """A model's predictions on the test units, as the predictions table keeps them.

    ``scores`` has one column per name in ``score_labels`` (for a classifier: each
    class's probability); the table stores them as ``score_<label>`` columns. Each
    prediction row is keyed by the unit it belongs to and, for a task that scores several
    items per unit (documents of a query), by its item.
    """

    y_pred: Any
    scores: Any | None = None
    score_labels: Sequence[str] | None = None
    #: the unit id of each prediction row (None: each test row is a unit, keyed by its id)
    units: Any | None = None
    #: the item id of each prediction row (None: one prediction per unit)
    items: Any | None = None


@dataclass(frozen=True)
class TaskType:
    """A task type: what core asks of a task without knowing it by name.

    Callables receive polars objects from ingest (``facts`` is a
    :class:`modellab.datasets.schema.ColumnFacts`), pandas objects from training and
    the predictions tables (polars) from compare. Register heavy ones through
    :func:`deferred`.
    """

    name: str
    description: str
    #: ``check_target(column, facts) -> reason | None``: why the target column cannot
    #: be this task's target (None: it can)
    check_target: Callable[[str, Any], str | None]
    #: ``target_affinity(facts) -> float``: how well a target fits this task when the
    #: user names none; the highest wins, 0 means never inferred
    target_affinity: Callable[[Any], float]
    #: ``profile_target(series, summary) -> (TargetProfile, warnings)``; ``summary`` is
    #: the column's NumericSummary when it was profiled as a number, else None
    profile_target: Callable[[Any, Any], tuple[Any, list[Any]]]
    #: ``cast_target(series) -> series``: the target as models fit on it and reports
    #: compare against it
    cast_target: Callable[[Any], Any]
    #: ``predict(model, frame) -> TaskPredictions``, computed once per run
    predict: Callable[[FittedModel, Any], TaskPredictions]
    #: the target holds class labels: a split may stratify on it and records each
    #: side's label shares
    labels: bool = False
    #: ``check_train(train_target) -> reason | None``: why a train split cannot train
    #: this task (for a classifier: a single class)
    check_train: Callable[[Any], str | None] | None = None
    #: ``find_leaks(learn_x, learn_y, score_x, score_y, config) -> [(column, evidence)]``:
    #: the single-feature leak check of the dataset profile, with its EvalConfig
    find_leaks: Callable[[Any, Any, Any, Any, Any], list[tuple[str, str]]] | None = None
    #: ``paired_deltas(preds_a, preds_b, config) -> evalharness.PairedDeltas | None``:
    #: the paired bootstrap of B - A over the test units both runs scored
    paired_deltas: Callable[[Any, Any, Any], Any] | None = None
    #: ``paired_test(preds_a, preds_b, config, metric) -> dict | None``: a significance
    #: test of B against A on ``metric`` over the units both runs scored, for compare; the
    #: dict holds ``name``, ``metric``, ``observed``, ``p_value``, ``n``, ``units``,
    #: ``n_permutations`` and ``seed``
    paired_test: Callable[[Any, Any, Any, str], Mapping[str, Any] | None] | None = None
    #: ``unit_failures(preds) -> bool array``: the units a predictions table gets
    #: wrong, so compare lists new and fixed failures by unit id
    unit_failures: Callable[[Any], Any] | None = None
    #: what one test unit is ("row"; a group such as "query"), in words
    unit: str = "row"
    #: each unit is a group of rows (a query and its candidate documents): the dataset
    #: must be split by the group column (``--split group --group-column``), so that no
    #: unit is on both sides, and the run's frames carry each row's unit id in the
    #: :data:`GROUP` column (a model ranks the rows of one unit against each other)
    grouped: bool = False
    #: folder layouts this task's datasets may arrive in besides a table (a retrieval
    #: collection's TREC or BEIR files); ingest reads a folder in one of them through it
    source_formats: tuple[SourceFormat, ...] = ()
    #: the model chooses the items it scores in each unit (a retriever's top documents
    #: out of a whole corpus), so its predictions are not the test rows: the run's frames
    #: carry each row's item id (the dataset's ``item`` column) in :data:`ITEM`, the
    #: predictions table holds the retrieved items and the judged test rows (a null
    #: ``prediction``: judged, not retrieved; a null ``truth``: retrieved, not judged), and
    #: a baseline or another run is paired with it unit by unit, never row by row
    retrieves: bool = False
    #: ``read_predictions(path) -> TaskPredictions``: an outside system's output file (a
    #: TREC run) as predictions keyed by unit and item; with it a tracked run's uploaded
    #: file is evaluated like a template run's predictions (``modellab evaluate-file``).
    #: Raises InvalidInputError naming the file and line of a broken file
    read_predictions: Callable[[Path], TaskPredictions] | None = None


#: the fields of a TaskType that are values, not callables
TASK_TYPE_VALUES = (
    "name",
    "description",
    "labels",
    "unit",
    "grouped",
    "source_formats",
    "retrieves",
)


@dataclass(frozen=True)
class TemplateVariant:
    """A model variant that a plugin adds to another plugin's template."""

    template: str
    variant: ModelVariant


@dataclass(frozen=True)
class BaselinePredictions:
    """A finished baseline run's predictions, in the order of the run's own prediction
    rows (paired by unit and item id, never by position); for a retrieving task its own
    rows, with their ``truth``."""

    name: str
    run_key: str
    y_pred: Any
    scores: Any | None
    dataset_version: str
    split_checksum: str
    #: the unit id of each prediction row
    units: Any = None
    #: the item id of each prediction row (None: one prediction per unit)
    items: Any | None = None
    #: the target of each row, when the rows are the baseline's own (``TaskType.retrieves``)
    truth: Any | None = None
    #: the baseline run's folder, whose ``model/`` the run loads back for the stress tests
    folder: Path | None = None
    #: the baseline's model, loaded back with its variant's ``load``, so the stress tests
    #: corrupt the same inputs for both models (None: not loaded, or it cannot predict
    #: this run's frames)
    model: FittedModel | None = None


@dataclass(frozen=True)
class EvalRequest:
    """Everything an evaluator needs to write the EvalHarness folder of one run.

    Frames hold raw feature columns, indexed by the dataset's row positions, so that
    the leakage checks can compare train and test rows.
    """

    out_dir: Path
    model: FittedModel
    test_frame: Any
    y_true: Any
    train_frame: Any
    train_target: Any
    split: str
    time_column: str | None
    baseline: BaselinePredictions | None
    run_key: str
    dataset_ref: str
    dataset_checksum: str
    split_checksum: str
    commit: str
    seed: int
    reproduce_command: str
    #: the split's time column on train and test rows, when it is not a feature
    train_time: Any = None
    test_time: Any = None
    #: the model's predictions (and class probabilities) on ``test_frame``, computed once
    y_pred: Any = None
    scores: Any = None
    #: the unit id (and item id) of each prediction row, as ``predictions.parquet`` keys it
    units: Any = None
    items: Any | None = None
    #: the target of each prediction row, for a task whose rows are not the test rows
    #: (``TaskType.retrieves``: null where an item was retrieved but never judged); its
    #: ``y_pred`` is NaN where a judged item was not retrieved
    truth: Any | None = None
    #: ``refit(train_features, train_target) -> FittedModel`` for the shift stress test
    refit: Callable[[Any, Any], FittedModel] | None = None
    #: the evaluation settings the run changes (``--eval``, ``--n-bootstrap``), validated;
    #: ``n_bootstrap`` is always given
    eval_settings: EvalSettings = field(default_factory=EvalSettings)
    #: (column, evidence) of the run's features that the dataset's profile flagged as
    #: possible target leaks
    leak_suspects: tuple[tuple[str, str], ...] = ()
    #: where the run keeps its inference timings, relative to ``out_dir``: eval_summary.json's
    #: ``latency`` (the timings differ between machines, so they stay out of the folder)
    latency_file: str | None = None
    #: the duplicate-records measure taken before the fit (EvalHarness' DuplicateCheck),
    #: which the leakage checks reuse rather than hash every row again
    duplicates: Any = None
    #: the report's slices: what the slicers that apply to the run's task produced, in
    #: order (``Registry.slicers_for``), family and description filled in
    slices: tuple[SliceDefinition, ...] = ()


@dataclass(frozen=True)
class MetricInfo:
    """What a metric measures, in a line, and whether a higher value is better."""

    description: str
    higher_is_better: bool


@dataclass(frozen=True)
class Evaluator:
    """Turns predictions of one task type into an EvalHarness report folder.

    ``evaluate(request: EvalRequest) -> None`` writes ``request.out_dir`` following the
    EvalHarness contract, and raises ``evalharness.LeakageError`` when a leakage rule
    is broken; ModelLab reads the numbers back from the contract files.
    """

    name: str
    task_type: str
    evaluate: Callable[[EvalRequest], None]
    description: str = ""
    #: metrics this evaluator reports beyond EvalHarness' own, in words; pages show them
    #: through ``GET /api/plugins`` (EvalHarness' metrics come from its catalog)
    metrics: Mapping[str, MetricInfo] = field(default_factory=dict)


@dataclass(frozen=True)
class SliceDefinition:
    """A named subset of the test units, produced by a slicer.

    ``name`` is the slice's id in ``slices.json`` (unique within a run); ``family``
    groups slices of one rule there, described by ``family_description``. Both default
    to the slicer's name and description.
    """

    name: str
    definition: str
    mask: Any  # boolean array over the test units, in the predictions table's order
    family: str = ""
    family_description: str = ""
    #: metrics the family's slices report besides the one they are ranked by (the report
    #: leaves out one its task does not compute)
    family_metrics: tuple[str, ...] = ()


@dataclass(frozen=True)
class Slicer:
    """A named slice generator; ``task_types`` empty means it applies to every task.

    ``generate`` is called with keyword arguments and should accept ``**kwargs``:
    ``frame`` (the test rows' raw features), ``train_frame`` (the train rows' raw
    features, for rules learned from them such as a vocabulary), ``y_true``, ``y_pred``,
    ``scores`` and
    ``score_labels`` (as the task type's ``predict`` gave them), ``units`` (the unit id
    of each prediction row) and ``settings`` (the run's
    :class:`~modellab.runs.options.EvalSettings`). It returns :class:`SliceDefinition`
    items whose masks run over the test units: the rows, or for a grouped task the
    sorted unit ids. A slicer with no ``task_types`` applies to every task whose units
    are rows.
    """

    name: str
    generate: Callable[..., Sequence[SliceDefinition]]
    task_types: tuple[str, ...] = field(default=())
    description: str = ""
