"""One eligibility rule: `tier_of` (the what-if report's) agrees with the quote (`offer_for`)
for every combination of activity, categories and points around each threshold, and
`product_shifts` counts groups of firms by it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.loans.eligibility import ladder_of, shift_of, tier_of
from services.loans.quotes import offer_for
from services.scoring.queries import EnterpriseFacts, PointsSnapshot
from shared.eligibility import PointsGroup
from tests.loans.rule_examples import HIGH_TECH, ON, SME_ONLY, product


def _snapshot(firm: EnterpriseFacts, n: int) -> PointsSnapshot:
    return PointsSnapshot(firm.uscc, 2025, "TZ-2025.1", n, 1, 10)


def test_tier_of_is_the_quote_rule() -> None:
    products = [
        product(),
        product(eligible_categories=[]),
        product(active_from=date(2027, 1, 1)),
        product(active_to=date(2026, 3, 8)),
        product(min_points=120),  # min_points between two tiers' thresholds
        product(min_points=80),  # below the first tier: 80-99 qualify for no tier
    ]
    checked = 0
    for p in products:
        for firm in (HIGH_TECH, SME_ONLY):
            for n in (0, 79, 80, 99, 100, 119, 120, 149, 150, 199, 200, 400):
                quote = offer_for(p, firm, _snapshot(firm, n), ON)
                assert tier_of(p, firm.categories, n, ON) == (quote.eligible, quote.max_amount)
                checked += quote.eligible
    assert checked > 10


def test_a_shift_counts_groups_by_the_rule() -> None:
    p = product()  # high_tech only; tiers 1, 3, 5 million from 100, 150, 200
    high, sme = frozenset({"high_tech"}), frozenset({"tech_sme"})
    shift = shift_of(
        p,
        ON,
        [
            PointsGroup(high, 90, 110, 3),  # gained, 1 million each
            PointsGroup(high, 160, 120, 2),  # tier down: 3 → 1 million
            PointsGroup(high, 160, 210, 4),  # tier up: 3 → 5 million
            PointsGroup(high, 120, 99, 1),  # lost
            PointsGroup(sme, 300, 300, 7),  # never (category)
        ],
    )
    assert (shift.eligible_before, shift.eligible_after) == (7, 9)
    assert (shift.gained, shift.lost, shift.tier_up, shift.tier_down) == (3, 1, 4, 2)
    assert shift.max_amount_before == Decimal(2 * 3 + 4 * 3 + 1 * 1) * 1_000_000
    assert shift.max_amount_after == Decimal(3 * 1 + 2 * 1 + 4 * 5) * 1_000_000


def test_a_ladder_is_the_tier_rule() -> None:
    """The paths' product ladder gives, for every points value, what `tier_of` gives."""
    for p in (
        product(),
        product(eligible_categories=[]),
        product(min_points=120),
        product(min_points=80),
        product(active_to=date(2026, 3, 8)),
    ):
        for firm in (HIGH_TECH, SME_ONLY):
            ladder = ladder_of(p, firm.categories, ON)
            for n in range(301):
                reached = [r for r in ladder.rungs if r.points <= n]
                by_ladder = (
                    (True, reached[-1].max_amount)
                    if ladder.open_to_firm and reached
                    else (False, Decimal("0.00"))
                )
                assert by_ladder == tier_of(p, firm.categories, n, ON), (p.min_points, n)
