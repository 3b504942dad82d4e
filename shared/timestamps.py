"""Timestamps on the wire: RFC 3339 date-times with an offset, and nothing else.

In: pydantic's lax `datetime` also reads numbers as Unix times ("0.5" is 1970-01-01T00:00:00.5Z)
and dates without a time; the contract and the OpenAPI document (`format: date-time`) say
RFC 3339 with an offset, so `Timestamp` takes exactly that, in the years 1900-2999: at the
edges of Python's calendar (years 1 and 9999) moving to Asia/Shanghai or adding working days
overflowed into a 500.

Out, one rule: every instant a response shows — when something happened, when a token
expires, when a decision is due — is UTC with `Z` (`Instant`, `format_instant`), whatever
offset it was given or computed in; what is a day of the Shanghai business calendar is an
ISO date (`submitted_date`, `as_of`). A deadline is an instant (the end of its Shanghai
working day, 15:59:59Z), so it compares with `decided_at` as it is.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

YEARS = r"^(19[0-9]{2}|2[0-9]{3})-"  # in the document as a pattern beside `format: date-time`
_RFC3339 = re.compile(
    YEARS[1:]
    + r"[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _rfc3339(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.fullmatch(value)):
        return value
    raise PydanticCustomError(
        "datetime_format",
        "a timestamp is RFC 3339 with an offset in 1900-2999, e.g. 2026-11-20T10:00:00+08:00",
    )


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": YEARS}),
]
"""An RFC 3339 date-time with a UTC offset (a `datetime` given by code passes as is)."""


INSTANT_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$"


def format_instant(moment: datetime) -> str:
    """An aware datetime as RFC 3339 in UTC with `Z`, e.g. "2026-11-24T15:59:59Z"."""
    if moment.tzinfo is None:
        raise ValueError("an instant needs a UTC offset")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


Instant = Annotated[
    datetime,
    PlainSerializer(format_instant, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": INSTANT_PATTERN}),
]
"""A timestamp in a response: always shown in UTC with `Z` (the document says so too)."""
