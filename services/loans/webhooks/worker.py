"""The webhook worker: one asyncio loop claiming due deliveries, sending them, recording
what came back; every few seconds it looks for timer and waiver events; hourly it tidies.

Database work is synchronous SQLAlchemy in `asyncio.to_thread`, one short transaction each
(through PgBouncer in transaction mode: no session state, no LISTEN); no transaction is open
while a request is in flight. Several workers may run at once (leases, `SKIP LOCKED`, and an
advisory lock per scan). `stop` (a `threading.Event`: `innocredit serve` sets it from another
thread, `innocredit worker` from SIGTERM) stops the claims; the sends in flight finish
(within the timeout) and are recorded before `run` returns.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

import aiohttp
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.loans.webhooks import claims, housekeeping, timers, waivers
from services.loans.webhooks.claims import Claimed
from services.loans.webhooks.payloads import event_id
from services.loans.webhooks.secrets import unseal
from services.loans.webhooks.sender import Message, Sent, new_session, send
from shared.crypto import KeyDecryptionError, KeyEncryptor
from shared.db import make_sessionmaker
from shared.settings import CoreSettings

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 3600.0
READY_WITHIN_SECONDS = 30.0

_PENDING_LEFT = text("""
SELECT EXISTS (SELECT 1 FROM loan_webhook_delivery d
               JOIN loan_webhook_subscription s ON s.id = d.subscription_id
               WHERE d.state = 'pending' AND s.enabled)
""")


def worker_name() -> str:
    """How this process signs its leases and attempts: host, pid and a random suffix."""
    return f"{socket.gethostname()[:50]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Health:
    """What the worker's `/readyz` reads: when its last claim cycle ran (monotonic)."""

    last_cycle: float | None = None
    delivered: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def cycled(self) -> None:
        """A claim cycle ran."""
        self.last_cycle = time.monotonic()

    def ready(self) -> str:
        """`ok` if a claim cycle ran within the last 30 s, else why not."""
        if self.last_cycle is None:
            return "no claim cycle yet"
        ago = time.monotonic() - self.last_cycle
        return "ok" if ago < READY_WITHIN_SECONDS else f"last claim cycle {ago:.0f} s ago"


