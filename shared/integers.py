"""Integers in request bodies: a JSON integer, and nothing that merely looks like one.

Pydantic's lax `int` takes `"12"` and `true` (as 1). Money sent as a number is refused
(`shared.money`: floats lose cents); by the same rule an integer field of a JSON body takes a
JSON number without a fraction only — `"term_months": "12"` is a 422. `12.0` is taken as 12:
JSON Schema's `type: integer`, which the document declares, counts it as an integer.

A CSV cell is text by nature, so `shared.bulk` validates CSV rows with `strict=False`, which
reads a cell of digits as the integer it spells. Query and path parameters are text too and
keep FastAPI's conversion; they never meet this type.

Constraints go *before* the marker so they stay in the document (`minimum`, `maximum`):
`Annotated[int, Field(ge=1, le=360), JSON_INTEGER]`; `Integer` is the marker alone, for a
field whose constraints are its `Field(...)` default (not an optional field: pydantic cannot
document constraints given after a validator inside a union).
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema


def _without_fraction(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class JsonInteger:
    """Annotation marker: the int before it is strict (no strings, no booleans, no fractions),
    except that a float without a fraction is the integer it equals."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """The int schema built so far (constraints included), made strict and fed integers."""
        inner = handler(source)
        if inner["type"] != "int":
            raise TypeError("JSON_INTEGER marks an int (constraints before it, validators after)")
        strict = cast(core_schema.IntSchema, {**inner, "strict": True})
        return core_schema.no_info_before_validator_function(_without_fraction, strict)


JSON_INTEGER = JsonInteger()
"""The marker, last in `Annotated[int, Field(...), JSON_INTEGER]`."""

Integer = Annotated[int, JSON_INTEGER]
"""An integer of a request body, constrained by the field's `Field(ge=…, le=…)` default."""

INTEGER_MESSAGE = "must be a JSON integer such as 12, not a string, a fraction or true/false"
"""What a caller is told when an integer field got something else (see `validation_errors`)."""

__all__ = ["INTEGER_MESSAGE", "JSON_INTEGER", "Integer", "JsonInteger"]
