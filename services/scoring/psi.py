"""Population stability of one quantity between a baseline sample and an actual one.

Binning: the baseline's deciles, `percentile_disc(0.1 … 0.9)` (the first value whose
cumulative share reaches p), as bins `(-∞, e1], (e1, e2], …, (e9, ∞)`; equal edges collapse
(a mostly-zero count gives two bins), missing values get a bin of their own, and a bin empty
in both samples is no bin. Zero-bin rule: a count of 0 in one sample counts as 0.5 there
(share 0.5/n), so the logarithm stays finite.

PSI = Σ (aᵢ − eᵢ)·ln(aᵢ / eᵢ) over the bins' shares, banded as optbinning's
`ScorecardMonitoring` does: < 0.10 stable, 0.10 ≤ PSI < 0.25 investigate, ≥ 0.25 significant.
Beside it, Pearson's chi-square test of homogeneity on the 2 × k table of raw counts
(k − 1 degrees of freedom), its p-value from the closed-form survival function.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from typing_extensions import TypeAliasType

StabilityBand = TypeAliasType("StabilityBand", Literal["stable", "investigate", "significant"])
"""The band of a PSI (a named schema of the OpenAPI document)."""

INVESTIGATE, SIGNIFICANT = 0.10, 0.25
ZERO_COUNT = 0.5
"""What an empty bin of one sample counts as (the zero-bin rule)."""


@dataclass(frozen=True, slots=True)
class Bin:
    """One bin: values in `(lower, upper]` (None: unbounded), or the missing values."""

    lower: float | None
    upper: float | None
    missing: bool
    baseline: int
    actual: int
    baseline_share: float
    actual_share: float
    psi: float


@dataclass(frozen=True, slots=True)
class Stability:
    """PSI and its band, the chi-square test beside it, and the bins they come from."""

    baseline_count: int
    actual_count: int
    psi: float
    band: StabilityBand
    chi2: float
    dof: int
    p_value: float | None  # None with fewer than two bins: nothing to test
    bins: list[Bin]


def decile_edges(ordered: Sequence[float]) -> list[float]:
    """The baseline's deciles as bin edges, duplicates collapsed: for p = 0.1 … 0.9 the value
    at position ⌈p·n⌉ of the ordered sample (`percentile_disc`); none for an empty sample."""
    n = len(ordered)
    edges: list[float] = []
    for k in range(1, 10):
        value = ordered[(k * n + 9) // 10 - 1] if n else None
        if value is not None and (not edges or value != edges[-1]):
            edges.append(value)
    return edges


def bin_counts(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """How many of `values` fall in each bin `(-∞, e1], …, (e_last, ∞)`."""
    counts = [0] * (len(edges) + 1)
    for value in values:
        counts[bisect_left(edges, value)] += 1
    return counts


def band_of(psi: float) -> StabilityBand:
    """The band of a PSI: < 0.10 stable, < 0.25 investigate, else significant."""
    if psi < INVESTIGATE:
        return "stable"
    return "investigate" if psi < SIGNIFICANT else "significant"


def compare(
    baseline: Sequence[float],
    actual: Sequence[float],
    *,
    baseline_missing: int = 0,
    actual_missing: int = 0,
) -> Stability:
    """Stability of `actual` against `baseline` (present values; the missing ones counted
    apart), binned on the baseline's deciles."""
    ordered = sorted(baseline)
    edges = decile_edges(ordered)
    bounds: list[tuple[float | None, float | None, bool]] = [
        (edges[i - 1] if i else None, edges[i] if i < len(edges) else None, False)
        for i in range(len(edges) + 1)
    ]
    counts = list(zip(bin_counts(ordered, edges), bin_counts(actual, edges), strict=True))
    bounds.append((None, None, True))
    counts.append((baseline_missing, actual_missing))
    kept = [(b, c) for b, c in zip(bounds, counts, strict=True) if c[0] or c[1]]
    n_base = len(ordered) + baseline_missing
    n_actual = len(actual) + actual_missing
    if not (n_base and n_actual):
        raise ValueError("both samples need at least one member")
    bins = []
    for (lower, upper, missing), (base, act) in kept:
        e = (base or ZERO_COUNT) / n_base
        a = (act or ZERO_COUNT) / n_actual
        bins.append(Bin(lower, upper, missing, base, act, e, a, (a - e) * math.log(a / e)))
    psi = math.fsum(b.psi for b in bins)
    chi2, dof = chi_square([(b.baseline, b.actual) for b in bins])
    return Stability(
        baseline_count=n_base,
        actual_count=n_actual,
        psi=psi,
        band=band_of(psi),
        chi2=chi2,
        dof=dof,
        p_value=chi2_survival(chi2, dof) if dof else None,
        bins=bins,
    )


def chi_square(table: Sequence[tuple[int, int]]) -> tuple[float, int]:
    """Pearson's statistic of homogeneity of two samples over bins (`(baseline, actual)` counts
    per bin, none empty in both) and its degrees of freedom, k − 1."""
    if len(table) < 2:
        return 0.0, 0
    rows = (sum(b for b, _ in table), sum(a for _, a in table))
    total = rows[0] + rows[1]
    statistic = 0.0
    for column in table:
        width = column[0] + column[1]
        for observed, row in zip(column, rows, strict=True):
            expected = row * width / total
            statistic += (observed - expected) ** 2 / expected
    return statistic, len(table) - 1


def chi2_survival(x: float, dof: int) -> float:
    """P(χ²_dof ≥ x), in closed form: for even dof e^(−x/2)·Σ_{i<dof/2} (x/2)^i / i!; for odd
    dof erfc(√(x/2)) + e^(−x/2)·Σ_{i=1}^{(dof−1)/2} (x/2)^(i−½) / Γ(i+½)."""
    if dof < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if x <= 0:
        return 1.0
    half = x / 2
    if dof % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, dof // 2):
            term *= half / i
            total += term
        return min(1.0, math.exp(-half) * total)
    term = math.sqrt(half) / (math.sqrt(math.pi) / 2)  # (x/2)^½ / Γ(3/2)
    total = 0.0
    for i in range(1, (dof - 1) // 2 + 1):
        total += term
        term *= half / (i + 0.5)
    return min(1.0, math.erfc(math.sqrt(half)) + math.exp(-half) * total)
