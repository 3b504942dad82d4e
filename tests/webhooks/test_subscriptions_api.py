"""`/v1/loans/webhooks`: a bank's endpoints and the bureau's, their secrets, tests and
deliveries."""

from __future__ import annotations

import typing

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from services.loans.webhooks import secrets
from services.loans.webhooks.models import Delivery, Subscription
from services.loans.webhooks.payloads import SUBSCRIBABLE
from services.loans.webhooks.schemas import Subscribable
from shared.crypto import KeyEncryptor
from shared.settings import CoreSettings
from tests.factories import Factory, bearer

HOOK = {"url": "https://hooks.tzbank.example/innocredit", "events": ["application.decided"]}


def test_the_schema_offers_every_subscribable_type() -> None:
    assert set(typing.get_args(Subscribable.__value__)) == set(SUBSCRIBABLE)


def test_a_bank_creates_changes_lists_and_deletes_its_endpoint(
    api: TestClient, factory: Factory, db: sessionmaker[Session], settings: CoreSettings
) -> None:
    bank = factory.bank()
    h = bearer(factory.bank_token(bank))
    created = api.put("/v1/loans/webhooks/core", headers=h, json=HOOK)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/v1/loans/webhooks/core"
    assert created.headers["cache-control"] == "no-store"
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    with db() as session:
        row = session.query(Subscription).filter_by(owner=bank, name="core").one()
        stored = secrets.unseal(KeyEncryptor(settings.key_encryption_key), row.secret_sealed)
        assert secrets.shown(stored) == secret
        assert secret.encode() not in row.secret_sealed  # sealed, not kept in clear
    changed = api.put(
        "/v1/loans/webhooks/core",
        headers=h,
        json={**HOOK, "events": ["application.submitted", "application.decided"]},
    )
    assert changed.status_code == 200, changed.text
    assert "secret" not in changed.json()
    assert changed.json()["events"] == ["application.decided", "application.submitted"]
    listed = api.get("/v1/loans/webhooks", headers=h).json()
    assert [w["name"] for w in listed["items"]] == ["core"]
    assert api.get("/v1/loans/webhooks/core", headers=h).json()["pending"] == 0
    assert api.delete("/v1/loans/webhooks/core", headers=h).status_code == 204
    gone = api.get("/v1/loans/webhooks/core", headers=h)
    assert (gone.status_code, gone.json()["type"]) == (404, "/problems/webhook-not-found")


def test_bad_endpoints_are_422_with_where(api: TestClient, factory: Factory) -> None:
    h = bearer(factory.bank_token(factory.bank()))
    for url in ("http://hooks.example/", "https://10.0.0.1/", "https://localhost/"):
        r = api.put("/v1/loans/webhooks/bad", headers=h, json={**HOOK, "url": url})
        assert r.status_code == 422, (url, r.text)
        assert r.json()["errors"][0]["loc"] == ["body", "url"]
    unknown = api.put("/v1/loans/webhooks/bad", headers=h, json={**HOOK, "events": ["x.y"]})
    assert unknown.status_code == 422
    extra = api.put("/v1/loans/webhooks/bad", headers=h, json={**HOOK, "secret": "mine"})
    assert extra.status_code == 422
    bad_name = api.put("/v1/loans/webhooks/Bad_Name", headers=h, json=HOOK)
    assert bad_name.status_code == 422
    assert api.get("/v1/loans/webhooks", headers=h).json()["items"] == []


def test_at_most_ten_endpoints(api: TestClient, factory: Factory) -> None:
    h = bearer(factory.bank_token(factory.bank()))
    for i in range(10):
        assert api.put(f"/v1/loans/webhooks/e{i}", headers=h, json=HOOK).status_code == 201
    r = api.put("/v1/loans/webhooks/e10", headers=h, json=HOOK)
    assert (r.status_code, r.json()["type"]) == (409, "/problems/webhook-limit")
    assert api.put("/v1/loans/webhooks/e3", headers=h, json=HOOK).status_code == 200


def test_another_banks_endpoint_is_not_found(api: TestClient, factory: Factory) -> None:
    a = bearer(factory.bank_token(factory.bank()))
    b = bearer(factory.bank_token(factory.bank()))
    assert api.put("/v1/loans/webhooks/mine", headers=a, json=HOOK).status_code == 201
    for method, path in (
        ("GET", "/v1/loans/webhooks/mine"),
        ("DELETE", "/v1/loans/webhooks/mine"),
        ("POST", "/v1/loans/webhooks/mine/test"),
        ("POST", "/v1/loans/webhooks/mine/rotate-secret"),
        ("GET", "/v1/loans/webhooks/mine/deliveries"),
    ):
        r = api.request(method, path, headers=b, json={} if path.endswith("secret") else None)
        assert (r.status_code, r.json()["type"]) == (404, "/problems/webhook-not-found"), path
    assert api.get("/v1/loans/webhooks", headers=b).json()["items"] == []
    assert api.get("/v1/loans/webhooks/mine", headers=a).status_code == 200


