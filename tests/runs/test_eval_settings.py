"""A run's evaluation settings: a validated msgspec Struct, stored sparse, passed typed.

``--eval KEY=VALUE`` (the API's ``eval``) becomes :class:`EvalSettings`; only the settings
given are stored, hashed into the run key and repeated in the reproduce command, so a run
without any keeps the key it had before settings existed.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from evalharness import EvalConfig
from modellab.errors import InvalidInputError
from modellab.runs.options import (
    EvalSettings,
    RunOptions,
    eval_defaults,
    parse_eval_settings,
    setting_descriptions,
)
from tests.conftest import Env

REPO = Path(__file__).resolve().parents[2]
PENGUINS = REPO / "core" / "demo_data" / "penguins.csv"


def test_every_setting_has_a_description_and_an_evalharness_default() -> None:
    words = setting_descriptions()
    assert list(words) == list(EvalSettings.__struct_fields__)
    assert all(len(text) > 20 for text in words.values()), words
    defaults = eval_defaults()
    assert defaults["duplicate_excess_error"] == 0.05 and defaults["min_slice_size"] is None
    assert defaults["key_feature"] is None


def test_only_the_settings_given_are_stored() -> None:
    assert RunOptions().as_dict() == {"eval": {}, "exclude": [], "features": None}
    settings = parse_eval_settings({"min_slice_size": 12.0, "key_feature": "island"})
    assert settings.given() == {"key_feature": "island", "min_slice_size": 12}
    stored = msgspec.json.encode(RunOptions(eval=settings).as_dict())
    assert (
        stored
        == b'{"eval":{"key_feature":"island","min_slice_size":12},"exclude":[],"features":null}'
    )


def test_a_setting_at_its_default_is_not_stored() -> None:
    """A run that spells out EvalHarness' default computes what one without it does, so
    both share a run key."""
    defaults = eval_defaults()
    given = {"n_bootstrap": 1000, "duplicate_excess_error": defaults["duplicate_excess_error"]}
    assert parse_eval_settings(given).given() == {}
    assert parse_eval_settings({"n_bootstrap": 200}).given() == {"n_bootstrap": 200}
    assert parse_eval_settings({"ranking_cutoffs": "1,5,10,20,100"}).given() == {}


def test_ranking_settings_read_as_the_command_line_writes_them() -> None:
    settings = parse_eval_settings(
        {"ranking_cutoffs": "1, 3,10", "ranking_gain": "exponential", "randomization_n": "500"}
    )
    assert settings.given() == {
        "randomization_n": 500,
        "ranking_cutoffs": [1, 3, 10],
        "ranking_gain": "exponential",
    }
    # A JSON list from the API reads the same, and EvalHarness keeps it as its tuple.
    assert parse_eval_settings({"ranking_cutoffs": [1, 3, 10]}) == parse_eval_settings(
        {"ranking_cutoffs": "1,3,10"}
    )
    assert EvalConfig(**settings.given()).ranking_cutoffs == (1, 3, 10)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"nope": 1}, "unknown evaluation setting 'nope'; settings: n_bootstrap"),
        ({"duplicate_p_value": 0}, "duplicate_p_value=0: must be a number > 0 and <= 1"),
        ({"leak_min_r2": 1.5}, "leak_min_r2=1.5: must be a number <= 1"),
        ({"shift_min_refit_rows": 1}, "shift_min_refit_rows=1: must be a whole number >= 2"),
        ({"key_feature": 3}, "key_feature=3: must be a column name"),
        ({"key_feature": ""}, "key_feature='': must be a column name"),
        ({"n_bootstrap": 5}, "n_bootstrap=5: must be a whole number >= 10 and <= 100000"),
        (
            {"ranking_cutoffs": "10,5"},
            "ranking_cutoffs=['10', '5']: must be whole numbers >= 1 in ascending order",
        ),
        ({"ranking_cutoffs": "0,5"}, "must be whole numbers >= 1 in ascending order"),
        ({"ranking_cutoffs": "a"}, "must be whole numbers >= 1 in ascending order"),
        ({"ranking_gain": "log"}, "ranking_gain='log': must be one of exponential, linear"),
        ({"randomization_n": 5}, "randomization_n=5: must be a whole number >= 100"),
    ],
)
def test_a_bad_setting_is_named_with_what_it_must_be(raw: dict[str, object], words: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_eval_settings(raw)
    assert words in str(caught.value)


def test_the_key_feature_setting_chooses_the_sliced_column(ml: Env) -> None:
    ml.run("dataset", "add", "-p", "p", "-n", "penguins", "-t", "species", str(PENGUINS))
    plain = ml.train("penguins", "logistic_regression")
    chosen = ml.train("penguins", "logistic_regression", "--eval", "key_feature=sex")
    assert plain["status"] == chosen["status"] == "succeeded", chosen.get("status_reason")

    def families(run: dict[str, object]) -> dict[str, str]:
        path = Path(str(run["artifact_dir"])) / "eval" / "slices.json"
        return dict(json.loads(path.read_text())["families"])

    keyed = {k: v for k, v in families(chosen).items() if k.startswith("key_feature:")}
    assert list(keyed) == ["key_feature:sex"] and "given by the caller" in keyed["key_feature:sex"]
    assert "key_feature:sex" not in families(plain)  # EvalHarness' rule picks island
    run_json = json.loads((Path(chosen["artifact_dir"]) / "run.json").read_text())
    assert "--eval 'key_feature=\"sex\"'" in run_json["reproduce"]

    def key(run: dict[str, object]) -> str:
        path = Path(str(run["artifact_dir"])) / "eval" / "eval_summary.json"
        return str(json.loads(path.read_text())["run"]["run_id"])  # the run key

    assert key(plain) != key(chosen)


def test_bootstrap_replicates_are_an_evaluation_setting(ml: Env) -> None:
    """``--n-bootstrap`` is the ``n_bootstrap`` setting: stored in the run's options, part
    of its run key, repeated in its reproduce command and used by its report."""
    ml.run("dataset", "add", "-p", "p", "-n", "penguins", "-t", "species", str(PENGUINS))
    flag = ml.train("penguins", "most_frequent", n_bootstrap=30)
    setting = ml.train("penguins", "most_frequent", "--eval", "n_bootstrap=30", n_bootstrap=30)
    other = ml.train("penguins", "most_frequent", n_bootstrap=40)
    assert flag["status"] == setting["status"] == other["status"] == "succeeded"
    folder = Path(flag["artifact_dir"])
    run_json = json.loads((folder / "run.json").read_text())
    assert run_json["run"]["options"]["eval"] == {"n_bootstrap": 30}
    assert "n_bootstrap" not in run_json["run"]["environment"]
    assert "--n-bootstrap 30" in run_json["reproduce"]
    intervals = json.loads((folder / "eval" / "confidence_intervals.json").read_text())
    assert intervals["n_bootstrap"] == 30

    def key(run: dict[str, object]) -> str:
        path = Path(str(run["artifact_dir"])) / "run.json"
        return str(json.loads(path.read_text())["run"]["run_key"])

    assert key(flag) == key(setting) != key(other)
    refused = ml.run(
        "run", "-p", "p", "-d", "penguins", "-t", "tabular-classification", "-m",
        "most_frequent", "--n-bootstrap", "30", "--eval", "n_bootstrap=40", ok=False,
    )  # fmt: skip
    assert refused.exit_code != 0
    assert "--n-bootstrap 30 and --eval n_bootstrap=40 disagree" in refused.output
