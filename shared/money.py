"""Money: `Decimal` with exactly two places in yuan, given and shown as a JSON string."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

CENT = Decimal("0.01")
# NUMERIC(15, 2): up to 9,999,999,999,999.99 yuan, far above any single loan or portfolio total.
MAX_MONEY = Decimal("9999999999999.99")
# Yuan with at most 13 integer digits (no leading zeros) and 2 decimals, in ASCII digits
# (Python's `\d` also takes e.g. Arabic-Indic digits, which Decimal reads). The OpenAPI
# document says the same with one pattern per type (below).
_INTEGER = r"(0|[1-9][0-9]{0,12})"
_MONEY_TEXT = re.compile(rf"-?{_INTEGER}(\.[0-9]{{1,2}})?")
_MONEY_PATTERN = rf"^-?{_INTEGER}(\.[0-9]{{1,2}})?$"
_NON_NEGATIVE_PATTERN = rf"^{_INTEGER}(\.[0-9]{{1,2}})?$"
_POSITIVE_PATTERN = r"^([1-9][0-9]{0,12}(\.[0-9]{1,2})?|0\.([1-9][0-9]?|0[1-9]))$"


def round_cents(value: Decimal) -> Decimal:
    """Round to cents, half up (the rounding the contract fixes for fees)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(value: Decimal) -> str:
    """Render money with exactly two decimals, e.g. "2850000.00"."""
    return f"{value.quantize(CENT):f}"


def _parse_money(value: object) -> Decimal:
    if isinstance(value, Decimal):
        text = format(value, "f")
    elif isinstance(value, str):
        text = value
    else:
        raise PydanticCustomError(
            "money_type", 'money must be a JSON string such as "2850000.00", not a number'
        )
    if not _MONEY_TEXT.fullmatch(text):
        raise PydanticCustomError(
            "money_format",
            "money must be yuan with at most 2 decimals and at most 13 integer digits",
        )
    return Decimal(text).quantize(CENT)


def _check_range(minimum: Decimal) -> BeforeValidator:
    def check(value: object) -> Decimal:
        amount = _parse_money(value)
        if amount < minimum or (minimum >= 0 and amount.is_signed()):  # "-0.00" too
            raise PydanticCustomError(
                "money_range",
                "money must be at least {minimum}",
                {"minimum": format_money(minimum)},
            )
        return amount

    return BeforeValidator(check)


def _schema(pattern: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": pattern, "examples": ["2850000.00"]})


_SERIALIZE = PlainSerializer(format_money, return_type=str, when_used="json")

Money = Annotated[Decimal, _check_range(-MAX_MONEY), _SERIALIZE, _schema(_MONEY_PATTERN)]
"""Any amount of money (may be negative, e.g. an adjustment)."""

NonNegativeMoney = Annotated[
    Decimal, _check_range(Decimal("0.00")), _SERIALIZE, _schema(_NON_NEGATIVE_PATTERN)
]
"""Money that is zero or more (outstanding principal, fees)."""

PositiveMoney = Annotated[Decimal, _check_range(CENT), _SERIALIZE, _schema(_POSITIVE_PATTERN)]
"""Money of at least one cent (loan amounts, disbursements)."""

__all__ = ["MAX_MONEY", "Money", "NonNegativeMoney", "PositiveMoney", "format_money", "round_cents"]
