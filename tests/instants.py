"""Finding the timestamps in an answer, to hold them to the README's one rule (UTC, `Z`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
UTC_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def instants(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every RFC 3339 date-time string in a JSON value, with where it is (`.a.b[0]`)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from instants(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from instants(inner, f"{where}[{i}]")
    elif isinstance(value, str) and INSTANT.match(value):
        yield where, value
