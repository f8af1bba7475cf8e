"""Errors that carry their HTTP status and CLI exit code.

Every error a user can cause is a :class:`ModelLabError`: the CLI prints its message on
one line and exits with ``exit_code``; the API answers with ``status_code``.
"""

from __future__ import annotations


class ModelLabError(Exception):
    """Base of every error ModelLab reports to a user instead of a traceback."""

    status_code: int = 400
    exit_code: int = 2
    #: stable machine-readable kind, used as the problem ``type`` by the API
    kind: str = "modellab-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInputError(ModelLabError):
    """The request or file is malformed: it names the file, line, column or field."""

    kind = "invalid-input"


class NotFoundError(ModelLabError):
    """The named project, dataset version or run does not exist."""

    status_code = 404
    kind = "not-found"


class ConflictError(ModelLabError):
    """The request clashes with something already stored."""

    status_code = 409
    kind = "conflict"


class TooLargeError(ModelLabError):
    """An upload is over the configured size limit."""

    status_code = 413
    kind = "too-large"


class DiskFullError(ModelLabError):
    """The disk (or quota) holding ModelLab's files is full; nothing was kept."""

    status_code = 507
    # Not the user's input: the same request succeeds once there is room.
    exit_code = 3
    kind = "disk-full"


class PluginError(ModelLabError):
    """A plugin failed to load or broke a hook contract."""

    status_code = 500
    exit_code = 3
    kind = "plugin-error"


class ContractViolationError(InvalidInputError):
    """An uploaded EvalHarness folder does not follow the output contract."""

    kind = "eval-contract-violation"

    def __init__(self, message: str, violations: list[str]) -> None:
        super().__init__(message)
        self.violations = violations


class NotAuthenticatedError(ModelLabError):
    """The request carries no valid session or token, or a sign-in link was refused."""

    status_code = 401
    kind = "not-authenticated"


class ForbiddenError(ModelLabError):
    """The user sees the project but their role or token does not allow this change."""

    status_code = 403
    kind = "forbidden"


class RateLimitedError(ModelLabError):
    """Too many requests from one email or client address; retry after ``retry_after`` s."""

    status_code = 429
    kind = "too-many-requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