class _Loop:
    def __init__(
        self, settings: CoreSettings, engine: Engine, concurrency: int, health: Health
    ) -> None:
        self.settings = settings
        self.sessions: sessionmaker[Session] = make_sessionmaker(engine)
        self.keys = KeyEncryptor(settings.key_encryption_key)
        self.name = worker_name()
        self.concurrency = concurrency
        self.health = health
        self.rng = random.Random()  # noqa: S311  (retry jitter, not a secret)
        self.inflight: set[asyncio.Task[None]] = set()

    def claim(self, free: int) -> list[Claimed]:
        with self.sessions.begin() as session:
            return claims.claim(
                session,
                worker=self.name,
                free=free,
                lease_seconds=self.settings.webhook_lease_seconds,
            )

    def record(self, claimed: Claimed, sent: Sent) -> str:
        with self.sessions.begin() as session:
            return claims.record(
                session, claimed, sent, scale=self.settings.webhook_retry_scale, rng=self.rng
            )

    def scan(self) -> int:
        """Timer and waiver events; each in its own transaction, one worker at a time."""
        with self.sessions.begin() as session:
            found = timers.scan(session, lead_seconds=self.settings.webhook_due_soon_seconds)
        with self.sessions.begin() as session:
            found += waivers.watch(session)
        return found

    def tidy(self) -> None:
        with self.sessions.begin() as session:
            housekeeping.tidy(session, retention_days=self.settings.webhook_retention_days)

    def pending_left(self) -> bool:
        with self.sessions.begin() as session:
            return bool(session.execute(_PENDING_LEFT).scalar_one())

    def message(self, claimed: Claimed) -> Message | Sent:
        try:
            secret = unseal(self.keys, claimed.secret_sealed)
            previous = (
                None
                if claimed.previous_sealed is None
                else unseal(self.keys, claimed.previous_sealed)
            )
        except KeyDecryptionError:
            log.error(
                "cannot decrypt the signing secret of webhook endpoint %s: is "
                "INNOCREDIT_KEY_ENCRYPTION_KEY the key it was sealed with?",
                claimed.subscription_id,
            )
            return Sent("connection-error", 0, error="cannot decrypt the signing secret")
        return Message(
            msg_id=event_id(claimed.event_id),
            body=claimed.body.encode(),
            url=claimed.url,
            secret=secret,
            previous_secret=previous,
        )

    async def deliver(self, http: aiohttp.ClientSession, claimed: Claimed) -> None:
        prepared = self.message(claimed)
        sent = (
            prepared
            if isinstance(prepared, Sent)
            else await send(http, prepared, allow_loopback=self.settings.webhook_allow_loopback)
        )
        try:
            state = await asyncio.to_thread(self.record, claimed, sent)
        except Exception:  # the lease expires and another claim retries it
            log.exception("recording webhook delivery %s failed", claimed.delivery_id)
            return
        with self.health.lock:
            if state == "delivered":
                self.health.delivered += 1
            else:
                self.health.failed += 1
        if state == "dead":
            log.warning(
                "webhook delivery %s given up after %s attempt(s): %s",
                claimed.delivery_id,
                claimed.attempts,
                sent.error or sent.outcome,
            )

    async def run(self, stop: threading.Event, drain: bool) -> None:
        settings = self.settings
        next_scan = next_tidy = 0.0
        async with new_session(
            concurrency=self.concurrency,
            timeout=settings.webhook_timeout_seconds,
            allow_loopback=settings.webhook_allow_loopback,
        ) as http:
            while not stop.is_set():
                now = time.monotonic()
                found = 0
                try:
                    if now >= next_scan:
                        next_scan = now + settings.webhook_timer_seconds
                        found = await asyncio.to_thread(self.scan)
                    if now >= next_tidy:
                        next_tidy = now + HOUSEKEEPING_SECONDS
                        await asyncio.to_thread(self.tidy)
                    free = self.concurrency - len(self.inflight)
                    claimed = await asyncio.to_thread(self.claim, free) if free > 0 else []
                    self.health.cycled()
                except Exception:  # the database is away: try again after a pause
                    log.exception("webhook worker cycle failed")
                    await asyncio.sleep(settings.webhook_poll_seconds)
                    continue
                for one in claimed:
                    task = asyncio.create_task(self.deliver(http, one))
                    self.inflight.add(task)
                    task.add_done_callback(self.inflight.discard)
                if (
                    drain
                    and not claimed
                    and not self.inflight
                    and not found
                    and not await asyncio.to_thread(self.pending_left)
                ):
                    break
                if claimed and len(self.inflight) < self.concurrency:
                    continue  # more may be due: claim again at once
                await _first_done(self.inflight, settings.webhook_poll_seconds)
            if self.inflight:
                await asyncio.wait(self.inflight, timeout=settings.webhook_timeout_seconds + 5)


async def _first_done(tasks: set[asyncio.Task[None]], timeout: float) -> None:
    """Wait until one of `tasks` ends (its record may have freed the next event of an
    ordering key) or `timeout` passes."""
    if tasks:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    else:
        await asyncio.sleep(timeout)


async def run(
    settings: CoreSettings,
    engine: Engine,
    stop: threading.Event,
    *,
    drain: bool = False,
    concurrency: int | None = None,
    health: Health | None = None,
) -> None:
    """Deliver until `stop` is set (then finish the sends in flight), or with `drain` until
    no delivery to an enabled endpoint is pending any more (tests, benchmarks)."""
    loop = _Loop(settings, engine, concurrency or settings.webhook_concurrency, health or Health())
    log.info("webhook worker %s started", loop.name)
    await loop.run(stop, drain)
    log.info("webhook worker %s stopped", loop.name)
