"""Timestamps are RFC 3339 with an offset, as the contract and the document say; every one a
response shows is UTC with `Z`, business dates are dates."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from shared.clock import SHANGHAI
from shared.timestamps import INSTANT_PATTERN, YEARS, Timestamp, format_instant
from tests.factories import A_INDICATORS, Factory, bearer
from tests.periods import PeriodPool


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


# ---------------------------------------------------------------- out: one rule, UTC with Z


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation.get("responses", {}).items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("2") and schema:
                    yield method.upper(), path, schema


def _instants(
    schema: dict[str, Any], value: Any, components: dict[str, Any], at: str = ""
) -> Iterator[tuple[str, Any]]:
    """(where, value) of every value of `value` that `schema` declares `format: date-time`."""
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    for branch in [*schema.get("anyOf", []), *schema.get("oneOf", []), *schema.get("allOf", [])]:
        yield from _instants(branch, value, components, at)
    if value is None:
        return
    if schema.get("format") == "date-time":
        yield at, value
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                yield from _instants(sub, value[name], components, f"{at}.{name}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from _instants(schema["items"], item, components, f"{at}[{index}]")


def _date_time_schemas(
    schema: dict[str, Any], components: dict[str, Any], seen: set[str]
) -> Iterator[dict[str, Any]]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return
        seen.add(name)
        schema = components[name]
    if schema.get("format") == "date-time":
        yield schema
    for value in schema.values():
        children = value if isinstance(value, list) else [value]
        for child in children:
            if isinstance(child, dict):
                if value is schema.get("properties"):
                    for sub in child.values():
                        yield from _date_time_schemas(sub, components, seen)
                else:
                    yield from _date_time_schemas(child, components, seen)


def test_every_response_timestamp_is_documented_as_utc_with_z(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    components = document["components"]["schemas"]
    found = 0
    for method, path, schema in _operations(document):
        for node in _date_time_schemas(schema, components, set()):
            assert node.get("pattern") == INSTANT_PATTERN, (method, path, node)
            found += 1
    assert found >= 20


def test_responses_show_every_instant_in_utc_with_z(
    api: TestClient, factory: Factory, periods: PeriodPool, admin_token: str
) -> None:
    period = periods.fresh()
    (strong,) = factory.ranked(period, [A_INDICATORS])
    bank = factory.bank()
    product = factory.product(bank, min_points=80)
    submitted = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(days=6)
    app = factory.application(bank, product, strong, state="disbursed", submitted_at=submitted)
    assert app.body["submitted_at"] == format_instant(submitted)
    assert app.body["submitted_at"].endswith("Z")
    assert app.body["submitted_date"] == submitted.date().isoformat()  # a Shanghai date

    bank_headers, admin_headers = bearer(app.token), bearer(admin_token)
    # (path template, query, token) of GETs whose responses hold instants
    calls = [
        ("/v1/loans/applications/{app_id}", {}, bank_headers),
        ("/v1/loans/applications/{app_id}/events", {}, bank_headers),
        ("/v1/loans/applications", {"limit": 5}, bank_headers),
        ("/v1/scoring/whoami", {}, bank_headers),
        ("/v1/admin/clients", {"limit": 5}, admin_headers),
        ("/v1/admin/audit", {"limit": 5}, admin_headers),
        ("/v1/scoring/models", {}, admin_headers),
        ("/v1/scoring/runs", {"limit": 5}, admin_headers),
    ]
    document = api.get("/openapi.json").json()
    components = document["components"]["schemas"]
    schemas = {(m, p): s for m, p, s in _operations(document)}
    for template, query, headers in calls:
        url = template.format(app_id=app.id)
        response = api.get(url, params=query, headers=headers)
        assert response.status_code == 200, (url, response.text)
        instants = list(_instants(schemas["GET", template], response.json(), components))
        assert instants, url
        for where, value in instants:
            assert re.fullmatch(INSTANT_PATTERN, value), (url, where, value)

    events = api.get(f"/v1/loans/applications/{app.id}/events", headers=bank_headers).json()[
        "items"
    ]
    submitted_event = next(e for e in events if e["type"] == "submitted")
    assert submitted_event["data"]["due_at"] == app.body["decision_due_at"]


def test_a_deadline_is_an_instant_like_any_other(api: TestClient, admin_token: str) -> None:
    # Friday 2026-11-20 10:00 in Taizhou: due Tuesday 2026-11-24 23:59:59 Shanghai time.
    response = api.get(
        "/v1/loans/deadline",
        params={"submitted_at": "2026-11-20T10:00:00+08:00"},
        headers=bearer(admin_token),
    )
    assert response.status_code == 200, response.text
    deadline = response.json()
    assert deadline["submitted_at"] == "2026-11-20T02:00:00Z"
    assert deadline["submitted_date"] == "2026-11-20"
    assert deadline["due_at"] == "2026-11-24T15:59:59Z"


def test_format_instant() -> None:
    assert format_instant(datetime(2026, 11, 24, 23, 59, 59, tzinfo=SHANGHAI)) == (
        "2026-11-24T15:59:59Z"
    )
    assert format_instant(datetime(2026, 1, 1, 0, 0, 0, 5, tzinfo=UTC)) == (
        "2026-01-01T00:00:00.000005Z"
    )
    with pytest.raises(ValueError, match="offset"):
        format_instant(datetime(2026, 1, 1))
