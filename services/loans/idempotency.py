"""Idempotency-Key handling for money-relevant writes.

Same key + same client + same request → the first response replayed (status, body,
`Location`, `Idempotent-Replayed: true`); same key with another request → 422
`idempotency-key-reused`; a key whose first request is still running → 409
`idempotency-in-progress`. Keys are scoped per client and live 24 hours.

The key is claimed in its own short transaction (so concurrent requests see it at once), the
work and the stored response commit together in the request's transaction, and a request that
fails releases its claim, so a corrected retry with the same key succeeds. A claim abandoned
by a crashed process is taken over after `STALE_AFTER`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from services.loans.errors import (
    IdempotencyInProgress,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
)
from services.loans.models import IdempotencyKey

LIFETIME = timedelta(hours=24)
STALE_AFTER = timedelta(seconds=60)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Stored:
    """A response kept for replay."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def fingerprint(endpoint: str, payload: Any) -> str:
    """A hash of the request as understood (parsed body), so formatting does not matter."""
    canonical = json.dumps(
        [endpoint, payload], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> str:
    """Validate the Idempotency-Key header value."""
    if key is None or not key.strip():
        raise IdempotencyKeyRequired("This write needs an Idempotency-Key header")
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise IdempotencyKeyRequired(
            f"The Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters"
        )
    return key


def claim(
    factory: sessionmaker[Session], client_id: str, key: str, endpoint: str, request_hash: str
) -> Stored | None:
    """Claim `key` for this request, or return the stored response to replay."""
    with factory.begin() as session:
        now = session.execute(select(func.now())).scalar_one()
        session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.client_id == client_id,
                IdempotencyKey.key == key,
                IdempotencyKey.expires_at < now,
            )
        )
        claimed = session.execute(
            insert(IdempotencyKey)
            .values(
                client_id=client_id,
                key=key,
                endpoint=endpoint,
                request_hash=request_hash,
                state="in_flight",
                expires_at=now + LIFETIME,
            )
            .on_conflict_do_nothing()
            .returning(IdempotencyKey.key)
        ).first()
        if claimed is not None:
            return None
        row = session.scalars(
            select(IdempotencyKey)
            .where(IdempotencyKey.client_id == client_id, IdempotencyKey.key == key)
            .with_for_update()
        ).one()
        if row.request_hash != request_hash or row.endpoint != endpoint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used for a different request; use a new key"
            )
        if row.state == "done" and row.response_status is not None:
            return Stored(row.response_status, row.response_body or {}, row.response_headers or {})
        if now - row.created_at < STALE_AFTER:
            raise IdempotencyInProgress("The first request with this key is still running")
        # Abandoned by a crashed worker: take it over.
        session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.client_id == client_id, IdempotencyKey.key == key)
            .values(created_at=now)
        )
        return None


def complete(session: Session, client_id: str, key: str, stored: Stored) -> None:
    """Store the response, in the same transaction as the work it answers."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.client_id == client_id, IdempotencyKey.key == key)
        .values(
            state="done",
            response_status=stored.status,
            response_body=stored.body,
            response_headers=stored.headers,
        )
    )


def release(factory: sessionmaker[Session], client_id: str, key: str) -> None:
    """Give the key back after a failed request (nothing was written with it)."""
    with factory.begin() as session:
        session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.client_id == client_id,
                IdempotencyKey.key == key,
                IdempotencyKey.state == "in_flight",
            )
        )


def run(
    factory: sessionmaker[Session],
    session: Session,
    *,
    client_id: str,
    key: str | None,
    endpoint: str,
    payload: Any,
    work: Callable[[], Stored],
) -> tuple[Stored, bool]:
    """Do `work` at most once per key; return (response, replayed)."""
    key = check_key(key)
    request_hash = fingerprint(endpoint, payload)
    replay = claim(factory, client_id, key, endpoint, request_hash)
    if replay is not None:
        return replay, True
    try:
        stored = work()
        complete(session, client_id, key, stored)
        session.flush()
    except BaseException:
        session.rollback()
        release(factory, client_id, key)
        raise
    return stored, False
