"""Run options: settings of a run that sit beside its model's config.

They change what a run computes (the columns its model sees, the thresholds of the
evaluation's rules), so they are part of the run key, ``config.json``, the reproduce
command and compare's config diff, like the model config.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from modellab.domain import DatasetVersion
from modellab.errors import InvalidInputError

Fraction = Annotated[float, Meta(gt=0, le=1)]


class EvalSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """The thresholds of the evaluation's rules a run may change (``--eval KEY=VALUE``,
    the API's ``eval``), validated like a model config.

    None, every field's default, leaves EvalHarness' own (``evalharness.EvalConfig``).
    Only the settings a run gives that differ from those are stored, hashed into its run
    key and repeated in its reproduce command: two runs that compute the same report
    share a key.
    """

    n_bootstrap: (
        Annotated[
            int,
            Meta(
                ge=10,
                le=100_000,
                description="bootstrap replicates behind every confidence interval "
                "(``--n-bootstrap``)",
            ),
        ]
        | None
    ) = None
    duplicate_excess_error: (
        Annotated[
            float,
            Meta(
                ge=0,
                lt=1,
                description="duplicate rule: fail when test rows repeat train records more "
                "often than train rows repeat each other (chance) by more than this share",
            ),
        ]
        | None
    ) = None
    duplicate_p_value: (
        Annotated[
            Fraction,
            Meta(
                description="duplicate rule: ... and a binomial test against chance gives p "
                "below this"
            ),
        ]
        | None
    ) = None
    leak_min_accuracy: (
        Annotated[
            Fraction,
            Meta(
                description="leak suspects: a column alone reaching this held-out accuracy is named"
            ),
        ]
        | None
    ) = None
    leak_min_balanced_accuracy: (
        Annotated[
            Fraction,
            Meta(description="leak suspects: ... and this balanced accuracy (classification)"),
        ]
        | None
    ) = None
    leak_min_r2: (
        Annotated[
            float,
            Meta(
                le=1,
                description="leak suspects: a column alone reaching this held-out R^2 is named",
            ),
        ]
        | None
    ) = None
    min_slice_size: (
        Annotated[
            int,
            Meta(
                ge=2,
                description="slices: fewest rows a slice needs to be measured (default: "
                "from the test size)",
            ),
        ]
        | None
    ) = None
    shift_min_refit_rows: (
        Annotated[
            int,
            Meta(ge=2, description="stress: fewest train rows a distribution-shift refit needs"),
        ]
        | None
    ) = None
    key_feature: (
        Annotated[
            str,
            Meta(
                min_length=1,
                description="slices: the feature column whose top categories "
                "(or quintiles) are sliced (default: EvalHarness' rule)",
            ),
        ]
        | None
    ) = None

    ranking_cutoffs: (
        Annotated[
            list[Annotated[int, Meta(ge=1)]],
            Meta(
                min_length=1,
                description="ranking: the K of every @K metric, ascending (1,5,10 on the "
                "command line)",
            ),
        ]
        | None
    ) = None
    ranking_gain: (
        Annotated[
            Literal["linear", "exponential"],
            Meta(
                description="ranking: NDCG's gain, the grade itself (linear, trec_eval's) "
                "or 2**grade - 1 (exponential)"
            ),
        ]
        | None
    ) = None
    randomization_n: (
        Annotated[
            int,
            Meta(
                ge=100,
                le=1_000_000,
                description="ranking: sign flips of the paired randomization test against "
                "the baseline",
            ),
        ]
        | None
    ) = None

    def given(self) -> dict[str, Any]:
        """The settings this run gives (the others are EvalHarness' defaults), by name."""
        return dict(sorted(msgspec.to_builtins(self).items()))


@functools.cache
def _setting_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each setting's value (its type, bounds and description)."""
    props = msgspec.json.schema(EvalSettings)["$defs"]["EvalSettings"]["properties"]
    # Each field is ``VALUE | None``: the first member of anyOf describes the value.
    return {name: props[name]["anyOf"][0] for name in EvalSettings.__struct_fields__}


def setting_descriptions() -> dict[str, str]:
    """Each :class:`EvalSettings` field and what it decides, in field order."""
    return {name: schema["description"] for name, schema in _setting_schemas().items()}


def _expected(name: str) -> str:
    """What a value of setting ``name`` must be, from its bounds: 'a number >= 0 and < 1'."""
    kind = _setting_schemas()[name]
    if "enum" in kind:
        return "one of " + ", ".join(kind["enum"])
    if kind.get("type") == "array":
        return "whole numbers >= 1 in ascending order, comma-separated"
    words = {"integer": "a whole number", "number": "a number", "string": "a column name"}
    bounds = [
        f"{sign} {kind[key]:g}"
        for key, sign in (
            ("minimum", ">="),
            ("exclusiveMinimum", ">"),
            ("maximum", "<="),
            ("exclusiveMaximum", "<"),
        )
        if key in kind
    ]
    return " ".join([words[kind["type"]], " and ".join(bounds)]).strip()


class RunOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a run takes beside its model config."""

    #: feature columns of the dataset version this run leaves out (``--exclude``)
    exclude: list[str] = msgspec.field(default_factory=list)
    #: the only feature columns this run uses (``--features``); None: the version's own
    features: list[str] | None = None
    #: the thresholds of the evaluation's rules this run changes (``--eval KEY=VALUE``)
    eval: EvalSettings = msgspec.field(default_factory=EvalSettings)

    def as_dict(self) -> dict[str, Any]:
        """The options as stored: JSON values, keys sorted, only the settings given."""
        out = msgspec.to_builtins(self)
        out["eval"] = self.eval.given()
        return dict(sorted(out.items()))


def eval_defaults() -> dict[str, Any]:
    """Each changeable EvalHarness setting's default (None: derived from the data)."""
    from evalharness import EvalConfig

    defaults = EvalConfig()
    return {name: getattr(defaults, name) for name in EvalSettings.__struct_fields__}


def parse_eval_settings(raw: Mapping[str, Any]) -> EvalSettings:
    """Requested or stored settings as :class:`EvalSettings`; a whole-number float (JSON's
    12.0) counts as the whole number.

    :raises InvalidInputError: naming the unknown setting (and the known ones), or the
        setting, its value and what it must be.
    """
    names = EvalSettings.__struct_fields__
    for key in sorted(raw):
        if key not in names:
            raise InvalidInputError(
                f"unknown evaluation setting {key!r}; settings: {', '.join(names)}"
            )
    raw = {k: _listed(v) if k in LIST_SETTINGS else v for k, v in raw.items()}
    cutoffs = raw.get("ranking_cutoffs")
    if isinstance(cutoffs, list) and _ascending_ints(cutoffs) is False:
        raise InvalidInputError(
            f"invalid evaluation setting ranking_cutoffs={cutoffs!r}: must be "
            f"{_expected('ranking_cutoffs')}"
        )
    try:
        # Lax: "0.1" from a form and 12.0 for a count convert; a bool never does.
        settings = msgspec.convert(dict(raw), EvalSettings, strict=False)
    except msgspec.ValidationError:
        pass
    else:
        given = settings.given()
        if not given:
            return settings  # no EvalHarness import for a run that changes nothing
        defaults = eval_defaults()
        same = {k: None for k, v in given.items() if v == _as_given(defaults[k])}
        return msgspec.structs.replace(settings, **same) if same else settings
    # Name the first bad setting (by name) rather than echo msgspec's path.
    for key, value in sorted(raw.items()):
        try:
            msgspec.convert({key: value}, EvalSettings, strict=False)
        except msgspec.ValidationError:
            raise InvalidInputError(
                f"invalid evaluation setting {key}={value!r}: must be {_expected(key)}"
            ) from None
    raise AssertionError("unreachable: every setting converts alone but not together")


#: settings whose value is a list: the command line writes it comma-separated
LIST_SETTINGS = ("ranking_cutoffs",)


def _listed(value: Any) -> Any:
    """``"1,5,10"`` as ``["1", "5", "10"]`` (lax conversion makes them numbers)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")]
    return value


def _ascending_ints(values: list[Any]) -> bool | None:
    """Whether whole numbers are strictly ascending (None: they are not all numbers)."""
    try:
        numbers = [int(v) for v in values]
    except (TypeError, ValueError):
        return None
    return all(a < b for a, b in itertools.pairwise(numbers))


def _as_given(value: Any) -> Any:
    """A default as a stored setting spells it (a tuple as a list)."""
    return list(value) if isinstance(value, tuple) else value


def bootstrap_replicates(options: RunOptions, environment: Mapping[str, Any]) -> int:
    """The bootstrap replicates of a run: its setting, else what a run recorded before the
    setting existed (``environment["n_bootstrap"]``), else EvalHarness' default."""
    if options.eval.n_bootstrap is not None:
        return options.eval.n_bootstrap
    legacy = environment.get("n_bootstrap")
    return legacy if isinstance(legacy, int) else int(eval_defaults()["n_bootstrap"])


def parse_options(raw: dict[str, Any] | None) -> RunOptions:
    """Stored or requested options as a :class:`RunOptions`.

    :raises InvalidInputError: naming the unknown option or setting, or the bad value.
    """
    given = dict(raw or {})
    settings = given.pop("eval", None) or {}
    if not isinstance(settings, Mapping):
        raise InvalidInputError("invalid run options: eval must be an object of settings")
    try:
        options = msgspec.convert(given, RunOptions)
    except msgspec.ValidationError as exc:
        raise InvalidInputError(f"invalid run options: {exc}") from None
    return msgspec.structs.replace(options, eval=parse_eval_settings(settings))


#: the column roles a run trains on unless its template says otherwise
FEATURE_ROLES = ("feature",)


def run_features(
    version: DatasetVersion, options: RunOptions, roles: tuple[str, ...] = FEATURE_ROLES
) -> list[str]:
    """The columns a run with ``options`` trains on, in the version's order: by default
    those of its template's ``roles`` (``Template.input_roles``).

    :raises InvalidInputError: a named column is not in the dataset, is the target, or
        leaves the run without features, or the key feature is not among them.
    """
    columns = {c.name: c for c in version.schema}
    for name in [*options.exclude, *(options.features or [])]:
        if name not in columns:
            raise InvalidInputError(
                f"column {name!r} is not in dataset {version.ref}; columns: "
                f"{', '.join(sorted(columns))}"
            )
        if name == version.target:
            raise InvalidInputError(f"column {name!r} is the target of {version.ref}")
    if options.features is not None:
        chosen = [c.name for c in version.schema if c.name in set(options.features)]
    elif roles == FEATURE_ROLES:
        chosen = list(version.feature_columns)
    else:
        chosen = [c.name for c in version.schema if c.role in roles]
    features = [c for c in chosen if c not in set(options.exclude)]
    if not features:
        texts = [c.name for c in version.schema if c.role == "text" and "text" not in roles]
        hint = (
            f"; its free text ({', '.join(texts[:5])}) is for a template that takes text "
            "(input role 'text': modellab plugins lists the templates)"
            if texts
            else ""
        )
        raise InvalidInputError(
            f"the run would have no feature column left (dataset {version.ref}, "
            f"excluded: {', '.join(options.exclude) or 'none'}){hint}"
        )
    key = options.eval.key_feature
    if key is not None and key not in features:
        raise InvalidInputError(
            f"--eval key_feature={key!r} is not a feature column of the run; its features: "
            + ", ".join(features[:20])
            + (" ..." if len(features) > 20 else "")
        )
    return features
