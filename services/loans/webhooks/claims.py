"""Claiming due deliveries (leases, `SKIP LOCKED`, order per ordering key) and recording what
became of each attempt. Each function is one short transaction: none is open during HTTP.

A claim leases a delivery for `lease` seconds of database time and opens its attempt
(`in-flight`); a worker killed mid-send leaves both, the lease expires, and the next claim
marks that attempt `abandoned` and sends the same event again (the same `webhook-id`).
`record` acts only while the claim's lease token still stands.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.loans.webhooks import schedule
from services.loans.webhooks.sender import Sent

_CLAIM = text("""
WITH c AS (
  SELECT d.id FROM loan_webhook_delivery d
  JOIN loan_webhook_subscription s ON s.id = d.subscription_id
  WHERE d.state = 'pending' AND d.next_attempt_at <= now()
    AND (d.lease_until IS NULL OR d.lease_until < now())
    AND s.enabled AND (s.retry_not_before IS NULL OR s.retry_not_before <= now())
    AND NOT EXISTS (
      SELECT 1 FROM loan_webhook_delivery e
      WHERE e.subscription_id = d.subscription_id AND e.ordering_key = d.ordering_key
        AND e.state = 'pending' AND e.event_seq < d.event_seq)
  ORDER BY d.next_attempt_at, d.id
  LIMIT :free
  FOR UPDATE OF d SKIP LOCKED),
u AS (
  UPDATE loan_webhook_delivery d
  SET lease_until = now() + make_interval(secs => :lease), lease_token = gen_random_uuid(),
      leased_by = :worker, attempts = d.attempts + 1
  FROM c WHERE d.id = c.id
  RETURNING d.id, d.event_id, d.subscription_id, d.attempts, d.lease_token, d.give_up_at,
            d.created_at),
x AS (
  UPDATE loan_webhook_attempt SET outcome = 'abandoned', finished_at = now(),
         error = 'its worker stopped before the answer was recorded'
  WHERE outcome = 'in-flight' AND delivery_id IN (SELECT id FROM u)),
a AS (
  INSERT INTO loan_webhook_attempt (delivery_id, started_at, outcome, worker)
  SELECT id, now(), 'in-flight', :worker FROM u
  RETURNING id, delivery_id)
SELECT u.id, u.attempts, u.lease_token, u.give_up_at, u.created_at, u.subscription_id,
       a.id AS attempt_id, e.id AS event_id, e.body, s.url, s.secret_sealed,
       CASE WHEN s.previous_valid_until > now() THEN s.previous_secret_sealed END AS previous,
       now() AS claimed_at
FROM u JOIN a ON a.delivery_id = u.id
JOIN loan_webhook_event e ON e.id = u.event_id
JOIN loan_webhook_subscription s ON s.id = u.subscription_id
ORDER BY u.id
""")


@dataclass(frozen=True)
class Claimed:
    """A leased delivery with what its send needs (the secrets still sealed)."""

    delivery_id: int
    attempt_id: int
    attempts: int
    lease_token: uuid.UUID
    give_up_at: datetime
    created_at: datetime
    claimed_at: datetime
    subscription_id: int
    event_id: uuid.UUID
    body: str
    url: str
    secret_sealed: bytes
    previous_sealed: bytes | None


def claim(session: Session, *, worker: str, free: int, lease_seconds: float) -> list[Claimed]:
    """Lease up to `free` due deliveries: pending, whose endpoint is enabled and not asking
    to wait (`Retry-After`), and the earliest still pending of their ordering key to that
    endpoint (events of one application arrive in order). Other workers skip these rows."""
    rows = session.execute(
        _CLAIM, {"free": free, "lease": lease_seconds, "worker": worker}
    ).mappings()
    return [
        Claimed(
            delivery_id=r["id"],
            attempt_id=r["attempt_id"],
            attempts=r["attempts"],
            lease_token=r["lease_token"],
            give_up_at=r["give_up_at"],
            created_at=r["created_at"],
            claimed_at=r["claimed_at"],
            subscription_id=r["subscription_id"],
            event_id=r["event_id"],
            body=r["body"],
            url=r["url"],
            secret_sealed=bytes(r["secret_sealed"]),
            previous_sealed=None if r["previous"] is None else bytes(r["previous"]),
        )
        for r in rows
    ]


_FINISH_ATTEMPT = text("""
UPDATE loan_webhook_attempt SET finished_at = now(), latency_ms = :latency,
       status_code = :status, outcome = :outcome, error = :error, response_excerpt = :excerpt
WHERE id = :attempt AND outcome = 'in-flight'
""")

_DELIVERED = text("""
UPDATE loan_webhook_delivery SET state = 'delivered', delivered_at = now(), last_status = :status,
       last_error = NULL, lease_until = NULL, lease_token = NULL
WHERE id = :id AND lease_token = :token
RETURNING id
""")

# Success on an endpoint: `last_success_at`, written at most every 5 s for a busy endpoint;
# if it was failing, clear that and pull its backlog forward (a recovered endpoint drains now).
_SUCCEEDED = text("""
UPDATE loan_webhook_subscription s SET last_success_at = now(), failing_since = NULL,
       updated_at = now()