def test_the_bureau_subscribes_to_overdue_only_and_others_are_refused(
    api: TestClient, factory: Factory
) -> None:
    bureau = bearer(factory.token("bureau"))
    # The bureau's endpoints are one owner's for every bureau client: start from none.
    for hook in api.get("/v1/loans/webhooks?limit=500", headers=bureau).json()["items"]:
        api.delete(f"/v1/loans/webhooks/{hook['name']}", headers=bureau)
    wrong = api.put("/v1/loans/webhooks/all", headers=bureau, json=HOOK)
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["errors"][0]["loc"][:2] == ["body", "events"]
    ok = {**HOOK, "events": ["application.decision_overdue"]}
    assert api.put("/v1/loans/webhooks/overdue", headers=bureau, json=ok).status_code == 201
    assert [w["name"] for w in api.get("/v1/loans/webhooks", headers=bureau).json()["items"]] == [
        "overdue"
    ]
    for role in ("admin", "credit_firm"):
        kwargs = {"firm_code": "CF_WEBHOOK"} if role == "credit_firm" else {}
        h = bearer(factory.token(role, **kwargs))
        assert api.get("/v1/loans/webhooks", headers=h).status_code == 403, role


def test_rotation_keeps_the_old_secret_for_the_overlap_then_two_at_most(
    api: TestClient, factory: Factory
) -> None:
    h = bearer(factory.bank_token(factory.bank()))
    first = api.put("/v1/loans/webhooks/rot", headers=h, json=HOOK).json()["secret"]
    r = api.post("/v1/loans/webhooks/rot/rotate-secret", headers=h, json={"overlap_seconds": 60})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    second = r.json()
    assert second["secret"] not in (first, None)
    assert second["previous_secret_valid_until"] is not None
    shown = api.get("/v1/loans/webhooks/rot", headers=h).json()
    assert shown["previous_secret_valid_until"] == second["previous_secret_valid_until"]
    none = api.post("/v1/loans/webhooks/rot/rotate-secret", headers=h, json={"overlap_seconds": 0})
    assert none.json()["previous_secret_valid_until"] is None
    too_long = api.post(
        "/v1/loans/webhooks/rot/rotate-secret", headers=h, json={"overlap_seconds": 604801}
    )
    assert too_long.status_code == 422


def test_a_ping_is_a_pending_delivery_and_can_be_redelivered(
    api: TestClient, factory: Factory, db: sessionmaker[Session]
) -> None:
    h = bearer(factory.bank_token(factory.bank()))
    assert api.put("/v1/loans/webhooks/ping", headers=h, json=HOOK).status_code == 201
    r = api.post("/v1/loans/webhooks/ping/test", headers=h)
    assert r.status_code == 202, r.text
    ping = r.json()
    assert ping["event"].startswith("evt_")
    listed = api.get("/v1/loans/webhooks/ping/deliveries", headers=h).json()["items"]
    assert [(d["id"], d["event"]["id"], d["event"]["type"], d["state"]) for d in listed] == [
        (ping["delivery"], ping["event"], "webhook.test", "pending")
    ]
    assert api.get("/v1/loans/webhooks/ping", headers=h).json()["pending"] == 1
    with db.begin() as session:  # as the worker leaves it once delivered
        session.query(Delivery).filter_by(id=ping["delivery"]).update(
            {"state": "delivered", "attempts": 1}
        )
    delivered = api.get("/v1/loans/webhooks/ping/deliveries?state=delivered", headers=h).json()
    assert [d["id"] for d in delivered["items"]] == [ping["delivery"]]
    again = api.post(f"/v1/loans/webhooks/ping/deliveries/{ping['delivery']}/redeliver", headers=h)
    assert again.status_code == 202, again.text
    assert (again.json()["state"], again.json()["attempt_count"]) == ("pending", 0)
    missing = api.post("/v1/loans/webhooks/ping/deliveries/999999999/redeliver", headers=h)
    assert (missing.status_code, missing.json()["type"]) == (404, "/problems/delivery-not-found")
