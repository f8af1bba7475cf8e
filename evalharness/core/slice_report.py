"""Fixed slices of a report: the minimum size, the bootstrap groups, the records and
ranking of slices.json, the weakest slice and the search section."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evalharness.bootstrap.engine import BootstrapResult, Group, WeightedMetrics
from evalharness.core.config import EvalConfig
from evalharness.core.errors import ContractError
from evalharness.core.jsonio import clean_float
from evalharness.core.report import estimate
from evalharness.schemas import files as S
from evalharness.slicing.families import SliceFamily, flatten
from evalharness.slicing.fixed import SliceDef
from evalharness.slicing.search import TEST_NAME as SEARCH_TEST
from evalharness.slicing.search import SearchResult


@dataclass(frozen=True)
class SlicePlan:
    """Fixed slices mapped to the bootstrap's row order."""

    defs: list[SliceDef]
    positions: dict[str, NDArray[np.intp]]
    sizes: dict[str, int]
    n_rows: int

    def covers_all(self, sid: str) -> bool:
        """True for a slice holding every evaluated row: it is the overall set again."""
        return self.sizes[sid] == self.n_rows


def slice_families(
    families: Sequence[SliceFamily], n: int
) -> tuple[list[SliceDef], dict[str, str]]:
    """Every slice of ``families`` in order and each family's description, checked
    against the ``n`` evaluation rows.

    :raises ContractError: a mask that does not have one entry per row, or two slices
        with one id.
    """
    for family in families:
        for d in family.slices:
            if np.shape(d.mask) != (n,):
                raise ContractError(
                    f"slice {d.id!r} of family {family.name!r} has a mask of shape "
                    f"{np.shape(d.mask)}; it needs one entry per evaluation row ({n})"
                )
    try:
        return flatten(families)
    except ValueError as exc:
        raise ContractError(str(exc)) from None


def plan_slices(defs: Sequence[SliceDef], order: NDArray[np.intp], min_size: int) -> SlicePlan:
    """Map slice masks (caller's row order) to positions in the bootstrap order."""
    positions: dict[str, NDArray[np.intp]] = {}
    sizes: dict[str, int] = {}
    kept = []
    for d in defs:
        size = int(d.mask.sum())
        if size == 0:
            continue  # empty buckets carry no information
        kept.append(d)
        sizes[d.id] = size
        if size >= min_size:
            positions[d.id] = np.flatnonzero(d.mask[order]).astype(np.intp)
    return SlicePlan(kept, positions, sizes, int(order.size))


#: The derived minimum slice size asks for n // SLICE_SIZE_DIVISOR rows (between the floor
#: and the cap): with 8, a quintile of the test set (n / 5 rows, fewer where ties make the
#: buckets uneven) is still measured.
SLICE_SIZE_DIVISOR = 8


