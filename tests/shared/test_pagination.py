from __future__ import annotations

import pytest

from shared.errors import InvalidCursor
from shared.pagination import decode_cursor, encode_cursor

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
