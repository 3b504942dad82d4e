"""How a bank's write is read: integers are JSON integers, and a bad Idempotency-Key is not a
missing one."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from shared.integers import INTEGER_MESSAGE
from tests.factories import new_key
from tests.loans.world import World, application

SUBMIT = "/v1/loans/applications"


@pytest.mark.parametrize("term", ["12", 12.5, True])
def test_an_integer_sent_as_a_string_a_fraction_or_a_boolean_is_refused(
    api: TestClient, world: World, term: object
) -> None:
    r = api.post(SUBMIT, headers=world.a(new_key()), json=application(world, term_months=term))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["type"] == "/problems/validation-error"
    assert body["errors"] == [
        {"loc": ["body", "term_months"], "msg": INTEGER_MESSAGE, "type": "int_type"}
    ]
    assert "body.term_months" in body["detail"]
    for whole in (12, 12.0):  # JSON Schema's `integer` counts 12.0 as one
        ok = api.post(
            SUBMIT, headers=world.a(new_key()), json=application(world, term_months=whole)
        )
        assert ok.status_code == 201, ok.text
        assert ok.json()["term_months"] == 12


def test_a_decision_term_is_an_integer_too(api: TestClient, world: World) -> None:
    created = api.post(SUBMIT, headers=world.a(new_key()), json=application(world))
    decision = {
        "outcome": "approved",
        "approved_amount": "1000000.00",
        "annual_rate": "0.0400",
        "term_months": "12",
    }
    r = api.post(
        f"{SUBMIT}/{created.json()['id']}/decision", headers=world.a(new_key()), json=decision
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", "term_months"]


@pytest.mark.parametrize(
    ("key", "slug", "detail"),
    [
        (None, "idempotency-key-required", "needs an Idempotency-Key header"),
        ("   ", "idempotency-key-required", "needs an Idempotency-Key header"),
        ("k" * 256, "invalid-idempotency-key", "has 256 characters; at most 255"),
        ("ключ", "invalid-idempotency-key", "printable ASCII"),
    ],
)
def test_a_bad_idempotency_key_is_not_a_missing_one(
    api: TestClient, world: World, key: str | None, slug: str, detail: str
) -> None:
    headers: dict[str, str | bytes] = {**world.a()}
    if key is not None:
        headers["Idempotency-Key"] = key.encode()  # raw UTF-8, as some clients send it
    r = api.post(SUBMIT, headers=headers, json=application(world))
    assert r.status_code == 400, r.text
    assert r.json()["type"] == f"/problems/{slug}"
    assert detail in r.json()["detail"]
    longest = api.post(SUBMIT, headers=world.a("k" * 255), json=application(world))
    assert longest.status_code in (201, 200), longest.text
