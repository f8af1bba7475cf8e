"""Compare runs without eval reports: tracked runs that logged loss curves and params.

What both runs logged is compared (the newest value of each metric, params, tags, data,
config, code, files); the sections that need eval reports are null, and the comparison
says why. The service, the CLI and (in tests/server) the API give the same document.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from modellab.cli import _run
from modellab.compare import NO_LOGGED_VERDICT, build_comparison
from modellab.domain import CodeVersion, RunStatus
from modellab.plugins import load_registry
from modellab.runs import tracking
from modellab.runs.tracking import MetricPoint, TrackedRunRequest
from modellab.settings import Settings
from modellab.store.database import Database
from tests.conftest import Env

STEPS = 30
#: what each of the two runs logs: name, seed, decay rate of its loss, params, tags,
#: commit, and a metric only it logs
LOGS: list[dict[str, Any]] = [
    {
        "name": "mlp-lr0.1",
        "seed": 1,
        "rate": 0.1,
        "params": {"lr": 0.1, "optimizer": "adam", "layers": 3},
        "tags": {"stage": "try", "owner": "ada"},
        "commit": "0123abcd",
        "only": ("grad_norm", 2.5),
    },
    {
        "name": "mlp-lr0.3",
        "seed": 2,
        "rate": 0.3,
        "params": {"lr": 0.3, "optimizer": "adam", "dropout": 0.5},
        "tags": {"stage": "keep", "owner": "ada"},
        "commit": "4567cdef",
        "only": ("epoch_time", 12.0),
    },
]


def points(log: dict[str, Any]) -> list[MetricPoint]:
    """A loss curve, a validation accuracy that ends NaN in run B, and the run's own key."""
    out = [MetricPoint("loss", math.exp(-log["rate"] * s), s) for s in range(STEPS)]
    out += [MetricPoint("val_acc", 0.5 + log["rate"], s) for s in (0, STEPS - 1)]
    out.append(MetricPoint("diverged", "NaN" if log["seed"] == 2 else 0.25, STEPS - 1))
    key, value = log["only"]
    out.append(MetricPoint(key, value, 0))
    return out


async def log_run(db: Database, settings: Settings, log: dict[str, Any], folder: Path) -> str:
    """One tracked run as outside training code logs it: no eval report attached."""
    code = CodeVersion(modellab_version="outside", git_commit=log["commit"], git_dirty=False)
    req = TrackedRunRequest("p", "sex@1", log["name"], log["seed"], code, tags=log["tags"])
    run = await tracking.create_tracked_run(db, settings, req, log["params"])
    await tracking.log_batch(db, run.id, metrics=points(log))
    weights = folder / f"{log['name']}.bin"
    weights.write_bytes(log["name"].encode())
    await tracking.add_artifact(db, settings, run.id, "weights.bin", weights)
    await tracking.finish_tracked(db, settings, run.id, RunStatus.SUCCEEDED, None)
    return run.id


@pytest.fixture
def tracked(penguins_sex: Env, tmp_path: Path) -> tuple[Env, str, str]:
    async def both(db: Database, settings: Settings) -> list[str]:
        return [await log_run(db, settings, log, tmp_path) for log in LOGS]

    a, b = _run(both)
    return penguins_sex, a, b


def newest(history: list[MetricPoint]) -> Any:
    """The newest value of a history, as the tracking service returns it."""
    return max(history, key=lambda p: p.step).value


