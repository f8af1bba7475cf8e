"""Stable failure-example selection and the six failure-mode categories."""

from __future__ import annotations
