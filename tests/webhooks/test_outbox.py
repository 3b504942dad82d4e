"""The outbox: each application change writes its event in its own transaction, for the
endpoints of the application's own bank only."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.loans import lifecycle, schedule
from services.loans.applications import Actor
from services.loans.schemas import CalendarIn
from services.loans.webhooks.models import Delivery, Event
from services.loans.webhooks.payloads import SUBSCRIBABLE
from shared.auth.tenancy import OneBank
from tests.factories import A_INDICATORS, Factory, bearer, new_key
from tests.periods import PeriodPool
from tests.webhooks.documented import assert_documented

EVERYTHING = {"url": "https://hooks.example/all", "events": list(SUBSCRIBABLE)}


@pytest.fixture(scope="module")
def world(factory: Factory, periods: PeriodPool) -> dict[str, str]:
    period = periods.fresh(previous=True)
    (uscc,) = factory.ranked(period, [A_INDICATORS])
    bank = factory.bank()
    other = factory.bank()
    return {
        "uscc": uscc,
        "bank": bank,
        "product": factory.product(bank, min_points=80),
        "other": other,
        "other_product": factory.product(other, min_points=80),
    }


def _subscribe(api: TestClient, factory: Factory, bank: str) -> None:
    h = bearer(factory.bank_token(bank))
    r = api.put("/v1/loans/webhooks/all", headers=h, json=EVERYTHING)
    assert r.status_code in (200, 201), r.text


def _events(session: Session, app_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Event).where(Event.ordering_key == f"app:{app_id}").order_by(Event.seq)
    )
    return [json.loads(row.body) for row in rows]


def test_each_change_writes_its_event_with_the_application_as_the_api_shows_it(
    api: TestClient, factory: Factory, db: sessionmaker[Session], world: dict[str, str]
) -> None:
    _subscribe(api, factory, world["bank"])
    app = factory.application(world["bank"], world["product"], world["uscc"], state="repaid")
    h = bearer(app.token)
    shown = api.get(f"/v1/loans/applications/{app.id}", headers=h).json()
    history = api.get(f"/v1/loans/applications/{app.id}/events", headers=h).json()["items"]
    with db() as session:
        events = _events(session, app.id)
        deliveries = session.scalars(
            select(Delivery).where(Delivery.ordering_key == f"app:{app.id}")
        ).all()
    assert [e["type"] for e in events] == [
        "application.submitted",
        "application.decided",
        "application.disbursed",
        "application.repayment_status_changed",
    ]
    assert [e["data"]["change"] for e in events] == history
    assert {e["bank_code"] for e in events} == {world["bank"]}
    assert events[-1]["data"]["application"] == shown
    assert [e["occurred_at"] for e in events] == [c["at"] for c in history]
    assert all(e["id"].startswith("evt_") and e["version"] == 1 for e in events)
    assert len(deliveries) == 4
    document = api.get("/openapi.json").json()
    for event in events:
        assert_documented(document, event)
    assert {(d.owner, d.state) for d in deliveries} == {(world["bank"], "pending")}


def test_a_withdrawal_and_an_idempotent_replay(
    api: TestClient, factory: Factory, db: sessionmaker[Session], world: dict[str, str]
) -> None:
    _subscribe(api, factory, world["bank"])
    app = factory.application(world["bank"], world["product"], world["uscc"])
    h = {**bearer(app.token), "Idempotency-Key": new_key()}
    decision = {"outcome": "rejected", "reason_codes": ["risk"]}
    first = api.post(f"/v1/loans/applications/{app.id}/decision", headers=h, json=decision)
    replay = api.post(f"/v1/loans/applications/{app.id}/decision", headers=h, json=decision)
    assert (first.status_code, replay.headers.get("idempotent-replayed")) == (200, "true")
    with db() as session:
        assert [e["type"] for e in _events(session, app.id)] == [
            "application.submitted",
            "application.decided",
        ]
    other = factory.application(world["bank"], world["product"], world["uscc"], state="withdrawn")
    with db() as session:
        assert [e["type"] for e in _events(session, other.id)][-1] == "application.withdrawn"


def test_a_rolled_back_change_emits_nothing(
    api: TestClient, factory: Factory, db: sessionmaker[Session], world: dict[str, str]
) -> None:
    _subscribe(api, factory, world["bank"])
    app = factory.application(world["bank"], world["product"], world["uscc"])
    with db() as session:
        lifecycle.withdraw(session, OneBank(world["bank"]), uuid.UUID(app.id), Actor("t", None))
        assert _events(session, app.id)[-1]["type"] == "application.withdrawn"  # written...
        session.rollback()
    with db() as session:  # ...and gone with its transaction
        assert [e["type"] for e in _events(session, app.id)] == ["application.submitted"]


def test_without_a_subscription_nothing_is_written(
    factory: Factory, db: sessionmaker[Session], world: dict[str, str]
) -> None:
    app = factory.application(world["other"], world["other_product"], world["uscc"])
    with db() as session:
        assert _events(session, app.id) == []


def test_the_database_refuses_another_banks_event_to_an_endpoint(
    api: TestClient, factory: Factory, db: sessionmaker[Session], world: dict[str, str]
) -> None:
    _subscribe(api, factory, world["bank"])
    _subscribe(api, factory, world["other"])
    app = factory.application(world["bank"], world["product"], world["uscc"])
    with db() as session, pytest.raises(IntegrityError, match="ck_loan_webhook_delivery_tenant"):
        session.execute(
            text(
                """
                INSERT INTO loan_webhook_delivery (event_id, event_bank, event_type, event_seq,
                    ordering_key, subscription_id, owner, next_attempt_at, give_up_at)
                SELECT e.id, e.bank_code, e.type, e.seq, e.ordering_key, s.id, s.owner,
                       now(), now()
                FROM loan_webhook_event e, loan_webhook_subscription s
                WHERE e.ordering_key = :key AND s.owner = :other
                """
            ),
            {"key": f"app:{app.id}", "other": world["other"]},
        )


def test_a_calendar_load_emits_one_event_per_moved_deadline_with_the_new_deadline(
    api: TestClient, factory: Factory, db: sessionmaker[Session], world: dict[str, str]
) -> None:
    """Loaded in a transaction rolled back: 2000 stays an unloaded (weekdays) year for the
    other tests."""
    _subscribe(api, factory, world["bank"])
    h = {**bearer(factory.bank_token(world["bank"])), "Idempotency-Key": new_key()}
    body = {
        "uscc": world["uscc"],
        "product_code": world["product"],
        "amount": "1000000.00",
        "term_months": 12,
        "submitted_at": "2000-09-29T10:00:00+08:00",
    }
    r = api.post("/v1/loans/applications", headers=h, json=body)
    assert r.status_code == 201, r.text
    app = r.json()
    assert app["deadline_provisional"] is True
    holidays = CalendarIn(holidays=[f"2000-10-0{d}" for d in range(1, 8)], make_up_workdays=[])
    with db() as session:
        schedule.load_calendar(session, 2000, holidays, Actor("operator", None))
        events = _events(session, app["id"])
        session.rollback()
    assert [e["type"] for e in events] == [
        "application.submitted",
        "application.deadline_recomputed",
    ]
    moved = events[-1]["data"]
    assert moved["application"]["decision_due_at"] == moved["change"]["data"]["due_at"]
    assert moved["application"]["decision_due_at"] != app["decision_due_at"]
    assert moved["application"]["deadline_provisional"] is False
