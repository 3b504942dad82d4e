"""What the delivery tests share: settings that make retries take milliseconds, endpoints
subscribed straight in the database (the API's own tests are test_subscriptions_api's), and
the worker run in this process, in a thread, as `innocredit serve` runs it."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.loans.webhooks import worker
from services.loans.webhooks.models import Subscription
from services.loans.webhooks.payloads import SUBSCRIBABLE
from services.loans.webhooks.secrets import new_secret, seal, shown
from shared.crypto import KeyEncryptor
from shared.settings import CoreSettings
from tests.servers import make_settings

FAST = {
    "webhook_allow_loopback": True,
    "webhook_timeout_seconds": 2,
    "webhook_lease_seconds": 12,
    "webhook_retry_scale": 0.0001,  # 5 s → 0.5 ms, 5 min → 30 ms, 72 h → 26 s
    "webhook_poll_seconds": 0.05,
    "webhook_timer_seconds": 0.2,
}


def fast_settings(database_url: str, **overrides: object) -> CoreSettings:
    """The test database's settings with the worker's waits shortened."""
    return make_settings(database_url, **{**FAST, **overrides})


def subscribe(
    db: sessionmaker[Session],
    settings: CoreSettings,
    owner: str,
    url: str,
    events: Sequence[str] = SUBSCRIBABLE,
) -> tuple[int, str]:
    """An enabled endpoint of `owner` (a bank code, or `*`); its id and `whsec_` secret."""
    raw = new_secret()
    with db.begin() as session:
        row = Subscription(
            owner=owner,
            name=f"t-{uuid.uuid4().hex[:12]}",
            url=url,
            events=list(events),
            secret_sealed=seal(KeyEncryptor(settings.key_encryption_key), raw),
            created_by="test",
        )
        session.add(row)
        session.flush()
        return row.id, shown(raw)


def disable_all(db: sessionmaker[Session]) -> None:
    """Disable every endpoint left by earlier tests (they share the database), so a test's
    worker delivers only to its own."""
    with db.begin() as session:
        session.execute(
            text(
                "UPDATE loan_webhook_subscription SET enabled = false, disabled_at = now(), "
                "disabled_reason = 'an earlier test' WHERE enabled"
            )
        )


@contextmanager
def running(settings: CoreSettings, engine: Engine) -> Iterator[worker.Health]:
    """The worker in a thread until the block ends (then stopped as SIGTERM would)."""
    stop = threading.Event()
    health = worker.Health()
    thread = threading.Thread(
        target=lambda: asyncio.run(worker.run(settings, engine, stop, health=health)),
        daemon=True,
    )
    thread.start()
    try:
        yield health
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the worker did not stop"


def drain(settings: CoreSettings, engine: Engine) -> None:
    """Run the worker until no delivery to an enabled endpoint is pending."""
    asyncio.run(worker.run(settings, engine, threading.Event(), drain=True))


@contextmanager
def calendar_restored(db: sessionmaker[Session], year: int) -> Iterator[None]:
    """Inside the block a test may load `year`'s calendar for good (the worker must see it
    committed); after it the year is unloaded again, as the other tests of the database
    expect the years before 2004 (weekdays only, so provisional) to be."""
    try:
        yield
    finally:
        with db.begin() as session:
            for table in ("loan_calendar_year", "loan_calendar_load"):
                session.execute(text(f"DELETE FROM {table} WHERE year = :y"), {"y": year})  # noqa: S608


def rows(db: sessionmaker[Session], sql: str, **params: object) -> list[dict[str, object]]:
    """The rows of a query, as dicts."""
    with db.begin() as session:
        return [dict(r) for r in session.execute(text(sql), params).mappings()]
