"""The pytest plugin of the kit (entry point ``pytest11``: ``modellab``).

Every fixture is opt-in and named ``modellab_*``: a test suite that requests none (the
repository's own) is unchanged. A plugin's tests name the plugin under test by
overriding :func:`modellab_plugin` (and :func:`modellab_plugins_beside` for the
installed plugins it builds on), then request what they need::

    @pytest.fixture
    def modellab_plugin():
        return my_task_plugin.plugin

    def test_contract(modellab_contract):
        modellab_contract(data="tests/data.csv", target="y")
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    # Imported in the fixtures: pytest loads this module in every session, including
    # those that use no fixture of it, and must not pay for ModelLab's imports there.
    from modellab.plugins import Registry
    from modellab.testing.check import ContractReport
    from modellab.testing.home import ModelLabHome
    from modellab.testing.runs import FinishedRun
    from modellab.testing.subject import PluginUnderTest


@pytest.fixture
def modellab_plugin() -> object:
    """The plugin under test: override it to return its module (or any object with hook
    implementations; only a module reaches training processes)."""
    pytest.fail(
        "the plugin test kit needs the plugin under test: define a fixture "
        "`modellab_plugin` returning its module (or its import name)",
        pytrace=False,
    )


@pytest.fixture
def modellab_plugins_beside() -> Sequence[str]:
    """Installed plugins (entry-point or distribution names) loaded beside the plugin
    under test, e.g. the one owning a template it adds a model to. Default: none."""
    return ()


@pytest.fixture
def modellab_plugin_under_test(
    modellab_plugin: object, modellab_plugins_beside: Sequence[str]
) -> PluginUnderTest:
    """The plugin under test as the kit sees it: its name, module and entry point."""
    from modellab.testing.subject import PluginUnderTest

    return PluginUnderTest.of(modellab_plugin, modellab_plugins_beside)


@pytest.fixture
def modellab_registry(modellab_plugin_under_test: PluginUnderTest) -> Registry:
    """A validated registry of the plugin under test and the plugins beside it only."""
    return modellab_plugin_under_test.registry()


@pytest.fixture
def modellab_home(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    modellab_plugin_under_test: PluginUnderTest,
) -> ModelLabHome:
    """A throwaway ModelLab home (own MODELLAB_HOME, artifact root and SQLite database)
    with project ``p``; the environment is set for the test, so the CLI and training
    processes use the home and load the plugin under test."""
    from modellab.testing.home import ModelLabHome

    home = ModelLabHome.create(tmp_path / "modellab", modellab_plugin_under_test)
    for key, value in home.env.items():
        monkeypatch.setenv(key, value)
    for key in home.unset:
        monkeypatch.delenv(key, raising=False)
    return home


@pytest.fixture
def modellab_run(modellab_home: ModelLabHome) -> functools.partial[FinishedRun]:
    """``modellab_run(template, model, data=..., target=..., task=None, config=None,
    seed=0)``: train and evaluate in the home; the test fails with the run's reason
    unless it succeeded (see :func:`modellab.testing.runs.run_model`)."""
    from modellab.testing.runs import run_model

    return functools.partial(run_model, modellab_home)


@pytest.fixture
def modellab_contract(modellab_home: ModelLabHome) -> functools.partial[ContractReport]:
    """``modellab_contract(data=..., target=..., task=None, group_column=None, twice=None)``:
    check every hook of the plugin under test on a dataset (see
    :func:`modellab.testing.check.check_plugin`)."""
    from modellab.testing.check import check_plugin

    return functools.partial(check_plugin, modellab_home)
