"""Where ModelLab keeps its state, read from the environment.

``MODELLAB_HOME`` (default ``./.modellab``) holds the SQLite database;
``MODELLAB_DATABASE_URL`` overrides the database; ``MODELLAB_ARTIFACT_ROOT`` (default
``./artifacts``) holds datasets and run artifacts; ``MODELLAB_MAX_UPLOAD_MB`` caps the
size of a dataset file (default 1024); ``MODELLAB_REDIS_URL`` sends runs to arq workers;
``MODELLAB_HEARTBEAT_SECONDS`` and ``MODELLAB_STALE_AFTER_SECONDS`` tune how lost workers
are detected.

Sign-in: ``MODELLAB_PUBLIC_URL`` (the address people open; links are built from it)
turns sign-in on. ``MODELLAB_SMTP_URL`` (``smtp://user:password@host:port``, or
``smtps://`` for TLS) and ``MODELLAB_MAIL_FROM`` send magic links;
``MODELLAB_OIDC_CLIENT_ID``, ``MODELLAB_OIDC_CLIENT_SECRET`` and ``MODELLAB_OIDC_ISSUER``
(default Google's) enable sign-in with Google or another OpenID provider.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from modellab.errors import InvalidInputError


@dataclass(frozen=True)
class Settings:
    """Resolved configuration for one process."""

    home: Path
    database_url: str
    artifact_root: Path
    max_upload_bytes: int
    #: the tables' owner, for migrations; None migrates as ``database_url``'s role
    migration_database_url: str | None = None
    #: arq's Redis; None runs queued runs in the server itself (the embedded executor)
    redis_url: str | None = None
    #: how often the process watching a run marks it alive
    heartbeat_seconds: float = 2.0
    #: a running run whose heartbeat is older than this lost its worker
    stale_after_seconds: float = 30.0
    #: where people reach the server; None runs in local mode as the single local user
    public_url: str | None = None
    smtp_url: str | None = None
    mail_from: str = "ModelLab <modellab@localhost>"
    oidc_issuer: str = "https://accounts.google.com"
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None

    @property
    def sign_in_enabled(self) -> bool:
        """Requests need a session or a token (else all run as the local user)."""
        return self.public_url is not None

    @property
    def oidc_enabled(self) -> bool:
        """Sign-in with Google (or another OpenID provider) is configured."""
        return self.public_url is not None and bool(self.oidc_client_id)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default: the process environment)."""
        env = dict(os.environ) if environ is None else environ
        home = Path(env.get("MODELLAB_HOME") or ".modellab").absolute()
        url = env.get("MODELLAB_DATABASE_URL") or f"sqlite+aiosqlite:///{home / 'modellab.db'}"
        root = Path(env.get("MODELLAB_ARTIFACT_ROOT") or "artifacts").absolute()
        raw_limit = env.get("MODELLAB_MAX_UPLOAD_MB") or "1024"
        try:
            limit_mb = float(raw_limit)
        except ValueError:
            raise InvalidInputError(
                f"MODELLAB_MAX_UPLOAD_MB must be a number of megabytes, got {raw_limit!r}"
            ) from None
        if limit_mb <= 0:
            raise InvalidInputError(f"MODELLAB_MAX_UPLOAD_MB must be positive, got {raw_limit!r}")
        return cls(
            home=home,
            database_url=normalize_database_url(url),
            artifact_root=root,
            migration_database_url=(
                normalize_database_url(env["MODELLAB_MIGRATION_DATABASE_URL"])
                if env.get("MODELLAB_MIGRATION_DATABASE_URL")
                else None
            ),
            max_upload_bytes=int(limit_mb * 1024 * 1024),
            redis_url=env.get("MODELLAB_REDIS_URL") or None,
            heartbeat_seconds=_seconds(env, "MODELLAB_HEARTBEAT_SECONDS", 2.0),
            stale_after_seconds=_seconds(env, "MODELLAB_STALE_AFTER_SECONDS", 30.0),
            public_url=_public_url(env.get("MODELLAB_PUBLIC_URL")),
            smtp_url=env.get("MODELLAB_SMTP_URL") or None,
            mail_from=env.get("MODELLAB_MAIL_FROM") or "ModelLab <modellab@localhost>",
            oidc_issuer=env.get("MODELLAB_OIDC_ISSUER") or "https://accounts.google.com",
            oidc_client_id=env.get("MODELLAB_OIDC_CLIENT_ID") or None,
            oidc_client_secret=env.get("MODELLAB_OIDC_CLIENT_SECRET") or None,
        )


def _public_url(raw: str | None) -> str | None:
    if not raw:
        return None
    url = raw.rstrip("/")
    if not url.startswith(("http://", "https://")) or "?" in url or "#" in url:
        raise InvalidInputError(
            f"MODELLAB_PUBLIC_URL must be an http(s) address like https://modellab.example.com, "
            f"got {raw!r}"
        )
    return url


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInputError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise InvalidInputError(f"{name} must be positive, got {raw!r}")
    return value


def normalize_database_url(url: str) -> str:
    """Pick the async driver for a plain ``postgresql://`` or ``sqlite://`` URL."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url
