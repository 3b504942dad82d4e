"""The stability rules of drift and the what-if report, by hand (no database): decile bins,
the zero-bin rule, collapsed deciles, the missing-value bin, the bands and the chi-square
survival function against printed tables."""

from __future__ import annotations

import math

import pytest

from services.scoring.psi import (
    band_of,
    bin_counts,
    chi2_survival,
    chi_square,
    compare,
    decile_edges,
)

ONE_TO_100 = [float(v) for v in range(1, 101)]


def test_deciles_are_percentile_disc() -> None:
    # ⌈p·n⌉-th value: for n = 100 the 10th, 20th, …; for n = 15 the 2nd, 3rd, 5th, 6th, …
    assert decile_edges(ONE_TO_100) == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert decile_edges([float(v) for v in range(1, 16)]) == [2, 3, 5, 6, 8, 9, 11, 12, 14]
    assert decile_edges([]) == []


def test_bins_are_closed_on_the_right() -> None:
    assert bin_counts([10, 10.5, 20, 90, 91, -5], [10, 20, 90]) == [2, 2, 1, 1]


def test_a_hand_computed_ten_bin_psi() -> None:
    # Baseline 1..100: ten bins of 10. Actual shares .05 .05 .1 × 6 .15 .15:
    # PSI = 2·(−.05)·ln(.5) + 2·(.05)·ln(1.5) = .1·ln 2 + .1·ln 1.5 = .1·ln 3.
    actual = [1.0] * 5 + [11.0] * 5 + [25.0] * 10 + [35.0] * 10 + [45.0] * 10
    actual += [55.0] * 10 + [65.0] * 10 + [75.0] * 10 + [85.0] * 15 + [95.0] * 15
    result = compare(ONE_TO_100, actual)
    assert [b.baseline for b in result.bins] == [10] * 10
    assert [b.actual for b in result.bins] == [5, 5, 10, 10, 10, 10, 10, 10, 15, 15]
    assert result.psi == pytest.approx(0.1 * math.log(3), abs=1e-12)
    assert result.band == "investigate"
    # χ²: columns of 15 have E = 7.5 (2·2.5²/7.5 = 5/3), of 25 E = 12.5 (2·2.5²/12.5 = 1).
    assert result.chi2 == pytest.approx(2 * 5 / 3 + 2 * 1, abs=1e-12)
    assert result.dof == 9
    assert result.p_value == pytest.approx(chi2_survival(16 / 3, 9), abs=1e-15)
    assert result.bins[0].lower is None
    assert result.bins[0].upper == 10
    assert result.bins[-1].lower == 90
    assert result.bins[-1].upper is None


def test_a_zero_bin_counts_half() -> None:
    # Everything in the first bin: the nine empty ones count 0.5 of 100 (share .005).
    result = compare(ONE_TO_100, [1.0] * 100)
    assert [b.actual for b in result.bins] == [100] + [0] * 9
    assert result.bins[1].actual_share == 0.005
    expected = 0.9 * math.log(10) + 9 * 0.095 * math.log(20)
    assert result.psi == pytest.approx(expected, abs=1e-12)
    assert result.band == "significant"
    assert math.isfinite(result.psi)


def test_equal_samples_are_stable_with_p_one() -> None:
    result = compare(ONE_TO_100, list(reversed(ONE_TO_100)))
    assert result.psi == 0
    assert result.band == "stable"
    assert result.chi2 == 0
    assert result.p_value == 1.0


def test_duplicate_deciles_collapse() -> None:
    # A mostly-zero count (awards_national): every decile is 0, so two bins.
    result = compare([0.0] * 95 + [1.0] * 5, [0.0] * 90 + [2.0] * 10)
    assert [(b.lower, b.upper) for b in result.bins] == [(None, 0), (0, None)]
    assert [(b.baseline, b.actual) for b in result.bins] == [(95, 90), (5, 10)]
    expected = (0.90 - 0.95) * math.log(0.90 / 0.95) + (0.10 - 0.05) * math.log(2)
    assert result.psi == pytest.approx(expected, abs=1e-12)
    assert result.dof == 1


def test_a_bin_empty_in_both_samples_is_no_bin() -> None:
    # 1..9, 9: the ninth decile is the maximum, so (9, ∞) holds no baseline value.
    baseline = [float(v) for v in range(1, 10)] + [9.0]
    assert len(compare(baseline, baseline).bins) == 9
    above = compare(baseline, [*baseline[:-1], 12.0])
    assert len(above.bins) == 10
    assert (above.bins[-1].baseline, above.bins[-1].actual) == (0, 1)
    assert above.bins[-1].baseline_share == 0.05  # 0.5 of 10


def test_missing_values_have_a_bin_of_their_own() -> None:
    result = compare(ONE_TO_100[:90], ONE_TO_100[:80], baseline_missing=10, actual_missing=20)
    missing = result.bins[-1]
    assert missing.missing
    assert (missing.baseline, missing.actual) == (10, 20)
    assert (missing.baseline_share, missing.actual_share) == (0.1, 0.2)
    assert (result.baseline_count, result.actual_count) == (100, 100)
    assert not any(b.missing for b in compare(ONE_TO_100, ONE_TO_100).bins)


def test_band_edges() -> None:
    assert band_of(0.0) == "stable"
    assert band_of(0.0999999) == "stable"
    assert band_of(0.10) == "investigate"
    assert band_of(0.2499999) == "investigate"
    assert band_of(0.25) == "significant"


@pytest.mark.parametrize(
    ("x", "dof", "p"),
    [
        (3.841, 1, 0.05),
        (6.635, 1, 0.01),
        (2.706, 1, 0.10),
        (5.991, 2, 0.05),
        (9.488, 4, 0.05),
        (11.070, 5, 0.05),
        (16.919, 9, 0.05),
        (18.307, 10, 0.05),
        (23.209, 10, 0.01),
        (0.0158, 1, 0.90),
        (2.558, 10, 0.99),
    ],
)
def test_chi_square_survival_against_tables(x: float, dof: int, p: float) -> None:
    # Tables print the critical values to 3 decimals: p agrees to about 5e-5.
    assert chi2_survival(x, dof) == pytest.approx(p, abs=6e-5)


def test_chi_square_survival_closed_forms() -> None:
    for x in (0.1, 1.0, 4.0, 30.0):
        assert chi2_survival(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-14)
        assert chi2_survival(x, 1) == pytest.approx(math.erfc(math.sqrt(x / 2)), rel=1e-14)
    assert chi2_survival(0, 3) == 1.0
    with pytest.raises(ValueError, match="degrees of freedom"):
        chi2_survival(1.0, 0)


def test_chi_square_of_homogeneity() -> None:
    # 2 × 2: (30, 10 | 20, 40) — the textbook statistic N(ad − bc)² / (r1 r2 c1 c2).
    statistic, dof = chi_square([(30, 20), (10, 40)])
    assert statistic == pytest.approx(100 * (30 * 40 - 10 * 20) ** 2 / (40 * 60 * 50 * 50))
    assert dof == 1
    assert chi_square([(5, 7)]) == (0.0, 0)
