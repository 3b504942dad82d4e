"""The worker's hourly tidying: what is final and old goes, 1,000 rows a statement.

Deliveries delivered, dead or cancelled longer ago than the retention (their attempts
cascade), events no delivery refers to any more, and the timer marks of applications no
longer waiting for a decision. Pending deliveries of a disabled endpoint (an emit that raced
the disable) are cancelled. One worker does it per hour (an advisory lock).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.loans.webhooks.claims import CANCEL_PENDING

LOCK_KEY = (7263006, 2)
BATCH = 1000

_LOCK = text("SELECT pg_try_advisory_xact_lock(:a, :b)")

_DELIVERIES = text("""
DELETE FROM loan_webhook_delivery WHERE id IN (
  SELECT id FROM loan_webhook_delivery
  WHERE state <> 'pending' AND coalesce(delivered_at, created_at) < now() - :keep
  LIMIT :batch)
""")

_EVENTS = text("""
DELETE FROM loan_webhook_event WHERE id IN (
  SELECT e.id FROM loan_webhook_event e
  WHERE e.created_at < now() - :keep
    AND NOT EXISTS (SELECT 1 FROM loan_webhook_delivery d WHERE d.event_id = e.id)
  LIMIT :batch)
""")

_MARKS = text("""
DELETE FROM loan_webhook_timer t USING loan_application a
WHERE a.id = t.application_id AND a.status <> 'submitted' AND t.due_at < now() - :keep
""")

_DISABLED = text("""
SELECT DISTINCT d.subscription_id FROM loan_webhook_delivery d
JOIN loan_webhook_subscription s ON s.id = d.subscription_id
WHERE d.state = 'pending' AND NOT s.enabled
""")


def tidy(session: Session, *, retention_days: int) -> int:
    """Delete what is past `retention_days` and cancel what a disabled endpoint still has
    pending; the rows affected (0 when another worker holds the lock)."""
    if not session.execute(_LOCK, dict(zip("ab", LOCK_KEY, strict=True))).scalar_one():
        return 0
    keep = {"keep": timedelta(days=retention_days), "batch": BATCH}
    done = 0
    for statement in (_DELIVERIES, _EVENTS):
        while (n := _count(session.execute(statement, keep))) > 0:
            done += n
            if n < BATCH:
                break
    done += _count(session.execute(_MARKS, keep))
    for (sid,) in session.execute(_DISABLED).all():
        done += _count(session.execute(CANCEL_PENDING, {"sid": sid}))
    return done


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
