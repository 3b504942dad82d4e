"""A points breakdown as stored in `sc_points.breakdown` and shown by the API: every value a
string — money in yuan with two decimals, counts as integers, derived ratios to 6 decimals."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from services.scoring.pointsmodel import Item
from shared.money import format_money

MONEY_INDICATORS = frozenset({"rd_expense", "revenue", "equity_financing", "jbgs_funds_paid"})
"""The indicators that are amounts of money (yuan)."""


def breakdown_json(items: Sequence[Item]) -> list[dict[str, str | None]]:
    """The stored form of a breakdown: strings, derived ratios to 6 decimals."""
    return [
        {
            "indicator": i.indicator,
            "value": None if i.value is None else show_value(i.indicator, i.value),
            "points": f"{i.points}",
            "cap": f"{i.cap}",
            "note": i.note,
        }
        for i in items
    ]


def show_value(indicator: str, value: Decimal) -> str:
    """An indicator's value as the breakdown shows it."""
    if indicator in MONEY_INDICATORS:
        return format_money(value)
    return format(value.quantize(Decimal("0.000001")).normalize(), "f")
