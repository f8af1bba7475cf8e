"""Evaluators, inputs, errors, leakage checks and the report writer."""

from __future__ import annotations
