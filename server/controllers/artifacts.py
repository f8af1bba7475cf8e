"""A run's files: list, download (path-safe), the eval report as JSON, the repro pack.

A requested path is a relative path inside the run's folder and nothing else: encoded
dots or slashes, backslashes, absolute paths, ``#``, ``;``, NUL, hidden (temporary)
names and symlinks that lead out of the folder all answer 404, as a missing file does.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import File
from litestar.status_codes import HTTP_200_OK

from modellab.domain import Run
from modellab.errors import InvalidInputError, NotFoundError
from modellab.ids import uuid7
from modellab.repro import export_pack
from modellab.runs import service, tracking
from modellab.runs.artifacts import is_plain_relative, run_dir, sha256_of, visible_files
from modellab.runs.latency import read_latency
from modellab.server.controllers.tracking import EvalUpload
from modellab.server.schemas import ArtifactFile, Comparison, EvalReportOut
from modellab.server.services import Services
from modellab.server.uploads import scratch, spool_upload

# Shown in the browser: images only, under a policy that lets them run nothing.
INLINE = {".png": "image/png", ".svg": "image/svg+xml"}
PLOT_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
MEDIA = {
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
}
_ENCODED_TRICKS = re.compile(r"%(2e|2f|5c|00|23|3b|25)", re.IGNORECASE)


def resolve_artifact(folder: Path, rel: str, raw_path: bytes = b"") -> Path:
    """The file ``rel`` names inside ``folder``; NotFoundError for anything else."""
    missing = NotFoundError(f"no artifact {rel!r} in this run")
    raw = raw_path.decode("latin-1")
    if _ENCODED_TRICKS.search(raw) or not is_plain_relative(rel):
        raise missing
    root = folder.resolve()
    candidate = (folder / rel).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        raise missing
    return candidate


#: files of a run folder the API never serves: ``code.diff`` is the uncommitted change of
#: the working tree a CLI run started in, the machine owner's and nobody else's
PRIVATE = frozenset({"code.diff"})


class ArtifactController(Controller):
    """``/api/runs/{run_id}/artifacts``, ``/eval``, ``/repro``"""

    path = "/api/runs/{run_id:str}"
    tags = ("artifacts",)

    @get("/artifacts")
    async def list_artifacts(self, run_id: str, services: Services) -> list[ArtifactFile]:
        """Every file of the run's folder, with its size and sha256."""
        run = await service.get_run(services.db, run_id)
        folder = run_dir(services.settings.artifact_root, run.project, run.id)
        if not folder.is_dir():
            return []
        return [
            ArtifactFile(rel, p.stat().st_size, sha256_of(p))
            for rel, p in visible_files(folder)
            if not p.is_symlink() and rel not in PRIVATE
        ]

    @get("/artifacts/{file_path:path}")
    async def download(
        self, run_id: str, file_path: str, request: Request[Any, Any, Any], services: Services
    ) -> File:
        """One file: plots inline under a strict CSP, everything else as an attachment."""
        run = await service.get_run(services.db, run_id)
        folder = run_dir(services.settings.artifact_root, run.project, run.id)
        raw = request.scope.get("raw_path") or b""
        if file_path.lstrip("/") in PRIVATE:
            raise NotFoundError(f"run {run.id} has no file {file_path.lstrip('/')!r}")
        path = resolve_artifact(folder, file_path.lstrip("/"), raw)
        suffix = path.suffix.lower()
        headers = {"X-Content-Type-Options": "nosniff"}
        if suffix in INLINE:
            headers["Content-Security-Policy"] = PLOT_CSP
            return File(
                path,
                filename=path.name,
                media_type=INLINE[suffix],
                content_disposition_type="inline",
                headers=headers,
            )
        return File(
            path,
            filename=path.name,
            media_type=MEDIA.get(suffix, "application/octet-stream"),
            content_disposition_type="attachment",
            headers=headers,
        )

    @get("/eval")
    async def eval_report(self, run_id: str, services: Services) -> EvalReportOut:
        """The EvalHarness contract files as JSON (404 before the run has a report), and the
        run's inference latency from latency.json beside the folder."""
        run = await service.get_run(services.db, run_id)
        folder = run_dir(services.settings.artifact_root, run.project, run.id) / "eval"
        if not (folder / "eval_summary.json").is_file():
            raise NotFoundError(f"run {run.id} has no eval report (status {run.status.value})")
        files = {p.name: msgspec.json.decode(p.read_bytes()) for p in sorted(folder.glob("*.json"))}
        takeaway = folder / "takeaway.txt"
        plots = (
            [rel for rel, _ in visible_files(folder / "plots")]
            if (folder / "plots").is_dir()
            else []
        )
        return EvalReportOut(
            run_id=run.id,
            files=files,
            takeaway=takeaway.read_text() if takeaway.is_file() else "",
            plots=[f"eval/plots/{p}" for p in plots],
            latency=read_latency(folder.parent, tracked=run.kind == tracking.TRACKED),
        )

    @post("/eval", status_code=HTTP_200_OK)
    async def attach_eval(
        self,
        run_id: str,
        data: Annotated[EvalUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
        services: Services,
    ) -> Run:
        """Attach an EvalHarness folder; 400 listing every contract violation."""
        with scratch(services.settings) as tmp:
            archive = tmp / "upload"
            await spool_upload(data.file, archive, services.settings.max_upload_bytes)
            return await tracking.attach_eval(services.db, services.settings, run_id, archive)

    @get("/repro")
    async def repro_pack(self, run_id: str, services: Services) -> File:
        """The run's reproducibility pack, built on first request into a cache.

        The cache is outside the run folder: a read leaves the run as it was.
        """
        run = await service.get_run(services.db, run_id)
        folder = services.settings.artifact_root / ".cache" / "repro"
        pack = folder / f"{run.id}.tar.gz"
        if not pack.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            building = folder / f".{run.id}.{uuid7()}.tmp"
            try:
                await export_pack(
                    services.db, services.settings, run.id, building, include_diff=False
                )
                building.replace(pack)  # concurrent builds write the same bytes
            finally:
                building.unlink(missing_ok=True)
        return File(
            pack,
            filename=pack.name,
            media_type="application/gzip",
            content_disposition_type="attachment",
            headers={"X-Content-Type-Options": "nosniff"},
        )


class CompareController(Controller):
    """``/api/compare`` and its side-by-side plots.

    A read writes nothing into a run folder: the comparison is computed in memory, and
    each plot is drawn once into a cache outside the run folders.
    """

    path = "/api/compare"
    tags = ("compare",)

    @get("/")
    async def compare(self, a: str, b: str, services: Services) -> Comparison:
        """Compare run ``a`` (before) with run ``b`` (after): what a person reads first.

        Each of ``plots`` (``plots/NAME.png``) is served at ``/api/compare/plots/NAME.png``
        with the same ``a`` and ``b``. When a run has no eval report (a tracked run that
        logged only metrics and params), ``basis`` is "logged": the newest logged metrics,
        params and tags are compared, the report-only sections are null and
        ``basis_reason`` says why.
        """
        from modellab.compare import build_comparison

        if a == b:
            raise InvalidInputError("compare needs two different runs")
        found = await build_comparison(
            services.db, services.settings, services.registry.task_types, a, b
        )
        return msgspec.convert(found.doc, Comparison)

    @get("/plots/{name:str}")
    async def plot(self, a: str, b: str, name: str, services: Services) -> File:
        """One side-by-side plot of the comparison (A left, B right), inline as PNG."""
        from modellab.compare import cached_plot, comparable_sides

        if a == b:
            raise InvalidInputError("compare needs two different runs")
        sa, sb = await comparable_sides(services.db, services.settings, a, b)
        # Drawing takes a moment: off the event loop, so other requests go on.
        path = await asyncio.to_thread(cached_plot, services.settings, sa, sb, name)
        return File(
            path,
            filename=name,
            media_type=INLINE[".png"],
            content_disposition_type="inline",
            headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": PLOT_CSP},
        )
