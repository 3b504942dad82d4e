"""Timer events (the scan called directly, the clock frozen): due soon once, overdue once,
none once decided, and the bureau hears of every bank's overdue decisions."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from services.loans.webhooks import timers
from shared.clock import frozen_at
from shared.settings import CoreSettings
from tests.factories import Factory, enterprise, indicators, new_uscc
from tests.webhooks.documented import assert_documented
from tests.webhooks.harness import disable_all, rows, subscribe

LEAD = 4 * 3600
SOON, OVERDUE = "application.decision_due_soon", "application.decision_overdue"


def _scan(db: sessionmaker[Session], at: datetime) -> None:
    with frozen_at(at), db.begin() as session:
        while timers.scan(session, lead_seconds=LEAD):
            pass


def _events(db: sessionmaker[Session], app_id: str) -> list[tuple[str, dict[str, object]]]:
    found = rows(
        db,
        "SELECT type, body FROM loan_webhook_event WHERE ordering_key = :k ORDER BY seq",
        k=f"app:{app_id}",
    )
    return [(str(r["type"]), json.loads(str(r["body"]))) for r in found]


def test_due_soon_then_overdue_each_once_and_none_once_decided(
    factory: Factory,
    period: int,
    settings: CoreSettings,
    db: sessionmaker[Session],
    api: TestClient,
) -> None:
    disable_all(db)
    bank = factory.bank()
    product = factory.product(bank, min_points=0)
    uscc = new_uscc()
    factory.enterprises([enterprise(uscc)])
    factory.indicators(period, [indicators(uscc)])
    factory.recompute(period)
    subscribe(db, settings, bank, "https://bank.example/hook", [SOON, OVERDUE])
    submitted = datetime.now().astimezone()
    waiting = factory.application(bank, product, uscc, submitted_at=submitted)
    decided = factory.application(bank, product, uscc, submitted_at=submitted)
    due = datetime.fromisoformat(waiting.body["decision_due_at"])
    _scan(db, due - timedelta(seconds=LEAD + 60))
    assert _events(db, waiting.id) == []
    _scan(db, due - timedelta(seconds=LEAD - 60))
    _scan(db, due - timedelta(seconds=60))
    ((kind, body),) = _events(db, waiting.id)
    assert kind == SOON
    data = body["data"]
    assert isinstance(data, dict)
    assert data["deadline"]["lead_seconds"] == LEAD
    assert data["change"] is None
    assert data["application"]["id"] == waiting.id
    factory._write(  # decided before its deadline: no overdue for it
        decided.token,
        f"/v1/loans/applications/{decided.id}/decision",
        {"outcome": "rejected", "reason_codes": ["risk"], "decided_at": submitted.isoformat()},
    )
    _scan(db, due + timedelta(seconds=1))
    _scan(db, due + timedelta(hours=5))
    assert [k for k, _ in _events(db, waiting.id)] == [SOON, OVERDUE]
    document = api.get("/openapi.json").json()
    for _, body in _events(db, waiting.id):
        assert_documented(document, body)
    assert [k for k, _ in _events(db, decided.id)] == [SOON]


def test_the_bureau_hears_of_every_banks_overdue_and_a_bank_only_of_its_own(
    factory: Factory, period: int, settings: CoreSettings, db: sessionmaker[Session]
) -> None:
    disable_all(db)
    banks = [factory.bank(), factory.bank()]
    uscc = new_uscc()
    factory.enterprises([enterprise(uscc)])
    factory.indicators(period, [indicators(uscc)])
    factory.recompute(period)
    apps = [factory.application(b, factory.product(b, min_points=0), uscc) for b in banks]
    bureau, _ = subscribe(db, settings, "*", "https://bureau.example/hook", [OVERDUE])
    own, _ = subscribe(db, settings, banks[0], "https://a.example/hook", [OVERDUE])
    latest = max(datetime.fromisoformat(a.body["decision_due_at"]) for a in apps)
    _scan(db, latest + timedelta(seconds=1))
    delivered = rows(
        db,
        "SELECT d.subscription_id AS sid, e.ordering_key AS key, e.bank_code AS bank "
        "FROM loan_webhook_delivery d JOIN loan_webhook_event e ON e.id = d.event_id "
        "WHERE d.subscription_id IN (:a, :b) AND e.ordering_key IN (:x, :y)",
        a=bureau,
        b=own,
        x=f"app:{apps[0].id}",
        y=f"app:{apps[1].id}",
    )
    assert sorted((r["sid"], r["bank"]) for r in delivered) == sorted(
        [(bureau, banks[0]), (bureau, banks[1]), (own, banks[0])]
    )
