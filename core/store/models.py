"""SQLAlchemy 2 table models.

JSON documents (schema, profile, split, config, metrics) are stored as JSON columns
(JSONB on PostgreSQL) and decoded into the msgspec Structs of :mod:`modellab.domain`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine


class JSONDocument(TypeDecorator[Any]):
    """A JSON document column: JSONB on PostgreSQL, JSON elsewhere."""

    impl = JSON
    cache_ok = True
    #: like JSON's: None is stored as JSON null, not SQL NULL
    should_evaluate_none = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            # Imported here: the PostgreSQL dialect is a tenth of the store's import
            # time, and a SQLite setup (the CLI's default) never uses it.
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


JSONDoc = JSONDocument()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every ModelLab table."""


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DatasetVersionRow(Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (
        UniqueConstraint("project_id", "name", "version", name="uq_dataset_versions_pnv"),
        Index("ix_dataset_versions_checksum", "project_id", "name", "checksum"),
        CheckConstraint("version >= 1", name="ck_dataset_versions_version"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(500))
    rows: Mapped[int] = mapped_column(Integer)
    n_columns: Mapped[int] = mapped_column(Integer)
    feature_columns: Mapped[Any] = mapped_column(JSONDoc)
    schema: Mapped[Any] = mapped_column(JSONDoc)
    profile: Mapped[Any] = mapped_column(JSONDoc)
    split: Mapped[Any] = mapped_column(JSONDoc)
    provenance: Mapped[Any] = mapped_column(JSONDoc)
    schema_diff: Mapped[Any] = mapped_column(JSONDoc, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DatasetNoteRow(Base):
    __tablename__ = "dataset_notes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dataset_version_id: Mapped[str] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    text: Mapped[str] = mapped_column(Text)


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_project_created", "project_id", "created_at", "id"),
        Index("ix_runs_baseline_lookup", "dataset_version_id", "split_checksum", "role", "status"),
        Index("ix_runs_project_status_created", "project_id", "status", "created_at", "id"),
        Index("ix_runs_status_heartbeat", "status", "heartbeat_at"),
        Index("ix_runs_experiment", "experiment_id"),
        Index("uq_runs_imported_from", "project_id", "imported_from", unique=True),
        CheckConstraint(
            "status in ('queued','running','succeeded','failed','cancelled','timed_out')",
            name="ck_runs_status",
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # A run without dataset version + checksum, seed and code version is invalid, so
    # these columns are NOT NULL: the database refuses such a run too.
    dataset_version_id: Mapped[str] = mapped_column(ForeignKey("dataset_versions.id"))
    dataset_checksum: Mapped[str] = mapped_column(String(64))
    split_checksum: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), server_default="candidate")
    # Identity of the computation (data, split, template, model, config, seed, code):
    # two runs with the same key must produce the same eval folder.
    run_key: Mapped[str] = mapped_column(String(64), server_default="")
    seed: Mapped[int] = mapped_column(Integer)
    config: Mapped[Any] = mapped_column(JSONDoc)
    # Run options beside the model config (columns, leakage thresholds): core/runs/options.py
    options: Mapped[Any] = mapped_column(JSONDoc, server_default=text("'{}'"))
    code_version: Mapped[Any] = mapped_column(JSONDoc)
    environment: Mapped[Any] = mapped_column(JSONDoc)
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    metrics: Mapped[Any] = mapped_column(JSONDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Set by a cancel request while the run trains; the process that watches the run
    # stops its training process and ends the run as cancelled.
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    timeout_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Deliveries that claimed the run; the reaper re-queues a lost run once.
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    # The run that must succeed before this one may be claimed (a candidate queued
    # together with its baseline); it ends this one too when it ends any other way.
    waits_on: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    #: the MLflow experiment a tracked run belongs to (None: its project's Default)
    # No foreign key: see migration 0015 (experiments are never deleted).
    experiment_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    #: ``mlflow:<run id>`` of the run an import made this one from
    imported_from: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: the datasets the run's code declared as its inputs (MLflow's log_inputs)
    inputs: Mapped[Any] = mapped_column(JSONDoc, server_default=text("'[]'"))


class ExperimentRow(Base):
    """A named group of a project's tracked runs, numbered per project like MLflow's
    experiments (0 is the project's Default)."""

    __tablename__ = "experiments"
    __table_args__ = (
        UniqueConstraint("project_id", "number", name="uq_experiments_number"),
        UniqueConstraint("project_id", "name", name="uq_experiments_name"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RunNoteRow(Base):
    __tablename__ = "run_notes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    text: Mapped[str] = mapped_column(Text)


class RunParamRow(Base):
    __tablename__ = "run_params"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RunTagRow(Base):
    """A tag of a run: a label its code may set again (the newest value is kept)."""

    __tablename__ = "run_tags"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RunMetricRow(Base):
    __tablename__ = "run_metrics"
    __table_args__ = (Index("ix_run_metrics_run_key_step", "run_id", "key", "step"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(250))
    step: Mapped[int] = mapped_column(BigInteger)
    #: 0 where ``nan`` (SQLite turns a NaN into NULL); infinities as they are
    value: Mapped[float] = mapped_column(Float)
    #: ms since the epoch, as the logging code gave it (None: not given)
    timestamp: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    nan: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class RunLatestMetricRow(Base):
    """The newest value of each metric of a run: what run listings filter on."""

    __tablename__ = "run_latest_metrics"
    __table_args__ = (
        Index("ix_run_latest_metrics_project_key_value", "project_id", "key", "value"),
    )

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(36))
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    step: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float] = mapped_column(Float)
    #: the newest point was NaN (``value`` holds 0): no metric range matches it
    nan: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProjectMemberRow(Base):
    __tablename__ = "project_members"
    __table_args__ = (
        CheckConstraint("role in ('owner','editor','viewer')", name="ck_project_members_role"),
        Index("ix_project_members_user", "user_id", "project_id"),
    )

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiTokenRow(Base):
    """An API token; only the SHA-256 of its secret is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: a token limited to one project sees no other
    project_id: Mapped[str | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=True
    )
    read_only: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: the token stops working at this time; None: it works until revoked
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SessionRow(Base):
    """A browser session; the cookie holds the secret, the table its SHA-256."""

    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class MagicLinkRow(Base):
    """A sign-in link sent by email; usable once, until ``expires_at``."""

    __tablename__ = "magic_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SignInStateRow(Base):
    """The state, nonce and PKCE verifier of an OpenID Connect sign-in under way."""

    __tablename__ = "sign_in_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
