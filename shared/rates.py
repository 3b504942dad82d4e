"""Rates (annual interest, guarantee fee): `Decimal` with at most 4 places, as JSON strings.

Like money, a rate travels as a string ("0.0365"): a JSON number would be a float on many
clients and lose digits. Code may pass a `Decimal`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

# Above 0, below 1, at most 4 decimals: "0.0365", ".05"
RATE_PATTERN = r"^0?\.([1-9][0-9]{0,3}|0[1-9][0-9]{0,2}|00[1-9][0-9]?|000[1-9])$"
# 0 up to below 1, at most 4 decimals: "0", "0.0000", "0.0120"
NON_NEGATIVE_RATE_PATTERN = r"^(0|0?\.[0-9]{1,4})$"


def _text_only(pattern: str, lowest: str) -> BeforeValidator:
    text = re.compile(pattern)

    def check(value: object) -> object:
        if isinstance(value, str) and not text.fullmatch(value):
            raise PydanticCustomError(
                "rate_format",
                f'a rate is a string such as "0.0365": {lowest}, below 1, 4 decimals',
            )
        if not isinstance(value, str | Decimal):
            raise PydanticCustomError("rate_type", 'a rate is a JSON string such as "0.0365"')
        return value

    return BeforeValidator(check)


_AS_TEXT = PlainSerializer(lambda v: f"{v:.4f}", return_type=str, when_used="json")


def _schema(pattern: str) -> WithJsonSchema:
    return WithJsonSchema(
        {"type": "string", "pattern": pattern, "description": 'annual rate, e.g. "0.0365"'}
    )


Rate = Annotated[
    Decimal,
    _text_only(RATE_PATTERN, "above 0"),
    Field(gt=0, lt=1, max_digits=6, decimal_places=4),
    _AS_TEXT,
    _schema(RATE_PATTERN),
]
"""An annual rate above 0 and below 1 (loan interest)."""

NonNegativeRate = Annotated[
    Decimal,
    _text_only(NON_NEGATIVE_RATE_PATTERN, "0 or above"),
    Field(ge=0, lt=1, max_digits=6, decimal_places=4),
    _AS_TEXT,
    _schema(NON_NEGATIVE_RATE_PATTERN),
]
"""An annual rate from 0 up to below 1 (the guarantee fee: 0 means no fee that year)."""
