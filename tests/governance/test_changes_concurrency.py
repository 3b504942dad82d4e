"""Four eyes under concurrency, through a real server and real threads: one checker wins, one
pending change per target, and an approval racing a direct write of its target either sees it
(409 `change-target-moved`, still pending) or lands first. The database backs the rules: no
approval by the maker, no deletion, no change to a decided row, even around the code."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.models import AuditEvent
from services.guarantee import fees
from services.loans import products, schedule
from services.loans.applications import Actor
from services.loans.schemas import CalendarIn, ProductIn
from services.scoring import model_versions, recompute
from services.scoring.pointsmodel import ModelDefinition
from tests.factories import DEFAULT_MODEL, Factory, bearer, get_token, product_body
from tests.governance.governed import Governed


def _send(method: str, url: str, headers: dict[str, str], body: Any = None) -> httpx.Response:
    with httpx.Client(timeout=60) as client:
        return client.request(method, url, headers=headers, json=body)


def _slug(response: httpx.Response) -> str:
    return str(response.json().get("type", "")).rsplit("/", 1)[-1]


def _approved_rows(db: sessionmaker[Session], change_id: str) -> int:
    with db() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.action == "change-approved",
                    AuditEvent.detail["change"].astext == change_id,
                )
            )
            or 0
        )


def test_checkers_racing_on_one_change_approve_it_once(
    gov: Governed, factory: Factory, db: sessionmaker[Session]
) -> None:
    checkers = [
        bearer(get_token(gov.api, gov.make_client("admin", name=f"checker {i}"))) for i in range(8)
    ]
    bank = factory.bank()
    for _ in range(6):
        code = f"RP-{uuid.uuid4().hex[:8].upper()}"
        change = gov.propose("PUT", f"/v1/admin/products/{code}", json=product_body(bank))
        url = f"{gov.url}/v1/admin/changes/{change['id']}/approve"
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda h, u=url: _send("POST", u, h), checkers))
        statuses = Counter(r.status_code for r in answers)
        assert statuses[200] == 1, statuses
        assert statuses[409] == 7, statuses
        assert {_slug(r) for r in answers if r.status_code == 409} <= {
            "change-decided",
            "change-in-progress",
        }
        assert _approved_rows(db, change["id"]) == 1


def test_one_of_ten_proposals_of_a_target_waits_and_the_others_name_it(
    gov: Governed, factory: Factory
) -> None:
    code = f"TB{uuid.uuid4().hex[:10].upper()}"
    other = f"TB{uuid.uuid4().hex[:10].upper()}"
    headers = gov.m
    urls = [f"{gov.url}/v1/admin/banks/{code}"] * 10 + [f"{gov.url}/v1/admin/banks/{other}"]
    with ThreadPoolExecutor(max_workers=11) as pool:
        answers = list(pool.map(lambda u: _send("PUT", u, headers, {"name": "并发"}), urls))
    mine, theirs = answers[:10], answers[10]
    assert Counter(r.status_code for r in mine) == {202: 1, 409: 9}
    (winner,) = [r.json()["id"] for r in mine if r.status_code == 202]
    assert {r.json()["change"] for r in mine if r.status_code == 409} == {
        f"/v1/admin/changes/{winner}"
    }
    assert {_slug(r) for r in mine if r.status_code == 409} == {"change-pending"}
    assert theirs.status_code == 202  # another target is not held up


def _wait_for_lock_wait(engine: Engine, pattern: str) -> None:
    """Until some backend waits on a lock in a statement matching `pattern` (the approval)."""
    deadline = time.monotonic() + 20
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE :pattern"
                ),
                {"pattern": pattern},
            ).scalar_one()
            if waiting:
                return
            conn.rollback()  # the activity view is a snapshot per transaction
            time.sleep(0.02)
    raise AssertionError(f"no approval waited on a lock ({pattern})")


Direct = Callable[[Session], None]


def _race(
    gov: Governed,
    db: sessionmaker[Session],
    engine: Engine,
    change: dict[str, Any],
    direct: Direct,
    waits_in: str,
) -> httpx.Response:
    """Run `direct` in a transaction that keeps its locks, start the approval, wait until it
    waits for them, commit: the approval's answer."""
    headers = gov.c
    url = f"{gov.url}/v1/admin/changes/{change['id']}/approve"
    with db() as session, ThreadPoolExecutor(max_workers=1) as pool:
        direct(session)
        answer = pool.submit(_send, "POST", url, headers)
        _wait_for_lock_wait(engine, waits_in)
        session.commit()
        return answer.result(timeout=60)


def _setup_product(gov: Governed, factory: Factory) -> tuple[dict[str, Any], Direct]:
    bank = factory.bank()
    code = factory.product(bank)
    change = gov.propose(
        "PUT", f"/v1/admin/products/{code}", json=product_body(bank, min_points=95)
    )

    def direct(session: Session) -> None:
        products.put_product(session, code, ProductIn.model_validate(product_body(bank)))

    return change, direct


def _setup_calendar(gov: Governed, factory: Factory) -> tuple[dict[str, Any], Direct]:
    year = 2040 + uuid.uuid4().int % 40
    body = {"holidays": [f"{year}-01-01"], "make_up_workdays": []}
    change = gov.propose("PUT", f"/v1/admin/calendar/{year}", json=body)

    def direct(session: Session) -> None:
        schedule.load_calendar(
            session, year, CalendarIn.model_validate(body), Actor("direct", None)
        )

    return change, direct


