"""Slice families (built-in and the caller's) and the confirmed weak-slice search."""

from __future__ import annotations

from evalharness.slicing.families import SliceFamily
from evalharness.slicing.fixed import SliceDef
from evalharness.slicing.multiple_testing import benjamini_hochberg
from evalharness.slicing.search import search_weak_slices

__all__ = ["SliceDef", "SliceFamily", "benjamini_hochberg", "search_weak_slices"]
