"""Content negotiation by RFC 9110 §12.5.1, without HTTP: weights, wildcards, exclusions."""

from __future__ import annotations

import pytest

from shared.negotiation import CSV, JSON, NDJSON, XLSX, choose, parse_accept, quality

FILE_ROUTE = (JSON, CSV, XLSX)
EXPORT = (NDJSON, CSV, XLSX)


@pytest.mark.parametrize(
    ("accept", "offered", "chosen"),
    [
        (None, FILE_ROUTE, JSON),  # no Accept: the route's first offer
        ("", FILE_ROUTE, JSON),
        ("*/*", FILE_ROUTE, JSON),
        ("*/*", EXPORT, NDJSON),
        ("text/csv", FILE_ROUTE, CSV),
        ("TEXT/CSV", FILE_ROUTE, CSV),  # types are case-insensitive
        ("text/*", FILE_ROUTE, CSV),
        ("application/*", FILE_ROUTE, JSON),
        (XLSX, FILE_ROUTE, XLSX),
        ("text/csv;q=0.5, application/json", FILE_ROUTE, JSON),
        ("text/csv, application/json;q=0.9", FILE_ROUTE, CSV),
        ("text/csv; charset=utf-8", FILE_ROUTE, CSV),  # parameters other than q are ignored
        # q=0 excludes: the more specific range wins over the wildcard.
        ("application/json;q=0, */*", FILE_ROUTE, CSV),
        ("application/json;q=0, text/csv;q=0, */*;q=0.1", FILE_ROUTE, XLSX),
        ("text/csv;q=0, text/*", FILE_ROUTE, None),
        ("*/*;q=0", FILE_ROUTE, None),
        ("image/png", FILE_ROUTE, None),
        ("image/png", (JSON,), None),
        ("text/csv", (JSON,), None),
        ("application/problem+json", (JSON,), None),
        ("text/html, application/xhtml+xml, */*;q=0.8", (JSON,), JSON),  # a browser
        # Equal weights: the route's order of preference decides.
        ("text/csv, application/json", FILE_ROUTE, JSON),
        # Unreadable elements are ignored; nothing readable is as good as no Accept.
        ("garbage", FILE_ROUTE, JSON),
        ("text/csv;q=2, image/png", FILE_ROUTE, None),
        ("*/csv", FILE_ROUTE, JSON),
    ],
)
def test_choose(accept: str | None, offered: tuple[str, ...], chosen: str | None) -> None:
    assert choose(accept, offered) == chosen


def test_weights_are_parsed_exactly() -> None:
    ranges = parse_accept("text/csv;q=0.25;foo=bar, application/json ; Q = 1.000, image/*;q=0")
    assert [(r.type, r.subtype, r.q) for r in ranges] == [
        ("text", "csv", 0.25),
        ("application", "json", 1.0),
        ("image", "*", 0.0),
    ]
    assert quality(ranges, "image/png") == 0.0
    assert quality(ranges, "text/plain") == 0.0
    assert quality(ranges, CSV) == 0.25
