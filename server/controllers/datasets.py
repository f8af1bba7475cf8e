"""Datasets: upload a file (multipart, streamed to disk), list and inspect versions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.status_codes import HTTP_201_CREATED

from modellab.datasets import ingest
from modellab.datasets.roles import parse_roles
from modellab.datasets.splits import SplitRequest
from modellab.domain import DatasetVersion, SchemaDiff, SplitStrategy
from modellab.errors import InvalidInputError, ModelLabError
from modellab.server.input_guard import refuse_nul_fields
from modellab.server.services import Services
from modellab.server.uploads import scratch, spool_upload

SUFFIXES = {".csv", ".tsv", ".parquet"}


@dataclass
class DatasetUpload:
    """The multipart form of a dataset upload: the file and what ``dataset add`` takes."""

    file: UploadFile
    name: str
    target: str
    task: str | None = None
    split: SplitStrategy = SplitStrategy.RANDOM
    test_size: float = 0.2
    seed: int = 0
    time_column: str | None = None
    group_column: str | None = None
    source: str | None = None
    notes: str | None = None
    #: columns left out of the features, comma-separated
    exclude: str | None = None
    #: the only columns that may be features, comma-separated
    features: str | None = None
    #: column roles, comma-separated ``COLUMN=ROLE`` pairs (the CLI's ``--role``)
    roles: str | None = None


def _columns(field: str | None) -> tuple[str, ...] | None:
    """A comma-separated column list of the form (None when the field was not sent)."""
    if field is None:
        return None
    return tuple(c.strip() for c in field.split(",") if c.strip())


def _safe_filename(filename: str) -> str:
    # Browsers send a bare file name; a path here comes from a crafted request.
    if any(c in filename for c in "/\\\x00") or filename in {".", ".."}:
        raise InvalidInputError(f"file name {filename!r}: send a plain file name without folders")
    # The uploaded name is only a label: keep its safe characters, so it can never steer
    # where the file is written.
    base = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    base = base.lstrip(".") or "upload.csv"
    suffix = Path(base).suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInputError(
            f"file {filename!r}: upload a .csv, .tsv or .parquet file (got {suffix or 'no suffix'})"
        )
    return base[:200]


class DatasetController(Controller):
    """``/api/projects/{slug}/datasets``"""

    path = "/api/projects/{slug:str}/datasets"
    tags = ("datasets",)

    @post("/", status_code=HTTP_201_CREATED)
    async def upload(
        self,
        slug: str,
        data: Annotated[DatasetUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
        services: Services,
    ) -> DatasetVersion:
        """Add a dataset version from an uploaded file (same bytes: the same version).

        A failed upload leaves nothing behind: no version, no file.
        """
        try:
            refuse_nul_fields(data)
            filename = _safe_filename(data.file.filename or "upload.csv")
            with scratch(services.settings) as staging:
                path = staging / filename
                await spool_upload(data.file, path, services.settings.max_upload_bytes)
                request = ingest.AddRequest(
                    project=slug,
                    name=data.name,
                    path=path,
                    target=data.target,
                    task=data.task,
                    split=SplitRequest(
                        strategy=data.split,
                        test_size=data.test_size,
                        seed=data.seed,
                        time_column=data.time_column,
                        group_column=data.group_column,
                    ),
                    source=data.source or f"upload:{data.file.filename}",
                    notes=data.notes,
                    exclude=_columns(data.exclude) or (),
                    features=_columns(data.features),
                    roles=parse_roles(_columns(data.roles) or (), "roles"),
                )
                try:
                    result = await ingest.add_dataset(
                        services.db, services.settings, services.registry.task_types, request
                    )
                except ModelLabError as error:
                    # The user sent a file, not a path on this server: name it as they did.
                    error.message = error.message.replace(str(path), filename)
                    raise
        finally:
            await data.file.close()
        return result.version

    @get("/")
    async def list_versions(self, slug: str, services: Services) -> list[DatasetVersion]:
        """Every version of every dataset of the project."""
        return await ingest.list_datasets(services.db, slug)

    @get("/{name:str}")
    async def latest_version(self, slug: str, name: str, services: Services) -> DatasetVersion:
        """The newest version of a dataset: schema, profile, split, provenance, notes."""
        return await ingest.get_dataset(services.db, f"{slug}/{name}")

    @get("/{name:str}/versions/{version:int}")
    async def get_version(
        self, slug: str, name: str, version: int, services: Services
    ) -> DatasetVersion:
        """One version of a dataset."""
        return await ingest.get_dataset(services.db, f"{slug}/{name}@{version}")

    @get("/{name:str}/diff")
    async def diff_versions(
        self, slug: str, name: str, services: Services, before: int, after: int
    ) -> SchemaDiff:
        """How the schema changed from version ``before`` to version ``after``."""
        return await ingest.diff_versions(services.db, slug, name, before, after)