FROM (SELECT id, failing_since FROM loan_webhook_subscription WHERE id = :sid FOR UPDATE) old
WHERE s.id = old.id AND (s.failing_since IS NOT NULL OR s.last_success_at IS NULL
                         OR s.last_success_at < now() - interval '5 seconds')
RETURNING old.failing_since
""")

_PULL_FORWARD = text("""
UPDATE loan_webhook_delivery SET next_attempt_at = now()
WHERE subscription_id = :sid AND state = 'pending' AND next_attempt_at > now()
""")

_RETRY = text("""
UPDATE loan_webhook_delivery SET next_attempt_at = :next, last_status = :status,
       last_error = :error, lease_until = NULL, lease_token = NULL
WHERE id = :id AND lease_token = :token
RETURNING id
""")

_DEAD = text("""
UPDATE loan_webhook_delivery SET state = 'dead', last_status = :status, last_error = :error,
       lease_until = NULL, lease_token = NULL
WHERE id = :id AND lease_token = :token
RETURNING id
""")

_FAILING = text("""
UPDATE loan_webhook_subscription SET failing_since = coalesce(failing_since, now()),
       retry_not_before = CASE WHEN CAST(:wait AS double precision) IS NULL
                               THEN retry_not_before
                               ELSE now() + make_interval(secs => :wait) END,
       updated_at = now()
WHERE id = :sid AND (failing_since IS NULL OR CAST(:wait AS double precision) IS NOT NULL)
""")

# Dead without one 2xx from the endpoint since the delivery was made: the endpoint has failed
# for the whole schedule.
_NO_SUCCESS_SINCE = text("""
SELECT failing_since FROM loan_webhook_subscription
WHERE id = :sid AND (last_success_at IS NULL OR last_success_at < :since)
""")

_DISABLE = text("""
UPDATE loan_webhook_subscription SET enabled = false, disabled_at = now(),
       disabled_reason = :reason, updated_at = now()
WHERE id = :sid AND enabled
""")

CANCEL_PENDING = text("""
UPDATE loan_webhook_delivery SET state = 'cancelled', lease_until = NULL, lease_token = NULL,
       last_error = coalesce(last_error, 'the endpoint was disabled')
WHERE subscription_id = :sid AND state = 'pending'
""")


def record(
    session: Session,
    claimed: Claimed,
    sent: Sent,
    *,
    scale: float = 1.0,
    rng: random.Random | None = None,
) -> str:
    """Record `sent` for `claimed` and return the delivery's state after it (`delivered`,
    `pending` for a retry, `dead`), or `lost` when its lease was taken over meanwhile (the
    attempt is still written; the delivery is someone else's now)."""
    session.execute(
        _FINISH_ATTEMPT,
        {
            "attempt": claimed.attempt_id,
            "latency": sent.latency_ms,
            "status": sent.status,
            "outcome": sent.outcome,
            "error": sent.error,
            "excerpt": sent.excerpt,
        },
    )
    keys = {"id": claimed.delivery_id, "token": claimed.lease_token, "status": sent.status}
    sid = {"sid": claimed.subscription_id}
    if sent.outcome == "delivered":
        if session.execute(_DELIVERED, keys).first() is None:
            return "lost"
        was = session.execute(_SUCCEEDED, sid).first()
        if was is not None and was[0] is not None:
            session.execute(_PULL_FORWARD, sid)
        return "delivered"
    if sent.outcome == "gone":
        if session.execute(_DEAD, {**keys, "error": sent.error}).first() is None:
            return "lost"
        when = claimed.claimed_at.isoformat(timespec="seconds")
        disable(session, claimed.subscription_id, f"answered 410 Gone at {when}")
        return "dead"
    now = claimed.claimed_at + timedelta(milliseconds=sent.latency_ms)
    wait = schedule.retry_after(sent.retry_after, now)
    later = schedule.next_attempt(
        claimed.attempts, now, claimed.give_up_at, scale=scale, after=wait, rng=rng
    )
    failure = {**keys, "error": sent.error}
    if later is not None:
        if session.execute(_RETRY, {**failure, "next": later}).first() is None:
            return "lost"
        waits = None if wait is None else wait.total_seconds()
        session.execute(_FAILING, {**sid, "wait": waits})
        return "pending"
    if session.execute(_DEAD, failure).first() is None:
        return "lost"
    session.execute(_FAILING, {**sid, "wait": None})
    failing = session.execute(_NO_SUCCESS_SINCE, {**sid, "since": claimed.created_at}).first()
    if failing is not None:
        since = (failing[0] or claimed.created_at).isoformat(timespec="seconds")
        disable(
            session,
            claimed.subscription_id,
            f"no delivery succeeded since {since} (the whole retry schedule); "
            f"last error: {sent.error or sent.outcome}",
        )
    return "dead"


def disable(session: Session, subscription_id: int, reason: str) -> None:
    """Disable an endpoint, saying why (its owner reads it in `GET`), and cancel what is
    still pending to it; a `PUT` of the endpoint enables it again."""
    session.execute(_DISABLE, {"sid": subscription_id, "reason": reason[:1000]})
    session.execute(CANCEL_PENDING, {"sid": subscription_id})
