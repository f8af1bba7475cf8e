"""stress."""

from __future__ import annotations
