"""The lock that serialises every write of one governed target: a direct write (a kind
configured off, the CLI at the installation, the demo) and an approval of the same target
run one after the other, creations included (there is no row to lock yet)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

# 7263001-7263004 are the gateway's, the recompute's, the feed's and idempotency's.
_LOCK_SPACE = 7263005


def lock_target(session: Session, target: str) -> None:
    """Take the transaction-scoped advisory lock of `target` (e.g. `product:XEGQ`); re-entrant
    within one transaction."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:target, :space))"),
        {"target": target, "space": _LOCK_SPACE},
    )
