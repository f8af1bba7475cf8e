"""Errors as RFC 9457 problem documents (``application/problem+json``).

Every error answer has a stable ``type`` (a URI naming the kind of problem, one per
error class), a ``title``, the HTTP ``status`` and a ``detail`` a person can act on.
Unexpected errors answer 500 with a generic detail: never a traceback.
"""

from __future__ import annotations

import functools
import logging
import traceback
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.handlers import HTTPRouteHandler
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DBAPIError

from modellab.diskfull import is_disk_full
from modellab.errors import ContractViolationError, ModelLabError, RateLimitedError
from modellab.redact import redact_paths, server_roots
from modellab.server.schemas import JSON_BODY_LIMIT

log = logging.getLogger("modellab.server")

PROBLEM_BASE = "https://modellab.dev/problems/"
MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    429: "Too many requests",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
    507: "Insufficient storage",
}
_KINDS = {
    400: "invalid-input",
    401: "not-authenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    429: "too-many-requests",
    500: "internal-error",
    507: "disk-full",
}


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    #: per-field complaints of a request that failed validation
    errors: list[dict[str, Any]] | None = None


def problem_response(status: int, kind: str, detail: str, **extra: Any) -> Response[Problem]:
    """A problem+json response of ``status`` with a ``type`` ending in ``kind``."""
    problem = Problem(
        type=PROBLEM_BASE + kind,
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        **extra,
    )
    return Response(problem, status_code=status, media_type=MEDIA_TYPE)


def modellab_error(_: Request[Any, Any, Any], exc: ModelLabError) -> Response[Problem]:
    """Errors the services raise carry their own status and kind."""
    if isinstance(exc, ContractViolationError):
        errors = [{"message": v} for v in exc.violations]
        return problem_response(exc.status_code, exc.kind, exc.message, errors=errors)
    if isinstance(exc, RateLimitedError):
        response = problem_response(exc.status_code, exc.kind, exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return problem_response(exc.status_code, exc.kind, exc.message)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    """Litestar's own errors: bad parameters, unknown routes, bodies over the limit."""
    status = exc.status_code
    if isinstance(exc, ValidationException):
        extra = exc.extra if isinstance(exc.extra, list) else None
        fields = ", ".join(
            f"{e.get('key', '?')}: {e.get('message', 'invalid')}"
            for e in (extra or [])
            if isinstance(e, dict)
        )
        detail = f"invalid request: {fields}" if fields else f"invalid request: {exc.detail}"
        return problem_response(400, "invalid-input", detail, errors=extra)
    if isinstance(exc, NotFoundException):
        return problem_response(404, "not-found", "no such resource; see /schema for the API")
    if isinstance(exc.__cause__, OSError) or status == HTTP_500_INTERNAL_SERVER_ERROR:
        # Litestar's file responses raise these with the file's server path in the
        # detail ("failed to open /srv/... due to missing permissions", "... does not
        # exist"): the server's fault, not the client's, and nothing it may read.
        return unexpected_error(request, exc)
    if isinstance(exc, NotAuthorizedException | PermissionDeniedException):
        return problem_response(status, _KINDS[status], exc.detail)
    if status == 413:
        handler = request.scope.get("route_handler")
        limit = (
            handler.resolve_request_max_body_size()
            if isinstance(handler, HTTPRouteHandler)
            else None
        )
        if limit == JSON_BODY_LIMIT:
            detail = f"the JSON body is over the {JSON_BODY_LIMIT // (1024 * 1024)} MB limit"
        else:
            detail = "the request body is over the upload limit (MODELLAB_MAX_UPLOAD_MB)"
        return problem_response(413, "too-large", detail)
    return problem_response(status, _KINDS.get(status, "http-error"), str(exc.detail))


def unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    """A bug: log it with its traceback, answer without one."""
    log.exception("unexpected error answering %s %s", request.method, request.url.path)
    return problem_response(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal-error",
        "the server failed to answer this request; the error is in the server log",
    )


def too_deep(request: Request[Any, Any, Any], exc: RecursionError) -> Response[Problem]:
    """A request body nested deeper than the decoder goes is bad input, not a bug."""
    # msgspec says so in its message; any other RecursionError is a bug in the server.
    if "deserializing" not in str(exc):
        return unexpected_error(request, exc)
    return problem_response(400, "invalid-input", "invalid request: the body is nested too deeply")


def not_utf8(request: Request[Any, Any, Any], exc: UnicodeDecodeError) -> Response[Problem]:
    """A form field that is not UTF-8 is bad input; any other decoding error is a bug."""
    # Litestar decodes multipart text fields while it reads the form; the JSON bodies are
    # checked before that, in input_guard.
    frames = traceback.extract_tb(exc.__traceback__)
    if not any(
        f.filename.endswith(("litestar/_multipart.py", "multipart/multipart.py")) for f in frames
    ):
        return unexpected_error(request, exc)
    return problem_response(
        400,
        "invalid-input",
        f"invalid request: a form field is not UTF-8 text (byte 0x{exc.object[exc.start]:02x})",
    )


#: PostgreSQL's "character not in repertoire" and "untranslatable character": text the
#: database cannot store (a NUL in a multipart field, say) is the client's mistake.
_BAD_TEXT_SQLSTATES = {"22021", "22P05"}


def database_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[Problem]:
    """Text the database cannot store is bad input; a full disk is 507; anything else
    is a bug."""
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if is_disk_full(exc):
        return disk_full(request, exc)
    if state not in _BAD_TEXT_SQLSTATES:
        return unexpected_error(request, exc)
    return problem_response(
        400, "invalid-input", "invalid request: text contains a character that cannot be stored"
    )


def disk_full(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    """A full disk (or quota) that no service named itself is still no bug: 507."""
    if not is_disk_full(exc):
        return unexpected_error(request, exc)
    log.warning("the disk is full answering %s %s: %s", request.method, request.url.path, exc)
    return problem_response(
        507, "disk-full", "the disk is full; free some space on the server and try again"
    )


EXCEPTION_HANDLERS: dict[type[Exception], Any] = {
    DBAPIError: database_error,
    OSError: disk_full,
    ModelLabError: modellab_error,
    HTTPException: http_error,
    RecursionError: too_deep,
    UnicodeDecodeError: not_utf8,
    Exception: unexpected_error,
}


def without_server_paths(handler: Any) -> Any:
    """``handler``, its problem's detail and errors freed of the server's own paths.

    Whatever raised the error, a path under the artifact root, MODELLAB_HOME, the temp
    folder or the home folder never reaches the client (see :mod:`modellab.redact`).
    """

    @functools.wraps(handler)
    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        response: Response[Any] = handler(request, exc)
        problem = response.content
        if isinstance(problem, Problem):
            services = request.app.state.get("services")
            roots = server_roots(getattr(services, "settings", None))
            errors = problem.errors and [
                {k: redact_paths(v, roots) if isinstance(v, str) else v for k, v in e.items()}
                if isinstance(e, dict)
                else e
                for e in problem.errors
            ]
            response.content = msgspec.structs.replace(
                problem, detail=redact_paths(problem.detail, roots), errors=errors
            )
        return response

    return handle


# Every handler, the ones above and any added later, answers through the scrubber.
EXCEPTION_HANDLERS = {kind: without_server_paths(h) for kind, h in EXCEPTION_HANDLERS.items()}
