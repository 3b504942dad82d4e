"""The guarantee's rules on their own — no HTTP, no database: the 泰信保 waiver and the fee."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.guarantee.fees import fee
from services.guarantee.waiver import TOP, Waiver, decide
from services.scoring.queries import PointsSnapshot

RANKING_2024 = (2024, "TZ-2025.1")


def _standing(rank: int, rank_total: int = 8012, period: int = 2024) -> PointsSnapshot:
    return PointsSnapshot("91321200MA1XXXXXX0", period, "TZ-2025.1", 180, rank, rank_total)


@pytest.mark.parametrize(
    ("rank", "waived", "reason"),
    [
        (1, True, "top-100"),
        (99, True, "top-100"),
        (100, True, "top-100"),
        (101, False, "outside-top-100"),
        (8012, False, "outside-top-100"),
    ],
)
def test_waived_for_rank_100_or_better_in_the_previous_period(
    rank: int, waived: bool, reason: str
) -> None:
    assert decide(2025, RANKING_2024, _standing(rank)) == Waiver(
        2025, waived, reason, 2024, rank, 8012, "TZ-2025.1"
    )
    assert TOP == 100


def test_not_ranked_in_a_ranked_period_is_not_waived() -> None:
    assert decide(2025, RANKING_2024, None) == Waiver(
        2025, False, "not-ranked", 2024, None, None, "TZ-2025.1"
    )


def test_no_ranking_for_the_previous_period_is_not_waived() -> None:
    assert decide(2025, None, None) == Waiver(2025, False, "ranking-unavailable")


def test_a_small_ranking_waives_everyone_in_it() -> None:
    assert decide(2091, (2090, "M"), _standing(3, rank_total=3, period=2090)).waived


@pytest.mark.parametrize(
    ("amount", "rate", "months", "expected"),
    [
        ("1200.00", "0.01", 12, "12.00"),
        ("100.00", "0.0102", 1, "0.09"),  # 0.085 exactly → half up (half-even: 0.08)
        ("100.00", "0.0126", 5, "0.53"),  # 0.525 exactly → half up (half-even: 0.52)
        ("1.00", "0.0012", 50, "0.01"),  # 0.005 exactly → half up (half-even: 0.00)
        ("100.00", "0.0101", 1, "0.08"),  # 0.08416… → down
        ("2850000.00", "0.012", 7, "19950.00"),
        ("0.01", "0.0001", 1, "0.00"),  # a fraction of a cent is nothing
        ("9999999999999.99", "0.0199", 360, "5969999999999.99"),  # ….994: beyond a float
    ],
)
def test_fee_is_amount_times_rate_times_months_over_12_half_up_to_cents(
    amount: str, rate: str, months: int, expected: str
) -> None:
    got = fee(Decimal(amount), Decimal(rate), months)
    assert got == Decimal(expected)
    assert got.as_tuple().exponent == -2  # always cents
