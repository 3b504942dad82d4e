"""Races against the real database through a real server: idempotency, decisions, money.

The numbers are the hardening issue's: 50 identical POSTs x 20 rounds, 100 approve-vs-reject
rounds, 50 disbursements against one approval.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from services.runtime import build_gateway
from tests.factories import new_key
from tests.loans.world import World, application
from tests.servers import make_settings, serve_app


def _post(url: str, headers: dict[str, str], body: object) -> httpx.Response:
    with httpx.Client(timeout=30) as client:
        return client.post(url, headers=headers, json=body)


@pytest.fixture(scope="module")
def live_url(database_url: str, engine: Engine) -> Iterator[str]:
    """A gateway of these races' own, whose admission queue waits patiently: they test
    exactly-once writes, not load shedding (tests/loans/test_faults.py tests that, at the
    defaults), and on a 2-core CI machine shared with another test worker fifty racing
    requests can wait in line longer than the default 2 s and be shed."""
    app = build_gateway(make_settings(database_url, max_queue_wait_seconds=30.0), engine)
    with serve_app(app) as url:
        yield url


def test_concurrent_identical_posts_create_exactly_one_application(
    live_url: str, api: TestClient, world: World
) -> None:
    for _ in range(20):
        key = new_key()
        body = application(world)
        with ThreadPoolExecutor(max_workers=50) as pool:
            responses = list(
                pool.map(
                    lambda _, k=key, b=body: _post(
                        f"{live_url}/v1/loans/applications", world.a(k), b
                    ),
                    range(50),
                )
            )
        statuses = Counter(r.status_code for r in responses)
        assert set(statuses) <= {201, 409}, statuses
        ids = {r.json()["id"] for r in responses if r.status_code == 201}
        assert len(ids) == 1, ids  # originals and replays name the same application
        replay = _post(f"{live_url}/v1/loans/applications", world.a(key), body)
        assert replay.status_code == 201
        assert replay.json()["id"] in ids


def test_approve_and_reject_race_one_wins(live_url: str, api: TestClient, world: World) -> None:
    for _ in range(100):
        app = api.post(
            "/v1/loans/applications", headers=world.a(new_key()), json=application(world)
        ).json()
        url = f"{live_url}/v1/loans/applications/{app['id']}/decision"
        bodies = [
            {
                "outcome": "approved",
                "approved_amount": "2850000.00",
                "annual_rate": "0.0400",
                "reason_codes": [],
            },
            {"outcome": "rejected", "reason_codes": ["race"]},
        ] * 2
        with ThreadPoolExecutor(max_workers=4) as pool:
            responses = list(pool.map(lambda b, u=url: _post(u, world.a(new_key()), b), bodies))
        statuses = Counter(r.status_code for r in responses)
        assert statuses[200] == 1, statuses
        assert statuses[409] == 3, statuses
        final = api.get(f"/v1/loans/applications/{app['id']}", headers=world.a()).json()
        winner = next(r.json() for r in responses if r.status_code == 200)
        assert final["status"] == winner["status"]
        events = api.get(f"/v1/loans/applications/{app['id']}/events", headers=world.a())
        assert [e["type"] for e in events.json()["items"]].count("decision") == 1


def test_concurrent_disbursements_never_exceed_the_approval(
    live_url: str, api: TestClient, world: World
) -> None:
    app = api.post(
        "/v1/loans/applications",
        headers=world.a(new_key()),
        json=application(world, amount="1000000.00", submitted_at="2026-11-23T10:00:00+08:00"),
    ).json()
    base = f"{live_url}/v1/loans/applications/{app['id']}"
    api.post(
        f"/v1/loans/applications/{app['id']}/decision",
        headers=world.a(new_key()),
        json={
            "outcome": "approved",
            "approved_amount": "1000000.00",
            "annual_rate": "0.0400",
            "reason_codes": [],
            "decided_at": "2026-11-24T10:00:00+08:00",
        },
    )
    body = {
        "amount": "30000.00",
        "disbursed_at": "2026-11-25T09:00:00+08:00",
        "reference": "parallel",
    }
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(
            pool.map(lambda _: _post(f"{base}/disbursements", world.a(new_key()), body), range(50))
        )
    statuses = Counter(r.status_code for r in responses)
    assert statuses[200] == 33, statuses  # 33 × 30,000 fit in 1,000,000; a 34th does not
    assert statuses[422] == 17, statuses
    final = api.get(f"/v1/loans/applications/{app['id']}", headers=world.a()).json()
    assert final["disbursed_total"] == "990000.00"
    assert final["disbursed_count"] == 33


def test_the_race_test_detects_a_lost_update_when_the_lock_is_removed(
    live_url: str, api: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proof the race tests can fail: without `FOR UPDATE`, two decisions both 'win'."""
    from services.loans import applications, lifecycle

    real = applications.get_application

    def unlocked(session: Any, seen: Any, app_id: Any, *, lock: bool = False) -> Any:
        found = real(session, seen, app_id, lock=False)
        time.sleep(0.05)  # widen the window between read and write, as a slow worker would
        return found

    monkeypatch.setattr(lifecycle, "get_application", unlocked)
    detected = False
    for _ in range(10):
        app = api.post(
            "/v1/loans/applications", headers=world.a(new_key()), json=application(world)
        ).json()
        url = f"{live_url}/v1/loans/applications/{app['id']}/decision"
        bodies = [{"outcome": "rejected", "reason_codes": ["race"]}] * 6
        with ThreadPoolExecutor(max_workers=6) as pool:
            responses = list(pool.map(lambda b, u=url: _post(u, world.a(new_key()), b), bodies))
        if Counter(r.status_code for r in responses)[200] > 1:
            detected = True
            break
    assert detected, "removing the row lock should let two decisions through"
