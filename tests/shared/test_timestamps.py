"""Timestamps are RFC 3339 with an offset, as the contract and the document say."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from shared.timestamps import YEARS, Timestamp
from tests.factories import bearer


class Event(BaseModel):
    at: Timestamp


@pytest.mark.parametrize(
    "text",
    ["2026-11-20T10:00:00+08:00", "2026-11-20T02:00:00Z", "2026-11-20T02:00:00.123456+00:00"],
)
def test_rfc3339_with_an_offset_is_taken(text: str) -> None:
    assert Event(at=text).at == datetime(2026, 11, 20, 2, tzinfo=UTC).replace(
        microsecond=123456 if ".123456" in text else 0
    )


@pytest.mark.parametrize(
    "bad",
    [
        "0.5",
        "1700000000",
        1700000000,
        "2026-11-20",
        "2026-11-20T10:00:00",
        "2026-11-20 10:00Z",
        "0001-01-01T00:01:00.0+01:01",
        "9999-12-31T23:00:00-01:00",
        "1899-12-31T23:59:59Z",
    ],
)
def test_anything_else_is_refused(bad: object) -> None:
    # Found by the fuzz suite: ?submitted_at=0.5 was read as a Unix time (1970-01-01).
    with pytest.raises(ValidationError):
        Event(at=bad)


def test_query_timestamps_are_rfc3339(api: TestClient, admin_token: str) -> None:
    for path, name in [
        ("/v1/loans/deadline", "submitted_at"),
        ("/v1/loans/applications", "updated_since"),
        ("/v1/admin/audit", "since"),
    ]:
        response = api.get(path, params={name: "0.5"}, headers=bearer(admin_token))
        assert response.status_code == 422, (path, response.text)
        assert response.json()["errors"][0]["loc"] == ["query", name]


def test_edge_of_the_calendar_is_422_not_500(api: TestClient, admin_token: str) -> None:
    # Found by the fuzzer (long profile): a deadline for year 1 overflowed into a 500.
    for at in ("0001-01-01T00:01:00.0+01:01", "9999-12-31T23:59:59-12:00"):
        response = api.get(
            "/v1/loans/deadline", params={"submitted_at": at}, headers=bearer(admin_token)
        )
        assert response.status_code == 422, response.text
    ok = api.get(
        "/v1/loans/deadline",
        params={"submitted_at": "2999-12-31T23:59:59-12:00"},
        headers=bearer(admin_token),
    )
    assert ok.status_code == 200, ok.text


def test_the_document_says_the_same() -> None:
    schema = Event.model_json_schema()["properties"]["at"]
    assert schema == {"type": "string", "format": "date-time", "pattern": YEARS, "title": "At"}
