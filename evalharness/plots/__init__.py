"""Deterministic plots (Agg canvas, fixed style and metadata)."""

from __future__ import annotations
