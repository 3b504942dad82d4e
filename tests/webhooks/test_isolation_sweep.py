"""The isolation sweep, extended to webhooks: banks A and B each subscribe (through the API)
to every event type and the bureau to overdue decisions; every kind of event is made for both
banks (each change, a calendar load, both timers, a recompute moving firms into and out of the
top 100, a ping); the worker drains it all to three real receivers on loopback. Each bank's
receiver holds its own bank's events only, every one signed with its own secret only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from examples.webhook_receiver import Inbox
from services.loans.webhooks import timers, waivers
from services.loans.webhooks.payloads import SUBSCRIBABLE, EventType
from services.runtime import build_gateway
from services.scoring import queries as scoring
from shared.settings import CoreSettings
from tests.factories import A_INDICATORS, Factory, bearer, enterprise, indicators, new_uscc
from tests.webhooks.harness import calendar_restored, disable_all, drain, fast_settings
from tests.webhooks.receiver import Arrival, Receiver

OVERDUE = EventType.DECISION_OVERDUE.value
WAIVER = EventType.WAIVER_CHANGED.value
# A year of weekdays only (before what chinese-calendar knows: its deadlines are
# provisional), unloaded again after the test; an application submitted on its 29 September
# is due on 3 October until the National Day week is loaded.
YEAR = 2000
SUBMITTED = f"{YEAR}-09-29T10:00:00+08:00"
NATIONAL_DAY = {"holidays": [f"{YEAR}-10-0{d}" for d in range(1, 8)], "make_up_workdays": []}


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    made = {who: Receiver() for who in ("A", "B", "bureau")}
    yield made
    for one in made.values():
        one.close()


def _subscribe(hooks: TestClient, token: str, url: str, events: list[str]) -> str:
    r = hooks.put(
        "/v1/loans/webhooks/sweep", headers=bearer(token), json={"url": url, "events": events}
    )
    assert r.status_code == 201, r.text
    secret: str = r.json()["secret"]
    return secret


def _scan(db: sessionmaker[Session], settings: CoreSettings, at: datetime) -> None:
    with db.begin() as session:
        while timers.scan(session, lead_seconds=settings.webhook_due_soon_seconds, now=at):
            pass


def _mentions(arrival: Arrival) -> set[str]:
    """The applications an event is about (its own, or a waiver's open applications)."""
    data: dict[str, Any] = arrival.event.get("data") or {}
    own = {arrival.application} if arrival.application else set()
    return own | set(data.get("applications") or [])


def test_each_bank_receives_only_its_own_events_signed_with_its_own_secret(
    factory: Factory,
    period: int,
    database_url: str,
    engine: Engine,
    db: sessionmaker[Session],
    receivers: dict[str, Receiver],
) -> None:
    disable_all(db)
    fast = fast_settings(database_url)
    # 101 firms: the last (nothing to show) is 101st until it shows A's indicators.
    usccs = [new_uscc() for _ in range(101)]
    mover = usccs[-1]
    factory.enterprises([enterprise(u) for u in usccs])
    facts = [
        indicators(u, invention_patents=1 + i % 5, total_staff=200, rd_staff=i)
        for i, u in enumerate(usccs)
    ]
    facts[-1] = indicators(mover)
    factory.indicators(period, facts)
    factory.recompute(period)
    with db.begin() as session:
        waivers.watch(session)
        (run,) = [r for r in scoring.ranking_runs(session, {}) if r.period == period][-1:]
        weakest = scoring.run_top(session, run.id, 100)[-1]

    banks = {"A": factory.bank(), "B": factory.bank()}
    with (
        TestClient(build_gateway(fast, engine), base_url="http://testserver") as hooks,
        calendar_restored(db, YEAR),
    ):
        for who, bank in banks.items():
            secret = _subscribe(
                hooks, factory.bank_token(bank), receivers[who].url, [*SUBSCRIBABLE]
            )
            receivers[who].secrets.append(secret)
        bureau = _subscribe(hooks, factory.token("bureau"), receivers["bureau"].url, [OVERDUE])
        receivers["bureau"].secrets.append(bureau)

        apps: dict[str, set[str]] = {}
        waiting: dict[str, str] = {}
        for who, bank in banks.items():
            product = factory.product(bank, min_points=0)
            made = [
                factory.application(bank, product, usccs[0], state="repaid"),
                factory.application(bank, product, usccs[0], state="withdrawn"),
                factory.application(bank, product, mover),
                factory.application(bank, product, weakest, state="approved"),
                factory.application(
                    bank, product, usccs[0], submitted_at=datetime.fromisoformat(SUBMITTED)
                ),
            ]
            apps[who] = {a.id for a in made}
            waiting[who] = made[-1].id
            ping = hooks.post("/v1/loans/webhooks/sweep/test", headers=bearer(made[0].token))
            assert ping.status_code == 202, ping.text
        loaded = hooks.put(f"/v1/admin/calendar/{YEAR}", headers=factory.admin, json=NATIONAL_DAY)
        assert loaded.status_code == 200, loaded.text
        assert loaded.json()["recomputed_applications"] >= 2
        due = {
            datetime.fromisoformat(
                hooks.get(
                    f"/v1/loans/applications/{waiting[who]}",
                    headers=bearer(factory.bank_token(bank)),
                ).json()["decision_due_at"]
            )
            for who, bank in banks.items()
        }
    (deadline,) = due
    _scan(db, fast, deadline - timedelta(seconds=60))
    _scan(db, fast, deadline + timedelta(seconds=1))
    factory.indicators(period, [indicators(mover, **A_INDICATORS)])
    factory.recompute(period)
    with db.begin() as session:
        waivers.watch(session)

    drain(fast, engine)

    secrets = {who: r.secrets[0] for who, r in receivers.items()}
    for who, bank in banks.items():
        arrived = receivers[who].delivered()
        assert {a.event["bank_code"] for a in arrived} == {bank}
        assert set().union(*(_mentions(a) for a in arrived)) <= apps[who]
        assert {a.type for a in arrived} == {*SUBSCRIBABLE, EventType.TEST.value}
        waived = [a.event["data"]["waiver"] for a in arrived if a.type == WAIVER]
        assert sorted((w["uscc"], w["waived"]) for w in waived) == sorted(
            [(mover, True), (weakest, False)]
        )
    overdue = receivers["bureau"].delivered()
    assert {a.type for a in overdue} == {OVERDUE}
    for who, bank in banks.items():
        theirs = {a.application for a in overdue if a.event["bank_code"] == bank}
        assert waiting[who] in theirs
        assert theirs <= apps[who]
    for who, receiver in receivers.items():
        for arrival in receiver.arrivals:
            assert arrival.valid, (who, arrival.type)
            for other, secret in secrets.items():
                if other != who:
                    assert (
                        Inbox([secret], lambda _: None).verify(arrival.body, arrival.headers)
                        is None
                    )