def _setup_fee_rate(gov: Governed, factory: Factory) -> tuple[dict[str, Any], Direct]:
    change = gov.propose(
        "POST", "/v1/admin/fee-rates", json={"effective_year": 2095, "rate": "0.0130"}
    )

    def direct(session: Session) -> None:
        fees.set_fee_rate(session, 2001, Decimal("0.0100"), "another year", "direct")

    return change, direct


def _draft(gov: Governed, factory: Factory) -> dict[str, Any]:
    model = gov.api.get(f"/v1/scoring/models/{DEFAULT_MODEL}", headers=factory.admin).json()
    draft: dict[str, Any] = {**model["definition"], "version": f"R-{uuid.uuid4().hex[:8]}"}
    assert gov.api.post("/v1/admin/models", headers=gov.m, json=draft).status_code == 201
    return draft


def _setup_model(gov: Governed, factory: Factory) -> tuple[dict[str, Any], Direct]:
    draft = _draft(gov, factory)
    change = gov.propose("POST", f"/v1/admin/models/{draft['version']}/publish")

    def direct(session: Session) -> None:
        edited = ModelDefinition.model_validate({**draft, "name": "edited meanwhile"})
        model_versions.replace_draft(session, draft["version"], edited)

    return change, direct


@pytest.fixture
def ranked_period(factory: Factory, period: int) -> int:
    factory.ranked(period, [{}, {"utility_models": 3}])
    return period


@pytest.mark.parametrize(
    ("setup", "waits_in"),
    [
        (_setup_product, "%pg_advisory_xact_lock%"),
        (_setup_calendar, "%pg_advisory_xact_lock%"),
        (_setup_fee_rate, "%pg_advisory_xact_lock%"),
        (_setup_model, "%sc_model%"),
    ],
    ids=["product", "calendar", "fee-rate", "model"],
)
def test_an_approval_waiting_behind_a_direct_write_of_its_target_is_refused(
    gov: Governed,
    factory: Factory,
    db: sessionmaker[Session],
    engine: Engine,
    setup: Callable[[Governed, Factory], tuple[dict[str, Any], Direct]],
    waits_in: str,
) -> None:
    change, direct = setup(gov, factory)
    answer = _race(gov, db, engine, change, direct, waits_in)
    assert answer.status_code == 409, answer.text
    assert _slug(answer) == "change-target-moved"
    body = answer.json()
    assert body["expected"] != body["current"]
    still = gov.api.get(f"/v1/admin/changes/{change['id']}", headers=gov.c).json()
    assert still["status"] == "pending"
    assert _approved_rows(db, change["id"]) == 0


def test_a_recompute_approval_waiting_behind_a_direct_recompute_is_refused(
    gov: Governed, factory: Factory, db: sessionmaker[Session], engine: Engine, ranked_period: int
) -> None:
    change = gov.propose(
        "POST", f"/v1/admin/points/{ranked_period}/recompute", json={"model_version": DEFAULT_MODEL}
    )

    def direct(session: Session) -> None:
        recompute.recompute(
            session, ranked_period, model_version=DEFAULT_MODEL, requested_by="direct"
        )

    answer = _race(gov, db, engine, change, direct, "%pg_advisory_xact_lock%")
    assert answer.status_code == 409, answer.text
    assert _slug(answer) == "change-target-moved"
    runs = gov.api.get(f"/v1/scoring/runs?period={ranked_period}", headers=factory.admin).json()
    assert [r["requested_by"] for r in runs["items"]][:1] == ["direct"]


def test_an_approval_that_lands_first_is_what_a_later_direct_write_meets(
    gov: Governed, factory: Factory
) -> None:
    draft = _draft(gov, factory)
    change = gov.propose("POST", f"/v1/admin/models/{draft['version']}/publish")
    assert gov.approve(change).status_code == 200
    late = gov.api.put(
        f"/v1/admin/models/{draft['version']}", headers=gov.m, json={**draft, "name": "late"}
    )
    assert late.status_code == 409
    assert late.json()["type"] == "/problems/model-published"


def test_the_database_refuses_an_approval_by_the_maker_a_deletion_and_a_second_decision(
    gov: Governed, engine: Engine
) -> None:
    code = f"TB{uuid.uuid4().hex[:10].upper()}"
    change = gov.propose("PUT", f"/v1/admin/banks/{code}", json={"name": "戊"})
    ident = {"id": change["id"]}
    with pytest.raises(IntegrityError, match="ck_gov_change_four_eyes"), engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE gov_change SET status = 'approved', checker = maker, "
                "decided_at = now(), result = '{}' WHERE id = :id"
            ),
            ident,
        )
    with pytest.raises(DBAPIError, match="cannot be deleted"), engine.begin() as conn:
        conn.execute(text("DELETE FROM gov_change WHERE id = :id"), ident)
    assert gov.approve(change).status_code == 200
    with pytest.raises(DBAPIError, match="a decided change never changes"), engine.begin() as conn:
        conn.execute(text("UPDATE gov_change SET reason = 'x' WHERE id = :id"), ident)
    with engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM gov_change WHERE id = :id"), ident)
        assert status.scalar_one() == "approved"