def min_slice_size_for(cfg: EvalConfig, n: int) -> tuple[int, str]:
    """The minimum slice size for ``n`` test rows and the rule that gave it.

    ``EvalConfig.min_slice_size`` fixes it; by default it follows the test size:
    min(cap, max(floor, n // 8)). A fixed 30 on an 80-row test set leaves every target
    quintile unmeasured and hides exactly the weak slices; under 10 rows a percentile
    bootstrap interval says little; from 240 rows on it is the classic 30.
    """
    if cfg.min_slice_size is not None:
        return cfg.min_slice_size, "given by the caller (EvalConfig.min_slice_size)"
    size = min(cfg.min_slice_cap, max(cfg.min_slice_floor, n // SLICE_SIZE_DIVISOR))
    return size, (
        f"derived from the {n} test rows: min({cfg.min_slice_cap}, max({cfg.min_slice_floor}, "
        f"{n} // {SLICE_SIZE_DIVISOR})) = {size} (EvalConfig.min_slice_floor, min_slice_cap; "
        "set min_slice_size to fix it)"
    )


def slice_groups(
    plan: SlicePlan,
    metrics: WeightedMetrics,
    names: Sequence[str],
    extra: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Group]:
    """Bootstrap groups of the slices large enough to evaluate, on ``names`` and the
    ``extra`` metrics of their family (by family name) only."""
    family = {d.id: d.family for d in plan.defs}
    out = {}
    for sid, pos in plan.positions.items():
        more = [x for x in (extra or {}).get(family[sid], ()) if x not in names]
        here = [*names, *more]
        sub = metrics.subset(pos, here)
        out[f"slice:{sid}"] = Group(sub, pos, tuple(here))
    return out


def slice_records(
    plan: SlicePlan,
    boot: BootstrapResult,
    names: Sequence[str],
    primary: str,
    higher_is_better: bool,
) -> tuple[list[S.SliceRecord], list[str]]:
    """Slice records and the ranking (worst first) of the slices that are large enough.

    A slice holding every row (e.g. "missing share <= 0.1" on a set without gaps) is the
    overall set again, its delta is 0 by construction: it gets status ``all_rows`` and no
    rank, so it can never be named the weakest slice.
    """
    ranked: list[tuple[float, str]] = []
    for d in plan.defs:
        if d.id in plan.positions and not plan.covers_all(d.id):
            delta = boot.estimates[f"slice:{d.id}"][primary] - boot.estimates["overall"][primary]
            if np.isfinite(delta):
                ranked.append((delta if higher_is_better else -delta, d.id))
    ranking = [sid for _, sid in sorted(ranked)]
    rank_of = {sid: i + 1 for i, sid in enumerate(ranking)}

    def measured(key: str) -> list[str]:
        # ``names`` first, then any metric the slice's family added (slice_groups).
        more = [x for x in boot.estimates.get(key, {}) if x not in names]
        return [*names, *sorted(more)]

    records = []
    for d in plan.defs:
        key = f"slice:{d.id}"
        ok = d.id in plan.positions
        status: S.SliceStatus = (
            "too_small" if not ok else "all_rows" if plan.covers_all(d.id) else "ok"
        )
        records.append(
            S.SliceRecord(
                id=d.id,
                family=d.family,
                definition=d.definition,
                n=plan.sizes[d.id],
                status=status,
                metrics={m: estimate(boot.interval(key, m)) for m in measured(key)} if ok else {},
                delta={m: estimate(boot.delta(key, "overall", m)) for m in measured(key)}
                if ok
                else {},
                rank=rank_of.get(d.id),
            )
        )
    records.sort(key=lambda r: (r.family, r.id))
    return records, ranking


def weakest_slice(
    records: Sequence[S.SliceRecord], ranking: Sequence[str], primary: str, higher_is_better: bool
) -> S.SliceRecord | None:
    """The top-ranked slice, only when its ``primary`` is strictly worse than overall.

    A delta of 0 (or one in the better direction) means no slice is weaker than the whole
    test set, and calling one "weakest" would mislead.
    """
    if not ranking:
        return None
    worst = next(r for r in records if r.id == ranking[0])
    d = worst.delta.get(primary)
    if d is None or d.value is None:
        return None
    worse = d.value < 0 if higher_is_better else d.value > 0
    return worst if worse else None


def search_record(
    result: SearchResult | None, loss: str, cfg: EvalConfig, note: str
) -> S.SliceSearch | None:
    """The search section of slices.json; ``loss`` says what the search treated as loss."""
    if result is None:
        return None
    return S.SliceSearch(
        loss=loss,
        n_candidates=result.n_candidates,
        n_discovery_rows=result.n_discovery_rows,
        n_confirmation_rows=result.n_confirmation_rows,
        fdr=cfg.fdr,
        test=SEARCH_TEST,
        seed=cfg.seed,
        slices=[
            S.SearchedSlice(
                id=f.id,
                definition=f.definition,
                features=list(f.features),
                discovery_n=f.discovery_n,
                discovery_effect=clean_float(f.discovery_effect) or 0.0,
                discovery_p=clean_float(f.discovery_p) or 0.0,
                confirmation_n=f.confirmation_n,
                confirmation_effect=clean_float(f.confirmation_effect),
                confirmation_p=clean_float(f.confirmation_p),
                confirmation_q=clean_float(f.confirmation_q),
                confirmed=f.confirmed,
            )
            for f in result.slices
        ],
        note=note,
    )


def slices_file(
    cfg: EvalConfig,
    n: int,
    primary: str,
    families: dict[str, str],
    records: list[S.SliceRecord],
    ranking: list[str],
    search: S.SliceSearch | None,
) -> S.SlicesFile:
    """slices.json content."""
    min_size, min_rule = min_slice_size_for(cfg, n)
    return S.SlicesFile(
        schema_version=S.SCHEMA_VERSION,
        metric=primary,
        min_slice_size=min_size,
        min_slice_rule=min_rule,
        n_bootstrap=cfg.n_bootstrap,
        families=families,
        slices=records,
        ranking=ranking,
        search=search,
    )
