"""`innocredit worker` as real processes: one killed (SIGKILL) mid-send is covered by the
lease — the same `webhook-id` arrives again, none lost — and two at once never send one event
twice, nor at the same time."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from services.loans.webhooks.models import Subscription
from services.loans.webhooks.outbox import emit_ping
from shared.settings import CoreSettings
from tests.processes import free_port_block, innocredit
from tests.webhooks.harness import disable_all, rows, subscribe
from tests.webhooks.receiver import Answer, Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


def _env(database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "INNOCREDIT_WEBHOOK_ALLOW_LOOPBACK": "true",
        "INNOCREDIT_WEBHOOK_TIMEOUT_SECONDS": "2",
        "INNOCREDIT_WEBHOOK_LEASE_SECONDS": "12",
        "INNOCREDIT_WEBHOOK_RETRY_SCALE": "0.0001",
        "INNOCREDIT_WEBHOOK_POLL_SECONDS": "0.1",
        "INNOCREDIT_LOG_FORMAT": "text",
    }


def _lone_bank() -> str:
    """A bank code no application has: the workers' timer scans find nothing for it (the
    database holds other tests' overdue applications), so its endpoint hears only the pings."""
    return "LONE" + uuid.uuid4().hex[:8].upper()


def _pings(db: sessionmaker[Session], sid: int, n: int) -> None:
    with db.begin() as session:
        subscription = session.get_one(Subscription, sid)
        for _ in range(n):
            emit_ping(session, subscription)


def test_a_worker_killed_mid_send_leaves_the_event_to_the_next(
    settings: CoreSettings,
    database_url: str,
    db: sessionmaker[Session],
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    disable_all(db)
    sid, secret = subscribe(db, settings, _lone_bank(), receiver.url, ["application.decided"])
    receiver.secrets.append(secret)
    receiver.script(Answer(204, stall=60))  # the first send hangs until its worker dies
    _pings(db, sid, 1)
    port = free_port_block(2)
    with innocredit(
        ["worker", "--port", str(port)], env=_env(database_url), log=tmp_path / "first.log"
    ) as first:
        receiver.wait_for(lambda r: len(r.arrivals) == 1, timeout=30)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    killed_at = time.monotonic()
    with innocredit(
        ["worker", "--port", str(port + 1)], env=_env(database_url), log=tmp_path / "second.log"
    ):
        receiver.wait_for(lambda r: len(r.arrivals) == 2, timeout=40)
        deadline = time.monotonic() + 10
        while not rows(
            db,
            "SELECT 1 FROM loan_webhook_delivery WHERE subscription_id = :s "
            "AND state = 'delivered'",
            s=sid,
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    again = receiver.arrivals[1]
    assert again.msg_id == receiver.arrivals[0].msg_id
    assert again.valid
    assert again.at - killed_at < 15  # the 12 s lease, then the next claim
    outcomes = rows(
        db,
        "SELECT a.outcome FROM loan_webhook_attempt a JOIN loan_webhook_delivery d "
        "ON d.id = a.delivery_id WHERE d.subscription_id = :s ORDER BY a.id",
        s=sid,
    )
    assert [o["outcome"] for o in outcomes] == ["abandoned", "delivered"]


def test_two_workers_send_each_event_once_never_at_once(
    settings: CoreSettings,
    database_url: str,
    db: sessionmaker[Session],
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    disable_all(db)
    sid, secret = subscribe(db, settings, _lone_bank(), receiver.url, ["application.decided"])
    receiver.secrets.append(secret)
    _pings(db, sid, 300)
    env = _env(database_url)
    with (
        innocredit(["worker", "--drain"], env=env, log=tmp_path / "a.log") as a,
        innocredit(["worker", "--drain"], env=env, log=tmp_path / "b.log") as b,
    ):
        receiver.wait_for(lambda r: len(r.delivered()) >= 300, timeout=60)
        assert a.wait(timeout=30) == 0
        assert b.wait(timeout=30) == 0
    ids = [x.msg_id for x in receiver.arrivals]
    assert len(ids) == len(set(ids)) == 300
    assert max(x.concurrent for x in receiver.arrivals) == 1
    assert all(x.valid for x in receiver.arrivals)
    workers = rows(
        db,
        "SELECT count(DISTINCT a.worker) AS n FROM loan_webhook_attempt a "
        "JOIN loan_webhook_delivery d ON d.id = a.delivery_id WHERE d.subscription_id = :s",
        s=sid,
    )
    assert workers[0]["n"] == 2
