"""Reading on a streaming replica only what it has replayed.

A replica lags its primary by its replay delay. Most heavy reads may (statistics a second
old are statistics); a read that must see everything up to a point the primary has just
fixed — the export's high-water mark — first waits for the replica to replay the primary's
WAL up to where that point was committed, and reads on the primary if the replica has not
within the wait. PostgreSQL makes a snapshot taken after the replay position passed a commit
include that commit, so the check comes before the reader's first statement.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("innocredit.replica")

POLL_SECONDS = 0.02


def replayed(replica: sessionmaker[Session], lsn: str, *, wait_seconds: float) -> bool:
    """Whether `replica` has replayed the WAL up to `lsn`, waiting up to `wait_seconds`.
    A server that is not in recovery (a primary given as the replica) has everything."""
    deadline = time.monotonic() + wait_seconds
    query = text(
        "SELECT pg_last_wal_replay_lsn() IS NULL "
        "OR pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"
    )
    while True:
        with replica() as session:
            if session.execute(query, {"lsn": lsn}).scalar_one():
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)


def reader_after_commit(
    primary: sessionmaker[Session], replica: sessionmaker[Session], *, wait_seconds: float
) -> sessionmaker[Session]:
    """Where to read what the primary has committed so far: `replica` once it has replayed
    the primary's current WAL position, else `primary` (the same factory when no replica is
    configured)."""
    if replica is primary:
        return primary
    with primary() as session:
        lsn = str(session.execute(text("SELECT pg_current_wal_lsn()")).scalar_one())
    if replayed(replica, lsn, wait_seconds=wait_seconds):
        return replica
    log.info("replica behind: reading on the primary", extra={"lsn": lsn})
    return primary
