"""A calendar load under four eyes: the proposal moves no deadline and emits nothing; the
approval, in its own transaction, emits one `application.deadline_recomputed` per deadline
it recomputes (moved, or the same instant no longer provisional), none for a decided one."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from unittest.mock import ANY

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.runtime import build_gateway
from tests.factories import A_INDICATORS, Creds, Factory, bearer, get_token
from tests.servers import make_settings
from tests.webhooks.harness import calendar_restored, disable_all, rows, subscribe

YEAR = 2000  # weekdays only: provisional deadlines, unloaded again after the test
SUBMITTED, RECOMPUTED = "application.submitted", "application.deadline_recomputed"
NATIONAL_DAY = {"holidays": [f"{YEAR}-10-0{d}" for d in range(1, 8)], "make_up_workdays": []}


def _events(db: sessionmaker[Session], app_id: str) -> list[dict[str, object]]:
    found = rows(
        db,
        "SELECT body FROM loan_webhook_event WHERE ordering_key = :k ORDER BY seq",
        k=f"app:{app_id}",
    )
    return [json.loads(str(r["body"])) for r in found]


def test_a_governed_calendar_load_emits_at_approval_one_event_per_moved_deadline(
    factory: Factory,
    period: int,
    database_url: str,
    engine: Engine,
    db: sessionmaker[Session],
    make_client: Callable[..., Creds],
) -> None:
    disable_all(db)
    governed = make_settings(database_url, four_eyes="all")
    (uscc,) = factory.ranked(period, [A_INDICATORS])
    bank = factory.bank()
    product = factory.product(bank, min_points=0)
    subscribe(db, governed, bank, "https://bank.example/hook", [SUBMITTED, RECOMPUTED])
    # Due 2 and 3 October (moved by the National Day week) and 27 September (the same instant,
    # now final); and one decided before the load (its deadline is history: left alone).
    moved = [
        factory.application(bank, product, uscc, submitted_at=datetime.fromisoformat(at))
        for at in (f"{YEAR}-09-28T10:00:00+08:00", f"{YEAR}-09-29T10:00:00+08:00")
    ]
    kept = factory.application(
        bank, product, uscc, submitted_at=datetime.fromisoformat(f"{YEAR}-09-25T10:00:00+08:00")
    )
    decided = factory.application(
        bank,
        product,
        uscc,
        state="rejected",
        submitted_at=datetime.fromisoformat(f"{YEAR}-09-29T11:00:00+08:00"),
    )
    mine = [*moved, kept, decided]
    maker, checker = (make_client("admin", name=who) for who in ("maker", "checker"))
    with (
        TestClient(build_gateway(governed, engine), base_url="http://testserver") as api,
        calendar_restored(db, YEAR),
    ):
        proposed = api.put(
            f"/v1/admin/calendar/{YEAR}",
            headers=bearer(get_token(api, maker)),
            json=NATIONAL_DAY,
        )
        assert proposed.status_code == 202, proposed.text
        for app in mine:
            assert [e["type"] for e in _events(db, app.id)] == [SUBMITTED]
            assert (
                api.get(f"/v1/loans/applications/{app.id}", headers=bearer(app.token)).json()[
                    "decision_due_at"
                ]
                == app.body["decision_due_at"]
            )
        approved = api.post(
            f"/v1/admin/changes/{proposed.json()['id']}/approve",
            headers=bearer(get_token(api, checker)),
        )
        assert approved.status_code == 200, approved.text
        shown = {
            app.id: api.get(f"/v1/loans/applications/{app.id}", headers=bearer(app.token)).json()
            for app in mine
        }
    for app in [*moved, kept]:
        events = _events(db, app.id)
        assert [e["type"] for e in events] == [SUBMITTED, RECOMPUTED]
        data = events[-1]["data"]
        assert isinstance(data, dict)
        assert data["application"] == {**shown[app.id], "working_days_elapsed": ANY}
        assert data["application"]["deadline_provisional"] is False
        moved_to = data["change"]["data"]["due_at"]
        assert (moved_to != app.body["decision_due_at"]) == (app in moved)
    assert [e["type"] for e in _events(db, decided.id)] == [SUBMITTED]
