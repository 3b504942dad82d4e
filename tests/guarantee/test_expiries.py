"""Consent expiries recorded once each, however many replicas record them at the same time
(issue 14: background work safe with N replicas — `FOR UPDATE SKIP LOCKED`)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.guarantee.consents import record_expiries
from services.guarantee.models import Consent
from shared.changefeed import FeedEntry
from tests.factories import Factory, enterprise, new_uscc

REPLICAS = 4


def test_expiries_are_recorded_once_each_by_concurrent_replicas(
    factory: Factory, db: sessionmaker[Session]
) -> None:
    firm = f"EX{uuid.uuid4().hex[:8].upper()}"
    usccs = factory.enterprises([enterprise(new_uscc()) for _ in range(40)])
    now = datetime.now(UTC)
    with db.begin() as session:
        session.add_all(
            Consent(
                id=uuid.uuid4(),
                uscc=u,
                firm_code=firm,
                granted_at=now - timedelta(days=30),
                expires_at=now - timedelta(days=1),
                evidence_ref="授权书",
                created_by="test",
            )
            for u in usccs
        )
    start = threading.Barrier(REPLICAS)
    counts: list[int] = []

    def replica() -> None:
        with db.begin() as session:
            start.wait()
            counts.append(record_expiries(session))

    threads = [threading.Thread(target=replica) for _ in range(REPLICAS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with db() as session:
        recorded = session.scalar(
            select(func.count())
            .select_from(FeedEntry)
            .where(FeedEntry.firm_code == firm, FeedEntry.kind == "consent-expired")
        )
        flagged = session.scalar(
            select(func.count()).where(Consent.firm_code == firm, Consent.expiry_recorded)
        )
    assert len(counts) == REPLICAS
    assert sum(counts) >= len(usccs)  # other tests' expired consents may be recorded too
    assert recorded == flagged == len(usccs)
