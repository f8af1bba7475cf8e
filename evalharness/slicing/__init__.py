"""Fixed slice families and the confirmed weak-slice search."""

from __future__ import annotations

from evalharness.slicing.multiple_testing import benjamini_hochberg
from evalharness.slicing.search import search_weak_slices

__all__ = ["benjamini_hochberg", "search_weak_slices"]