def check_logged(doc: dict[str, Any], a: str, b: str, histories: dict[str, Any]) -> None:
    """What a comparison of the two LOGS runs holds: shared by the service, CLI and API."""
    assert doc["basis"] == "logged"
    assert doc["basis_reason"].startswith(
        f"run A ({a}) and run B ({b}) have no eval report: only logged metrics are compared"
    )
    # Nothing that needs eval reports: absent, never a made-up number.
    for key in ("metrics", "slices", "failures", "paired_bootstrap", "paired_test", "plots"):
        assert doc[key] is None, key
    logged = doc["logged_metrics"]
    assert logged["verdict"] == NO_LOGGED_VERDICT
    rows = {r["metric"]: r for r in logged["rows"]}
    assert sorted(rows) == ["diverged", "loss", "val_acc"]
    for key in ("loss", "val_acc"):
        va, vb = histories[key]
        assert (rows[key]["a"], rows[key]["b"]) == (va, vb)
        assert rows[key]["delta"] == pytest.approx(vb - va, abs=1e-12)
        assert (rows[key]["step_a"], rows[key]["step_b"]) == (STEPS - 1, STEPS - 1)
    assert rows["loss"]["a"] == pytest.approx(math.exp(-0.1 * (STEPS - 1)))
    # B's newest value is NaN: kept as logged, and no difference is invented.
    assert (rows["diverged"]["a"], rows["diverged"]["b"]) == (0.25, "NaN")
    assert rows["diverged"]["delta"] is None
    assert logged["only_a"] == {"grad_norm": 2.5}
    assert logged["only_b"] == {"epoch_time": 12.0}
    assert doc["params"] == {
        "added": {"dropout": "0.5"},
        "removed": {"layers": "3"},
        "changed": {"lr": {"a": "0.1", "b": "0.3"}},
    }
    assert doc["tags"] == {
        "added": {},
        "removed": {},
        "changed": {"stage": {"a": "try", "b": "keep"}},
    }
    assert doc["config"]["changed"] == {
        "model": {"a": "mlp-lr0.1", "b": "mlp-lr0.3"},
        "seed": {"a": 1, "b": 2},
    }
    assert doc["code"]["changed"] == {"git_commit": {"a": "0123abcd", "b": "4567cdef"}}
    assert doc["dataset"]["same_data"] and doc["dataset"]["same_split"]
    assert doc["like_for_like"] is True
    assert doc["artifacts"]["changed"] == ["files/weights.bin"]
    assert doc["latency"]["a"]["measured"] is False


def test_two_tracked_runs_without_eval_reports_compare_what_they_logged(
    tracked: tuple[Env, str, str],
) -> None:
    ml, a, b = tracked

    async def compare(db: Database, settings: Settings) -> tuple[dict[str, Any], Any]:
        histories = {
            key: [newest(await tracking.metric_history(db, run, key)) for run in (a, b)]
            for key in ("loss", "val_acc")
        }
        found = await build_comparison(db, settings, load_registry().task_types, a, b)
        return found.doc, histories

    doc, histories = _run(compare)
    check_logged(doc, a, b, histories)

    # The CLI: the same document, written with its summary, and no plots.
    printed = ml.json("compare", a, b)
    folder = Path(printed.pop("folder"))
    assert printed == json.loads(json.dumps(doc))
    assert json.loads((folder / "compare.json").read_text()) == printed
    assert not any((folder / "plots").iterdir())
    text = ml.run("compare", a, b).stdout
    assert f"NOTE: run A ({a}) and run B ({b}) have no eval report" in text
    loss_a, loss_b = histories["loss"]
    assert f"loss               {loss_a:.4f} -> {loss_b:.4f}  {loss_b - loss_a:+.4f}" in text
    assert "diverged           0.2500 -> NaN  n/a" in text
    assert "only run A logged: grad_norm=2.5000" in text
    assert "no verdict: each value is one logged number per run" in text
    assert "Params: lr: '0.1' -> '0.3'; +dropout='0.5'; -layers" in text
    assert "Tags: stage: 'try' -> 'keep'" in text
    assert "Code: git_commit: '0123abcd' -> '4567cdef'" in text
    # Nothing of the eval reports' sections: no verdicts, slices or failures to print.
    assert "Slices:" not in text and "Failures" not in text and "Improved" not in text


def test_one_eval_report_is_not_enough_and_the_comparison_names_the_run_without(
    tracked: tuple[Env, str, str], tmp_path: Path
) -> None:
    """Run A has a report, run B does not: logged metrics only, and B is named."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    from tests.evalharness.conftest import _split, classify

    _, _, b = tracked
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    classify(_split(x, y, LogisticRegression(max_iter=2000)), tmp_path / "eval")
    archive = tmp_path / "eval.tar"
    import tarfile

    with tarfile.open(archive, "w") as tar:
        tar.add(tmp_path / "eval", arcname="eval")

    async def with_report(db: Database, settings: Settings) -> dict[str, Any]:
        code = CodeVersion(modellab_version="outside", git_commit="0123abcd", git_dirty=False)
        req = TrackedRunRequest("p", "sex@1", "reported", 3, code)
        run = await tracking.create_tracked_run(
            db, settings, req, metrics=[MetricPoint("loss", 0.5, 0)]
        )
        await tracking.attach_eval(db, settings, run.id, archive)
        await tracking.finish_tracked(db, settings, run.id, RunStatus.SUCCEEDED, None)
        return (await build_comparison(db, settings, load_registry().task_types, run.id, b)).doc

    doc = _run(with_report)
    assert doc["basis"] == "logged"
    assert doc["basis_reason"].startswith(f"run B ({b}) has no eval report: only logged")
    assert doc["metrics"] is None and doc["plots"] is None
    assert {r["metric"] for r in doc["logged_metrics"]["rows"]} == {"loss"}
