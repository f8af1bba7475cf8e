"""Seeded corruptions and the stress-test runner."""

from __future__ import annotations
