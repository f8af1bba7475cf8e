"""ModelLab's objects as msgspec Structs, and their enums.

These are the shapes the CLI prints with ``--json``, the API sends, and the store
persists: projects, dataset versions and runs. The other three objects of DESIGN.md's
"The six objects" belong to a run and are folders and files, not rows: the model
artifact (``model/`` with ``signature.json``), the eval report (``eval/``, EvalHarness'
contract) and the repro pack (a ``.tar.gz`` with its ``manifest.json``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec


class SplitStrategy(StrEnum):
    """How a dataset version's rows are divided into train and test."""

    RANDOM = "random"
    STRATIFIED = "stratified"
    TIME = "time"
    GROUP = "group"
    PREDEFINED = "predefined"


class ColumnType(StrEnum):
    """Logical type of a column, inferred from its values."""

    NUMERIC = "numeric"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    CATEGORICAL = "categorical"
    DATETIME = "datetime"
    TEXT = "text"
    IDENTIFIER = "identifier"


class ColumnRole(StrEnum):
    """What a column is for: chosen by the user (``--role``) or inferred at ingest.

    Only ``feature`` columns are model inputs by default. The others are kept in the
    data for what they say: ``identifier`` (a row key, never a feature silently),
    ``time`` (when a row happened), ``group`` (rows that belong together, such as a
    query: splits keep a group on one side), ``item`` (what a row ranks or describes),
    ``weight`` (a row's weight), ``text`` (free text for a text task), ``excluded``
    (left out, with a reason).
    """

    TARGET = "target"
    FEATURE = "feature"
    EXCLUDED = "excluded"
    IDENTIFIER = "identifier"
    TIME = "time"
    GROUP = "group"
    ITEM = "item"
    WEIGHT = "weight"
    TEXT = "text"


class RunStatus(StrEnum):
    """Run lifecycle: queued -> running -> succeeded | failed | cancelled | timed_out."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


class Note(msgspec.Struct, frozen=True):
    """An appended, never edited, note ("what changed my mind")."""

    created_at: datetime
    text: str


class Project(msgspec.Struct, frozen=True):
    """A workspace for one modeling effort."""

    id: str
    slug: str
    name: str
    created_at: datetime


# --- dataset versions -------------------------------------------------------------


class ColumnSchema(msgspec.Struct, frozen=True):
    """One column of a dataset version's schema snapshot."""

    name: str
    dtype: str
    logical_type: ColumnType
    nullable: bool
    cardinality: int
    role: ColumnRole
    #: why the column is not a feature (None for features and the target)
    excluded_reason: str | None = None


class Histogram(msgspec.Struct, frozen=True):
    """Counts of values between consecutive edges (len(edges) == len(counts) + 1)."""

    edges: list[float]
    counts: list[int]


class NumericSummary(msgspec.Struct, frozen=True):
    """Distribution of a numeric column's present values."""

    min: float
    max: float
    mean: float
    std: float
    quantiles: dict[str, float]
    histogram: Histogram


class CategoryCount(msgspec.Struct, frozen=True):
    """A category and how often it occurs."""

    value: str
    count: int
    fraction: float


class TextSample(msgspec.Struct, frozen=True):
    """A free-text cell shown as an example of its row's target value."""

    label: str
    #: the text, cut at 200 characters
    text: str


class TextSummary(msgspec.Struct, frozen=True):
    """A free-text column: words per row, distinct words, and rows of each class."""

    words: NumericSummary | None
    vocabulary: int
    #: the first rows of each of the most frequent target values, in row order
    samples: list[TextSample]


class ColumnProfile(msgspec.Struct, frozen=True):
    """Per-column profile: missingness, distribution and top categories; for free text,
    its :class:`TextSummary`."""

    name: str
    logical_type: ColumnType
    missing: int
    missing_fraction: float
    n_unique: int
    constant: bool
    numeric: NumericSummary | None = None
    top_categories: list[CategoryCount] | None = None
    text: TextSummary | None = None


class TargetProfile(msgspec.Struct, frozen=True):
    """Label balance (classification) or target distribution (regression)."""

    column: str
    task: str
    classes: list[CategoryCount] | None = None
    distribution: NumericSummary | None = None


class DataWarning(msgspec.Struct, frozen=True):
    """Something an ML engineer should look at before training."""

    code: str
    message: str
    column: str | None = None


class SourceCount(msgspec.Struct, frozen=True):
    """One count a source format states about its files ("documents", "judgments")."""

    label: str
    value: int


class SourceDistribution(msgspec.Struct, frozen=True):
    """How a quantity is distributed over a source's records (document length, terms)."""

    label: str
    summary: NumericSummary


class SourceCategories(msgspec.Struct, frozen=True):
    """How often each value occurs (the judgments of each relevance grade)."""

    label: str
    counts: list[CategoryCount]


class SourceIds(msgspec.Struct, frozen=True):
    """Records a source format singles out ("queries without a relevant document"):
    how many, and the first of them in sorted order."""

    label: str
    count: int
    ids: list[str]


