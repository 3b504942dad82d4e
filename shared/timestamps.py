"""Timestamps on the wire: RFC 3339 date-times with an offset, and nothing else.

Pydantic's lax `datetime` also reads numbers as Unix times ("0.5" is 1970-01-01T00:00:00.5Z)
and dates without a time; the contract and the OpenAPI document (`format: date-time`) say
RFC 3339 with an offset, so `Timestamp` takes exactly that, in the years 1900-2999: at the
edges of Python's calendar (years 1 and 9999) moving to Asia/Shanghai or adding working days
overflowed into a 500.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator, WithJsonSchema
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
