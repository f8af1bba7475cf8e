"""Uploaded files: copied to disk a chunk at a time, refused past the size limit."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

from litestar.datastructures import UploadFile

from modellab.diskfull import disk_full_as
from modellab.errors import TooLargeError
from modellab.settings import Settings

CHUNK = 1024 * 1024


@contextmanager
def scratch(settings: Settings) -> Iterator[Path]:
    """A private folder under ``MODELLAB_HOME/uploads``, removed when the block ends."""
    root = settings.home / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        yield Path(tmp)


async def spool_upload(upload: UploadFile, target: Path, limit: int) -> None:
    """Copy the upload to ``target`` a chunk at a time, refusing it past ``limit`` bytes.

    :raises DiskFullError: the disk filled up; ``target`` is removed.
    """

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await upload.read(CHUNK):
            yield chunk

    await spool_stream(chunks(), target, limit, f"file {upload.filename or 'upload'!r}")


async def spool_stream(chunks: AsyncIterator[bytes], target: Path, limit: int, what: str) -> None:
    """Write a request body's ``chunks`` to ``target``, refusing it past ``limit`` bytes;
    ``what`` names the upload in errors. Nothing stays of a refused or cut upload.

    :raises DiskFullError: the disk filled up.
    """
    written = 0
    try:
        with disk_full_as(f"the uploaded {what}"), target.open("wb") as out:
            async for chunk in chunks:
                written += len(chunk)
                if written > limit:
                    raise TooLargeError(
                        f"{what} is over the {limit // (1024 * 1024)} MB upload limit "
                        "(MODELLAB_MAX_UPLOAD_MB)"
                    )
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