class SourceProfile(msgspec.Struct, frozen=True):
    """What a source format (:class:`modellab.datasets.sources.SourceFormat`) profiled
    beyond the table it gave ingest: a retrieval collection's documents and queries."""

    counts: list[SourceCount]
    distributions: list[SourceDistribution]
    categories: list[SourceCategories]
    ids: list[SourceIds]
    #: the format's name and description, and the tables stored beside the version's
    #: rows (``documents``): ingest fills these in from the format and what it read
    format: str = ""
    description: str = ""
    attachments: list[str] = []


class DatasetProfile(msgspec.Struct, frozen=True):
    """Whole-dataset profile computed at ingest."""

    rows: int
    columns: int
    column_profiles: list[ColumnProfile]
    target: TargetProfile
    duplicate_rows: int
    constant_columns: list[str]
    dropped_missing_target: int
    warnings: list[DataWarning]
    #: the source format's own profile, for a dataset read through one
    source: SourceProfile | None = None


class SplitSide(msgspec.Struct, frozen=True):
    """One side of a split: its size and, for classification, its class ratios."""

    rows: int
    class_fractions: dict[str, float] | None = None
    time_min: str | None = None
    time_max: str | None = None
    groups: int | None = None


class DuplicateRecords(msgspec.Struct, frozen=True):
    """Rows that exactly repeat another row (feature columns and target), and what the split
    did with them.

    ``chance_share`` is the share of rows expected to have an exact twin if every column
    were drawn independently from its own value counts: low-cardinality tables (a few
    categorical columns) reach it by chance, copied records exceed it.
    """

    rows: int
    groups: int
    share: float
    chance_share: float
    #: True: each group of identical records was kept on one side of the split
    grouped: bool
    reason: str


class SplitInfo(msgspec.Struct, frozen=True):
    """A materialized split: the parameters and the checksum of its row indices."""

    strategy: SplitStrategy
    test_size: float | None
    seed: int
    checksum: str
    train: SplitSide
    test: SplitSide
    time_column: str | None = None
    group_column: str | None = None
    duplicates: DuplicateRecords | None = None


class SourceFile(msgspec.Struct, frozen=True):
    """One file of a dataset's original bytes."""

    path: str
    sha256: str
    bytes: int
    delimiter: str | None = None  # a CSV file's, as detected (None: Parquet)


class Provenance(msgspec.Struct, frozen=True):
    """Where a dataset version's bytes came from."""

    kind: str  # "file" or "folder"
    original_name: str
    files: list[SourceFile]
    source: str | None = None
    #: the column roles the user chose (``--role COLUMN=ROLE``), by column
    roles: dict[str, ColumnRole] = {}
    #: the source format that read the files (``trec``), None for CSV and Parquet tables
    format: str | None = None


class SchemaChange(msgspec.Struct, frozen=True):
    """A column whose type or role changed between two versions."""

    column: str
    before: str
    after: str


class SchemaDiff(msgspec.Struct, frozen=True):
    """What changed in the schema against another version of the same dataset."""

    against_version: int
    added: list[str]
    removed: list[str]
    changed: list[SchemaChange]


class DatasetVersion(msgspec.Struct, frozen=True):
    """Immutable bytes + checksum, schema, profile, split, provenance and notes."""

    id: str
    project: str
    name: str
    version: int
    checksum: str
    task: str
    target: str
    rows: int
    columns: int
    feature_columns: list[str]
    schema: list[ColumnSchema]
    profile: DatasetProfile
    split: SplitInfo
    provenance: Provenance
    created_at: datetime
    notes: list[Note] = []
    schema_diff: SchemaDiff | None = None

    @property
    def ref(self) -> str:
        """The ``project/name@version`` reference users type."""
        return f"{self.project}/{self.name}@{self.version}"


# --- runs and what they produce ---------------------------------------------------


class CodeVersion(msgspec.Struct, frozen=True):
    """The code a run executed: ModelLab's version and the repository's state."""

    modellab_version: str
    git_commit: str | None
    git_dirty: bool
    diff_sha256: str | None = None


#: The largest seed a run can hold: the store keeps seeds as 32-bit signed integers.
MAX_SEED = 2**31 - 1


class Run(msgspec.Struct, frozen=True):
    """One execution of train or eval."""

    id: str
    project: str
    dataset_version_id: str
    dataset_checksum: str
    split_checksum: str
    kind: str
    template: str
    model: str
    role: str
    run_key: str
    seed: int
    config: dict[str, Any]
    code_version: CodeVersion
    environment: dict[str, Any]
    status: RunStatus
    created_at: datetime
    status_reason: str | None = None
    metrics: dict[str, Any] = {}
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    timeout_seconds: float | None = None
    notes: list[Note] = []
    #: run options beside the model config (see modellab.runs.options.RunOptions)
    options: dict[str, Any] = {}
    #: the run this one waits for (its baseline, queued with it): it starts once that
    #: run succeeded, and ends with that run's reason if it does not
    waits_on: str | None = None
