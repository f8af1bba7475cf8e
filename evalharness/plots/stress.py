"""The stress degradation plot: metric vs severity per scenario and model, with CIs, and
the lines it draws from stress.json's rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from evalharness.plots.style import render
from evalharness.stress.runner import METRIC_SENSITIVITY, MODEL_ROBUSTNESS, StressResult

#: the plot's title and what it shows, for captions and alt text (by file stem)
PLOTS = {"stress": ("Stress tests", "the primary metric as inputs are corrupted more and more")}


def stress_plot(
    series: Sequence[tuple[str, list[float], list[float], list[float], list[float]]],
    metric: str,
    fmt: str,
) -> bytes:
    """``series``: (label, severities, values, ci_low, ci_high) per line."""

    def draw(fig: Figure, ax: Axes) -> None:
        for label, x, v, lo, hi in series:
            (line,) = ax.plot(x, v, marker="o", label=label)
            ax.fill_between(x, lo, hi, alpha=0.15, color=line.get_color())
        ax.set_xlabel("severity")
        ax.set_ylabel(metric)
        ax.legend(loc="best", fontsize=7)
        ax.set_title("Stress tests")

    return render(draw, fmt, size=(6.0, 4.0))


def stress_label(
    scenario: str, model: str, baseline_name: str | None, kind: str = MODEL_ROBUSTNESS
) -> str:
    """Legend text of one stress line.

    Without a baseline the evaluated run is the report's only model: calling it
    "candidate" mislabels a run that is itself a baseline, so its lines carry the
    scenario alone. With a baseline both models are named. A metric-sensitivity line
    says so, so that it is not read as the model's degradation.
    """
    if kind == METRIC_SENSITIVITY:
        scenario = f"{scenario} [metric sensitivity]"
    if model == "baseline":
        return (
            f"{scenario} (baseline {baseline_name})" if baseline_name else f"{scenario} (baseline)"
        )
    if baseline_name is None:
        return scenario
    return f"{scenario} ({model})"


def stress_series(
    rows: Sequence[StressResult],
    clean: Mapping[str, float | None],
    baseline_name: str | None,
) -> list[tuple[str, list[float], list[float], list[float], list[float]]]:
    """Plot lines per (scenario, model), starting at severity 0 with the clean value.

    ``baseline_name`` is the report's baseline, None when the run was evaluated alone.
    """
    out = []
    keys = sorted({(r.scenario, r.model) for r in rows if r.value is not None})
    kind_of = {r.scenario: r.kind for r in rows}
    for scen, model in keys:
        pts = sorted(
            (r for r in rows if (r.scenario, r.model) == (scen, model) and r.value is not None),
            key=lambda r: r.severity,
        )
        x, v, lo, hi = [], [], [], []
        base = clean.get(model)
        if base is not None and not scen.startswith("distribution_shift"):
            x, v, lo, hi = [0.0], [base], [base], [base]
        for r in pts:
            x.append(r.severity)
            v.append(float(r.value or 0.0))
            lo.append(float(r.ci_low if r.ci_low is not None else r.value or 0.0))
            hi.append(float(r.ci_high if r.ci_high is not None else r.value or 0.0))
        out.append((stress_label(scen, model, baseline_name, kind_of[scen]), x, v, lo, hi))
    return out
