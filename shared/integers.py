"""Integers in request bodies: a JSON integer, and nothing that merely looks like one.

Pydantic's lax `int` takes `"12"`, `12.0` and `true` (as 1). Money sent as a number is refused
(`shared.money`: floats lose cents); by the same rule an integer field of a JSON body takes a
JSON integer only — `"term_months": "12"` is a 422, as the document (`type: integer`) says.
A CSV cell is text by nature, so `shared.bulk` validates CSV rows with `strict=False`, which
reads a cell of digits as the integer it spells. Query and path parameters are text too and
keep FastAPI's conversion; they never meet this type.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Strict

Integer = Annotated[int, Strict()]
"""An integer of a request body; constraints (`Field(ge=1, le=360)`) go beside it as usual."""

INTEGER_MESSAGE = "must be a JSON integer such as 12, not a string, a fraction or true/false"
"""What a caller is told when an `Integer` field got something else (see `validation_errors`)."""

__all__ = ["INTEGER_MESSAGE", "Integer"]
