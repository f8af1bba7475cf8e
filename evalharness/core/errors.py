"""Exceptions raised by EvalHarness; each carries a message a user can act on."""

from __future__ import annotations


class EvalHarnessError(Exception):
    """Base class of every error EvalHarness raises on purpose."""


class LeakageError(EvalHarnessError):
    """A train/test leakage check failed; ``check`` names the check."""

    def __init__(self, check: str, message: str) -> None:
        self.check = check
        self.message = message
        super().__init__(f"[{check}] {message}")


class ContractError(EvalHarnessError):
    """An output folder or an input breaks the EvalHarness contract."""


class BaselineMismatchError(EvalHarnessError):
    """The baseline was not run on the same dataset version and split as the candidate."""
