"""Fixtures shared by the run tests."""

from __future__ import annotations

import pytest

from tests.conftest import REPO, Env

PENGUINS = REPO / "core" / "demo_data" / "penguins.csv"


@pytest.fixture
def penguins_sex(ml: Env) -> Env:
    """Project ``p`` with dataset ``sex``: Palmer penguins, classifying sex, stratified."""
    ml.run(
        "dataset",
        "add",
        "-p",
        "p",
        "-n",
        "sex",
        "-t",
        "sex",
        "--split",
        "stratified",
        str(PENGUINS),
    )
    return ml
