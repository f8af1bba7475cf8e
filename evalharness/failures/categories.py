"""The six failure-mode categories and the failure_modes.md template."""

from __future__ import annotations

from collections.abc import Mapping

CATEGORIES: dict[str, tuple[str, str]] = {
    "data": (
        "Data",
        "Missing or corrupted inputs, label errors, rare or out-of-range regions, drift.",
    ),
    "objective_metric": (
        "Objective / metric",
        "The loss or metric rewards the wrong thing (imbalance, thresholds, proxy targets).",
    ),
    "model_representation": (
        "Model / representation",
        "The model cannot express the pattern: near-boundary cases, missing features.",
    ),
    "optimization": (
        "Optimization",
        "Training did not converge or overfit: unstable seeds, early stopping, tuning.",
    ),
    "systems_infra": (
        "Systems / infra",
        "Pipeline bugs: preprocessing mismatch between train and serve, dtype or join errors.",
    ),
    "human_ux": (
        "Human / UX",
        "How predictions are consumed: unclear confidence, wrong defaults, misuse.",
    ),
}


def failure_modes_markdown(counts: Mapping[str, int], n_examples: int) -> str:
    """The six-category template, pre-filled with how many selected failures fell in each."""
    lines = [
        "# Failure modes",
        "",
        f"{n_examples} failure examples were selected (see failure_examples.json); each is "
        "tagged with one category by the rules in docs/evalharness.md.",
        "Automatic tags cover data, objective/metric and model/representation; review the "
        "other categories by hand.",
        "",
    ]
    for key, (title, hint) in CATEGORIES.items():
        lines += [
            f"## {title} (`{key}`): {counts.get(key, 0)} example(s)",
            "",
            f"{hint}",
            "",
            "- Evidence:",
            "- Next step:",
            "",
        ]
    return "\n".join(lines).rstrip("\n") + "\n"
