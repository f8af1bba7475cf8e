"""Weak-slice search with held-out confirmation.

Candidates (single-feature conditions and pairs of them, numeric features binned) are scored
on a seeded half of the rows; the most promising are then tested on the other half, and only
that held-out test, with Benjamini-Hochberg control across the tested candidates, decides
``confirmed``. Scoring a slice on the rows that found it would overstate every finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from evalharness.slicing.fixed import is_categorical
from evalharness.slicing.multiple_testing import benjamini_hochberg

MAX_CATEGORIES_PER_FEATURE = 10
PAIR_POOL = 20
TEST_NAME = "one-sided Welch t-test of mean loss, slice vs rest"


@dataclass(frozen=True)
class Condition:
    """One feature condition; ``mask`` over all evaluation rows."""

    feature: str
    text: str
    mask: NDArray[np.bool_]


@dataclass(frozen=True)
class FoundSlice:
    """A searched slice with discovery and confirmation statistics."""

    id: str
    definition: str
    features: tuple[str, ...]
    discovery_n: int
    discovery_effect: float
    discovery_p: float
    confirmation_n: int
    confirmation_effect: float | None
    confirmation_p: float | None
    confirmation_q: float | None
    confirmed: bool


@dataclass(frozen=True)
class SearchResult:
    """Outcome of the search."""

    n_candidates: int
    n_discovery_rows: int
    n_confirmation_rows: int
    slices: tuple[FoundSlice, ...]


def _conditions(frame: pd.DataFrame, discovery: NDArray[np.bool_], bins: int) -> list[Condition]:
    out: list[Condition] = []
    for col in sorted(map(str, frame.columns)):
        s = frame[col]
        if is_categorical(s):
            values = s.astype("object")
            counts = values[discovery].value_counts(dropna=True)
            top = sorted(counts.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
            arr = values.to_numpy()
            for v, _ in top[:MAX_CATEGORIES_PER_FEATURE]:
                out.append(Condition(col, f"{col} == {v!r}", arr == v))
        else:
            x = s.to_numpy(dtype=np.float64, na_value=np.nan)
            # Bin edges come from the discovery half only.
            d = x[discovery & np.isfinite(x)]
            if d.size == 0:
                continue
            edges = np.unique(np.quantile(d, np.linspace(0, 1, bins + 1)[1:-1]))
            b = np.searchsorted(edges, x, side="right")
            bounds = np.r_[-np.inf, edges, np.inf]
            for k in range(len(edges) + 1):
                lo, hi = bounds[k], bounds[k + 1]
                if np.isinf(lo):
                    text = f"{col} < {hi:.4g}"
                elif np.isinf(hi):
                    text = f"{col} >= {lo:.4g}"
                else:
                    text = f"{lo:.4g} <= {col} < {hi:.4g}"
                out.append(Condition(col, text, np.isfinite(x) & (b == k)))
        if s.isna().any():
            out.append(Condition(col, f"{col} is missing", s.isna().to_numpy()))
    return out


def _welch(loss: NDArray[np.float64], mask: NDArray[np.bool_]) -> tuple[float, float]:
    """(mean difference, one-sided Welch p-value that the slice's mean loss is higher)."""
    inside, outside = loss[mask], loss[~mask]
    n1, n2 = inside.size, outside.size
    if n1 == 0 or n2 == 0:
        return 0.0, 1.0
    effect = float(inside.mean() - outside.mean())
    if n1 < 2 or n2 < 2:
        return effect, 1.0
    v1, v2 = inside.var(ddof=1) / n1, outside.var(ddof=1) / n2
    se2 = v1 + v2
    if se2 <= 0:
        return effect, (0.0 if effect > 0 else 1.0)
    t = effect / np.sqrt(se2)
    df = se2**2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    # Upper tail of Student's t with Welch-Satterthwaite degrees of freedom.
    p = float(special.stdtr(df, -t))
    return effect, (1.0 if np.isnan(p) else p)


def search_weak_slices(
    frame: pd.DataFrame,
    loss: NDArray[np.float64],
    *,
    min_size: int,
    seed: int,
    fdr: float = 0.05,
    bins: int = 4,
    max_confirm: int = 10,
) -> SearchResult:
    """Find slices with higher mean ``loss`` than the rest, confirmed on held-out rows."""
    n = len(frame)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    half = np.zeros(n, dtype=bool)
    half[rng.permutation(n)[: n // 2]] = True
    discovery, confirmation = half, ~half
    singles = _conditions(frame, discovery, bins)
    d_loss = loss[discovery]

    def score(m: NDArray[np.bool_]) -> tuple[int, float, float]:
        """Size, effect and p-value on the discovery rows (``m`` covers those rows only)."""
        size = int(m.sum())
        if size < min_size or size > m.size - 2:
            return size, 0.0, 1.0
        effect, p = _welch(d_loss, m)
        return size, effect, p

    # Each condition on the discovery rows, taken once: a pair's discovery mask is the
    # AND of its two (the same rows as the AND over all rows, then taken).
    on_discovery = [c.mask[discovery] for c in singles]
    # (definition, features, indices of its conditions in ``singles``, size, effect, p)
    scored: list[tuple[str, tuple[str, ...], tuple[int, ...], int, float, float]] = []
    for i, (c, m) in enumerate(zip(singles, on_discovery, strict=True)):
        size, effect, p = score(m)
        scored.append((c.text, (c.feature,), (i,), size, effect, p))
    # Pairs only among the strongest single conditions, to keep the search polynomial.
    pool = sorted(
        (i for i, s in enumerate(scored) if s[3] >= min_size and s[4] > 0),
        key=lambda i: (-scored[i][4], singles[i].text),
    )[:PAIR_POOL]
    for i, j in combinations(pool, 2):
        a, b = singles[i], singles[j]
        if a.feature == b.feature:
            continue
        size, effect, p = score(on_discovery[i] & on_discovery[j])
        feats = tuple(sorted((a.feature, b.feature)))
        scored.append((f"{a.text} and {b.text}", feats, (i, j), size, effect, p))
    eligible = [s for s in scored if s[3] >= min_size and s[4] > 0]
    rejected, _ = benjamini_hochberg([s[5] for s in eligible], fdr)
    chosen = sorted(
        (s for s, r in zip(eligible, rejected, strict=True) if r),
        key=lambda s: (-s[4], s[0]),
    )[:max_confirm]
    c_loss = loss[confirmation]
    conf_stats: list[tuple[int, float | None, float]] = []
    for _, _, parts, _, _, _ in chosen:
        # Only the chosen few need their mask over the confirmation rows.
        m = np.logical_and.reduce([singles[k].mask[confirmation] for k in parts])
        size = int(m.sum())
        if size < 2 or size > m.size - 2:
            conf_stats.append((size, None, 1.0))
            continue
        c_effect, c_p = _welch(c_loss, m)
        conf_stats.append((size, c_effect, c_p))
    ok, q = benjamini_hochberg([c[2] for c in conf_stats], fdr)
    found = []
    for i, (s, cs) in enumerate(zip(chosen, conf_stats, strict=True)):
        conf_effect = cs[1]
        found.append(
            FoundSlice(
                id=f"search:{i + 1:02d}",
                definition=s[0],
                features=s[1],
                discovery_n=s[3],
                discovery_effect=s[4],
                discovery_p=s[5],
                confirmation_n=cs[0],
                confirmation_effect=conf_effect,
                confirmation_p=cs[2],
                confirmation_q=float(q[i]),
                confirmed=bool(ok[i] and conf_effect is not None and conf_effect > 0),
            )
        )
    return SearchResult(len(eligible), int(discovery.sum()), int(confirmation.sum()), tuple(found))
