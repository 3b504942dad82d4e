"""The change feed of enterprises: a sequence of "this enterprise's exported facts changed",
written in the same transaction as each change.

It belongs to no service: scoring appends when a recompute changes points, guarantee when a
consent is granted, revoked or expires, and the credit-firm export reads it. Its table is
`gt_feed` (the name it was created with).

Writers (a points recompute, a consent grant, revocation or recorded expiry) hold an exclusive
advisory lock from their first feed row to their commit; a pull reads the high-water mark
under the shared lock, in a short transaction of its own before its snapshot. So when a pull
sees sequence number N, every entry up to N is committed — none can appear later below it —
and a firm that pulls from its last cursor gets every change exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

import psycopg
from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, Index, String, func, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.db import Base

FEED_LOCK = 7263003


class FeedEntry(Base):
    """The export's change feed: a monotonically increasing sequence of enterprise changes,
    written in the transaction of the change (points for every firm; consents for one)."""

    __tablename__ = "gt_feed"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('points', 'consent-granted', 'consent-revoked', 'consent-expired')",
            name="kind",
        ),
        Index("ix_gt_feed_uscc_seq", "uscc", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18))
    firm_code: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def _lock(session: Session) -> None:
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": FEED_LOCK})


def high_water(session: Session) -> int:
    """The highest sequence number below which no entry can still appear.

    Call it in a short READ COMMITTED transaction of its own, committed before the reader's
    REPEATABLE READ transaction takes its snapshot. It waits (a shared lock, held to the end
    of that short transaction) until no writer is mid-transaction, then reads the maximum:
    every entry up to it is committed before the reader's snapshot is taken, so the reader
    sees them all, and none can commit later below it. Writers wait for this transaction
    only, never for a slow download; and the lock is a transaction's, so it is safe behind a
    pooler in transaction mode (a session-level lock would stay on whichever server
    connection the pooler gave the reader).
    """
    session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": FEED_LOCK})
    mark = session.execute(text("SELECT coalesce(max(seq), 0) FROM gt_feed")).scalar_one()
    return int(mark)


def record(session: Session, entries: Iterable[tuple[str, str | None, str]]) -> None:
    """Append (uscc, firm_code or None for every firm, kind) entries."""
    rows = list(entries)
    if not rows:
        return
    _lock(session)
    dbapi = cast(psycopg.Connection[Any], session.connection().connection.dbapi_connection)
    with (
        dbapi.cursor() as cursor,
        cursor.copy("COPY gt_feed (uscc, firm_code, kind) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def points_changed(session: Session, usccs: Sequence[str]) -> None:
    """Scoring recomputed these enterprises' points: a change for every consented firm."""
    record(session, ((uscc, None, "points") for uscc in usccs))
