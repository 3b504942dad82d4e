from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from shared.errors import InvalidCursor
from shared.pagination import Keyset, decode_cursor, encode_cursor, next_cursor

KEY = b"k" * 32


def test_cursor_round_trips_and_is_opaque() -> None:
    cursor = encode_cursor(["2026-01-01T00:00:00+00:00", 42], key=KEY, context="audit")
    assert "42" not in cursor
    assert decode_cursor(cursor, key=KEY, context="audit") == ["2026-01-01T00:00:00+00:00", 42]


@pytest.mark.parametrize("forged", ["", "abc", "WzQyXQ", "!!!!", "A" * 200])
def test_forged_cursors_are_invalid(forged: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(forged, key=KEY, context="audit")


def test_a_cursor_from_another_list_or_tenant_is_invalid() -> None:
    cursor = encode_cursor([1], key=KEY, context="export:FIRM_A")
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, key=KEY, context="export:FIRM_B")
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, key=b"x" * 32, context="export:FIRM_A")


def test_next_cursor_points_after_the_last_row_of_the_page_only_when_more_follow() -> None:
    key = b"k" * 32
    rows = [(1, "a"), (2, "b"), (3, "c")]  # fetched as limit + 1 = 3 for limit 2
    cursor = next_cursor(rows, 2, lambda r: [r[0], r[1]], key=key, context="list")
    assert cursor is not None
    assert decode_cursor(cursor, key=key, context="list") == [2, "b"]
    assert next_cursor(rows[:2], 2, lambda r: [r[0]], key=key, context="list") is None
    assert next_cursor([], 2, lambda r: [r], key=key, context="list") is None


def test_a_keysets_values_are_read_as_the_list_orders_them() -> None:
    at = datetime(2026, 12, 3, 8, 30, tzinfo=UTC)
    ident = uuid.uuid4()
    keyset = Keyset(b"k", "list", [at.isoformat(), str(ident), "7"], 50)
    assert keyset.values(datetime, uuid.UUID, int) == (at, ident, 7)
    assert Keyset(b"k", "list", ["TZBANK"], 50).first(str) == "TZBANK"
    first_page = Keyset(b"k", "list", None, 50)
    assert first_page.first(int) is None
    assert first_page.values(datetime, int) is None


@pytest.mark.parametrize(
    "after", [["2026-12-03T08:30:00Z"], ["not a time", "1"], ["2026-12-03T08:30:00Z", "x"]]
)
def test_a_cursor_of_another_shape_is_invalid_not_a_500(after: list[str]) -> None:
    with pytest.raises(InvalidCursor):
        Keyset(b"k", "list", after, 50).values(datetime, int)
