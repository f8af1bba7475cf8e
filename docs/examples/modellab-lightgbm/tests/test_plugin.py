"""modellab-lightgbm keeps every contract of ModelLab's plugin test kit.

The kit (``modellab.testing``, installed with ModelLab) comes in through its pytest11
entry point; these tests name the plugin under test and the installed plugin that owns
the template it adds a model to. Run them where the plugin is installed:
``python -m pytest`` in this folder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from modellab.demo import demo_file
from modellab.tasks import TARGET
from modellab.testing.check import ContractReport
from modellab.testing.contracts import check_config_type, check_round_trip, check_slicer
from modellab.testing.runs import FinishedRun

import modellab_lightgbm.plugin
from modellab_lightgbm.config import LightGBMConfig
from modellab_lightgbm.plugin import ANY_MISSING, LIGHTGBM


@pytest.fixture
def modellab_plugin() -> ModuleType:
    return modellab_lightgbm.plugin


@pytest.fixture
def modellab_plugins_beside() -> Sequence[str]:
    return ["classification"]  # owns the tabular-classification template


@pytest.fixture
def penguins() -> Path:
    """The penguins that ship with ModelLab (344 rows, a few with missing features)."""
    return demo_file("penguins.csv")


def test_the_plugin_keeps_every_contract(
    modellab_contract: Callable[..., ContractReport], penguins: Path
) -> None:
    # Fit, save, load back and predict the same; slice; run end to end twice with the
    # same seed for byte-identical reports that follow the EvalHarness contract.
    report = modellab_contract(data=penguins, target="sex", n_bootstrap=20)
    assert report.variants == ("tabular-classification/lightgbm",)
    assert report.slicers == ("any_missing",)
    assert [r.status for r in report.runs] == ["succeeded", "succeeded"]
    run: FinishedRun = report.runs[0]
    assert run.metrics["headline"]["accuracy"]["value"] > 0.7
    assert (run.model_dir / "model.txt").is_file()
    assert "pandas_categorical" in (run.model_dir / "model.txt").read_text()


def test_the_config_builds_with_bounds_on_every_number() -> None:
    check_config_type(LightGBMConfig)
    assert LightGBMConfig().deterministic and LightGBMConfig().n_jobs == 1


def small_frame(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    size = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n).astype(object)
    colour[::17] = None
    label = np.where(size + (colour == "red") > 0.3, "big", "small")
    return pd.DataFrame({"size": size, "colour": colour, TARGET: label})


def test_the_same_seed_fits_the_same_model(tmp_path: Path) -> None:
    frame = small_frame()
    texts = []
    for attempt in ("a", "b"):
        model = check_round_trip(LIGHTGBM, frame, frame.drop(columns=[TARGET]), tmp_path / attempt)
        texts.append((tmp_path / attempt / "model.txt").read_bytes())
        assert list(model.classes) == ["big", "small"]  # type: ignore[attr-defined]
    assert texts[0] == texts[1]


def test_any_missing_splits_rows_with_a_gap_from_complete_rows() -> None:
    frame = pd.DataFrame({"a": [1.0, None, 3.0, 4.0], "b": ["x", "y", None, "z"]})
    slices = check_slicer(ANY_MISSING, 4, frame=frame, y_true=np.array(["p", "q", "p", "q"]))
    masks = {s.name: s.mask.tolist() for s in slices}
    assert masks == {
        "any_missing:yes": [False, True, True, False],
        "any_missing:no": [True, False, False, True],
    }
