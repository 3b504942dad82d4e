"""Quotes, applications, idempotency, lifecycle, ETags — through the gateway.

Another bank's applications and products (BOLA) are swept in tests/test_bola.py."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import bearer, new_key
from tests.loans.world import World, application


def submit(api: TestClient, w: World, key: str | None = None, **overrides: Any) -> httpx.Response:
    response: httpx.Response = api.post(
        "/v1/loans/applications", headers=w.a(key or new_key()), json=application(w, **overrides)
    )
    return response


def test_quote_gives_tier_or_reasons(api: TestClient, world: World) -> None:
    q = api.get(
        f"/v1/loans/products/{world.product_a}/quote",
        headers=world.a(),
        params={"uscc": world.strong},
    ).json()
    assert q["eligible"] is True
    assert q["max_amount"] == "3000000.00"  # 174 points: the 150-point tier
    assert q["points"] == 174
    assert q["model_version"] == "TZ-2025.1"
    assert [r["code"] for r in q["reasons"]] == ["tier-applied"]

    weak = api.get(
        f"/v1/loans/products/{world.product_a}/quote",
        headers=world.a(),
        params={"uscc": world.weak},
    ).json()
    assert weak["eligible"] is False
    assert weak["max_amount"] == "0.00"
    assert {r["code"] for r in weak["reasons"]} == {"category-missing", "below-min-points"}

    bad = api.get(
        f"/v1/loans/products/{world.product_a}/quote",
        headers=world.a(),
        params={"uscc": "91321200MA1N2X3Y47"},
    )
    assert bad.status_code == 422
    assert bad.json()["type"].endswith("/problems/invalid-uscc")


def test_products_and_banks_are_scoped_to_the_bank(api: TestClient, world: World) -> None:
    mine = {p["code"] for p in api.get("/v1/loans/products", headers=world.a()).json()["items"]}
    assert world.product_a in mine
    assert world.product_b not in mine
    everything = {
        p["code"]
        for p in api.get("/v1/loans/products", headers=bearer(world.bureau)).json()["items"]
    }
    assert {world.product_a, world.product_b} <= everything
    assert [b["code"] for b in api.get("/v1/loans/banks", headers=world.a()).json()["items"]] == [
        world.bank_a
    ]


def test_submission_snapshots_points_and_sets_the_deadline(api: TestClient, world: World) -> None:
    r = submit(api, world, submitted_at="2026-11-20T10:00:00+08:00")
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"/v1/loans/applications/{body['id']}"
    assert body["status"] == "submitted"
    assert body["amount"] == "2850000.00"
    assert body["points_snapshot"] == 174
    assert body["model_version_snapshot"] == "TZ-2025.1"
    assert body["rank_snapshot"] >= 1
    assert body["decision_due_at"] == "2026-11-24T15:59:59Z"  # 23:59:59 in Shanghai
    assert body["deadline_provisional"] is False
    events = api.get(f"/v1/loans/applications/{body['id']}/events", headers=world.a()).json()[
        "items"
    ]
    assert [e["type"] for e in events] == ["submitted"]


@pytest.mark.parametrize(
    ("overrides", "status", "slug"),
    [
        ({"amount": "3000000.01"}, 422, "amount-over-quote"),
        ({"uscc": "WEAK"}, 422, "ineligible"),
        ({"term_months": 48}, 422, "terms-out-of-range"),
        ({"amount": "100.001"}, 422, "validation-error"),
        ({"amount": -5}, 422, "validation-error"),
        ({"amount": "-5.00"}, 422, "validation-error"),
        ({"amount": 2850000.1}, 422, "validation-error"),
        ({"amount": "99999999999999999.00"}, 422, "validation-error"),
        ({"submitted_at": "2026-11-20T10:00:00"}, 422, "validation-error"),  # no offset
        ({"submitted_at": "2099-01-01T00:00:00+08:00"}, 422, "bad-timing"),
        ({"status": "approved"}, 422, "validation-error"),  # mass assignment
        ({"bank_code": "OTHER"}, 422, "validation-error"),
        ({"uscc": "91321200MA1N2X3Y47"}, 422, "invalid-uscc"),
        ({"product_code": "NO-SUCH"}, 404, "product-not-found"),
    ],
)
def test_bad_applications_write_nothing(
    api: TestClient, world: World, overrides: dict[str, Any], status: int, slug: str
) -> None:
    if overrides.get("uscc") == "WEAK":
        overrides = {**overrides, "uscc": world.weak}
    before = len(
        api.get("/v1/loans/applications", headers=world.a(), params={"limit": 500}).json()["items"]
    )
    r = submit(api, world, **overrides)
    assert r.status_code == status, r.text
    assert r.json()["type"].endswith(f"/problems/{slug}")
    after = len(
        api.get("/v1/loans/applications", headers=world.a(), params={"limit": 500}).json()["items"]
    )
    assert after == before


def test_idempotency_key_is_required(api: TestClient, world: World) -> None:
    r = api.post("/v1/loans/applications", headers=world.a(), json=application(world))
    assert r.status_code == 400
    assert r.json()["type"].endswith("/problems/idempotency-key-required")


def test_same_key_same_body_replays_different_body_is_422(api: TestClient, world: World) -> None:
    key = new_key()
    first = submit(api, world, key)
    again = submit(api, world, key)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    other = submit(api, world, key, amount="1000000.00")
    assert other.status_code == 422
    assert other.json()["type"].endswith("/problems/idempotency-key-reused")


def test_keys_are_per_client_and_a_failed_request_frees_its_key(
    api: TestClient, world: World
) -> None:
    key = new_key()
    a = submit(api, world, key)
    b = api.post(
        "/v1/loans/applications",
        headers=world.b(key),
        json=application(world, product_code=world.product_b),
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]

    retry_key = new_key()
    bad = submit(api, world, retry_key, amount="9000000.00")
    assert bad.status_code == 422
    fixed = submit(api, world, retry_key, amount="2000000.00")
    assert fixed.status_code == 201
    assert "idempotent-replayed" not in fixed.headers


def test_lifecycle_decision_disbursements_repayment(api: TestClient, world: World) -> None:
    app = submit(api, world, submitted_at="2026-11-20T10:00:00+08:00").json()
    url = f"/v1/loans/applications/{app['id']}"
    decision = api.post(
        f"{url}/decision",
        headers=world.a(new_key()),
        json={
            "outcome": "approved",
            "approved_amount": "2850000.00",
            "annual_rate": "0.0365",
            "reason_codes": ["points"],
            "decided_at": "2026-11-23T16:00:00+08:00",
        },
    )
    assert decision.status_code == 200, decision.text
    decided = decision.json()
    assert decided["status"] == "approved"
    assert decided["decision_working_days"] == 1
    assert decided["on_time"] is True
    assert decided["annual_rate"] == "0.0365"

    twice = api.post(
        f"{url}/decision",
        headers=world.a(new_key()),
        json={"outcome": "rejected", "reason_codes": []},
    )
    assert twice.status_code == 409
    assert twice.json()["type"].endswith("/problems/invalid-transition")

    part = api.post(
        f"{url}/disbursements",
        headers=world.a(new_key()),
        json={
            "amount": "2000000.00",
            "disbursed_at": "2026-11-24T09:00:00+08:00",
            "reference": "D1",
        },
    )
    assert part.status_code == 200, part.text
    over = api.post(
        f"{url}/disbursements",
        headers=world.a(new_key()),
        json={
            "amount": "850000.01",
            "disbursed_at": "2026-11-24T10:00:00+08:00",
            "reference": "D2",
        },
    )
    assert over.status_code == 422
    assert over.json()["type"].endswith("/problems/over-approved")
    rest = api.post(
        f"{url}/disbursements",
        headers=world.a(new_key()),
        json={
            "amount": "850000.00",
            "disbursed_at": "2026-11-24T10:00:00+08:00",
            "reference": "D2",
        },
    )
    assert rest.json()["disbursed_total"] == "2850000.00"
    assert rest.json()["status"] == "disbursed"

    overdue = api.post(
        f"{url}/repayment-status",
        headers=world.a(new_key()),
        json={"status": "overdue", "outstanding_principal": "2000000.00", "as_of": "2026-11-25"},
    )
    assert overdue.json()["status"] == "overdue"
    repaid = api.post(
        f"{url}/repayment-status",
        headers=world.a(new_key()),
        json={"status": "repaid", "outstanding_principal": "0.00", "as_of": "2026-11-25"},
    )
    assert repaid.json()["status"] == "repaid"
    withdraw = api.post(f"{url}/withdraw", headers=world.a())
    assert withdraw.status_code == 409

    events = api.get(f"{url}/events", headers=world.a()).json()["items"]
    assert [e["type"] for e in events] == [
        "submitted",
        "decision",
        "disbursement",
        "disbursement",
        "repayment-status",
        "repayment-status",
    ]
    assert [e["to_status"] for e in events][-1] == "repaid"


def test_late_decision_is_not_on_time(api: TestClient, world: World) -> None:
    app = submit(api, world, submitted_at="2026-09-30T10:00:00+08:00").json()
    assert app["decision_due_at"] == "2026-10-09T15:59:59Z"  # 23:59:59 in Shanghai
    r = api.post(
        f"/v1/loans/applications/{app['id']}/decision",
        headers=world.a(new_key()),
        json={
            "outcome": "rejected",
            "reason_codes": ["late"],
            "decided_at": "2026-10-10T09:00:00+08:00",
        },
    )  # the make-up Saturday
    assert r.json()["decision_working_days"] == 3
    assert r.json()["on_time"] is False


def test_etag_and_if_match(api: TestClient, world: World) -> None:
    app = submit(api, world).json()
    url = f"/v1/loans/applications/{app['id']}"
    got = api.get(url, headers=world.a())
    tag = got.headers["etag"]
    stale = api.post(f"{url}/withdraw", headers={**world.a(), "If-Match": '"stale"'})
    assert stale.status_code == 412
    ok = api.post(f"{url}/withdraw", headers={**world.a(), "If-Match": tag})
    assert ok.status_code == 200
    assert ok.headers["etag"] != tag


def test_bureau_reads_everything_but_cannot_write(api: TestClient, world: World) -> None:
    app = submit(api, world).json()
    bureau = bearer(world.bureau)
    assert api.get(f"/v1/loans/applications/{app['id']}", headers=bureau).status_code == 200
    r = api.post(f"/v1/loans/applications/{app['id']}/withdraw", headers=bureau)
    assert r.status_code == 403
    r = api.post(
        "/v1/loans/applications",
        headers={**bureau, "Idempotency-Key": new_key()},
        json=application(world),
    )
    assert r.status_code == 403


def test_list_pages_in_update_order(api: TestClient, world: World) -> None:
    for _ in range(3):
        submit(api, world)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/v1/loans/applications", headers=world.a(), params=params).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) >= 3


@pytest.mark.parametrize("rate", [0.0365, 1, "0.03651", "1.0000", "0.0000", "٠.٠٣", " 0.0365"])
def test_rates_are_exactly_what_the_openapi_pattern_says(rate: object) -> None:
    # Found by the fuzz suite: the document allowed any string or number for a rate.
    from services.loans.schemas import DecisionIn
    from shared.rates import RATE_PATTERN

    with pytest.raises(ValidationError):
        DecisionIn.model_validate(
            {"outcome": "approved", "approved_amount": "100.00", "annual_rate": rate}
        )
    assert not (isinstance(rate, str) and re.search(RATE_PATTERN, rate))
    ok = DecisionIn.model_validate(
        {"outcome": "approved", "approved_amount": "100.00", "annual_rate": ".0365"}
    )
    assert ok.model_dump(mode="json")["annual_rate"] == "0.0365"


def test_idempotency_keys_are_what_the_document_declares() -> None:
    # The document declares the header required, 1-255 printable ASCII, not blank.
    from services.loans.errors import IdempotencyKeyInvalid, IdempotencyKeyRequired
    from services.loans.idempotency import PARAMETER, check_key

    pattern = PARAMETER["schema"]["pattern"]
    for good in ("k", "order 42/retry=1", "~" * 255):
        assert check_key(good) == good
        assert re.search(pattern, good)
    for missing in (None, "", "   "):
        with pytest.raises(IdempotencyKeyRequired):
            check_key(missing)
    for bad in ("clé", "tab\there", "x" * 256):
        with pytest.raises(IdempotencyKeyInvalid):
            check_key(bad)


def test_a_key_is_free_again_once_its_day_is_over(
    api: TestClient, world: World, db: sessionmaker[Session]
) -> None:
    key = new_key()
    first = submit(api, world, key)
    assert first.status_code == 201
    other = {"term_months": 24}
    assert submit(api, world, key, **other).status_code == 422  # reused within its lifetime
    with db.begin() as session:
        session.execute(
            text(
                "UPDATE loan_idempotency_key SET expires_at = now() - interval '1 second' "
                "WHERE key = :key"
            ),
            {"key": key},
        )
    second = submit(api, world, key, **other)
    assert second.status_code == 201, second.text
    assert second.json()["id"] != first.json()["id"]
    replay = submit(api, world, key, **other)
    assert replay.json()["id"] == second.json()["id"]
    assert replay.headers["idempotent-replayed"] == "true"
