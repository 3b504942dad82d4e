"""Idempotency-Key handling for money-relevant writes.

Same key + same client + same request → the first response replayed (status, body,
`Location`, `Idempotent-Replayed: true`); no key → 400 `idempotency-key-required`, a key
over 255 characters or not printable ASCII → 400 `invalid-idempotency-key`; same key with
another request → 422 `idempotency-key-reused`; a key whose first request is still running → 409
`idempotency-in-progress`. Keys are scoped per client and live 24 hours.

Everything happens in the request's own transaction. "In flight" is a transaction-scoped
advisory lock on (client, key), taken with `pg_try_advisory_xact_lock`: a second request with
the key while the first runs gets 409 at once; the stored response is inserted in the same
transaction as the work it answers. If that transaction fails — a 4xx, a crash, a database
restart — PostgreSQL drops the lock and nothing was stored, so a retry with the same key goes
straight through: no claim can be left behind.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from services.loans.errors import (
    IdempotencyInProgress,
    IdempotencyKeyInvalid,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
)
from services.loans.models import IdempotencyKey

LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255
KEY_PATTERN = r"^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$"
_KEY = re.compile(KEY_PATTERN[1:-1])

PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "Your unique key for this write (1-255 printable ASCII characters); a "
    "retry with the same key and body gets the first response back",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        "pattern": KEY_PATTERN,
    },
}
"""The header as the OpenAPI document declares it (the handler reads it from the request)."""


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
    """Validate the Idempotency-Key header value: 1-255 printable ASCII, not all spaces.
    None (or blank) is a missing key; anything else that breaks the rule is a bad one."""
    if key is None or not key.strip():
        raise IdempotencyKeyRequired("This write needs an Idempotency-Key header")
    if len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyInvalid(
            f"The Idempotency-Key has {len(key)} characters; at most {MAX_KEY_LENGTH} are allowed"
        )
    if not _KEY.fullmatch(key):
        raise IdempotencyKeyInvalid("The Idempotency-Key must be printable ASCII characters")
    return key


_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:name, 7263004)), now()")


def run(
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
    # Keys are printable, so a newline cannot occur in either part of the lock name.
    locked, now = session.execute(_LOCK, {"name": f"{client_id}\n{key}"}).one()
    if not locked:
        raise IdempotencyInProgress("The first request with this key is still running")
    row = session.scalars(
        select(IdempotencyKey).where(
            IdempotencyKey.client_id == client_id, IdempotencyKey.key == key
        )
    ).one_or_none()
    if row is not None and row.expires_at < now:  # a day old: the key is free again
        session.delete(row)
        session.flush()
        row = None
    if row is not None:
        if row.request_hash != request_hash or row.endpoint != endpoint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used for a different request; use a new key"
            )
        return Stored(row.response_status, row.response_body, row.response_headers), True
    stored = work()
    session.add(
        IdempotencyKey(
            client_id=client_id,
            key=key,
            endpoint=endpoint,
            request_hash=request_hash,
            response_status=stored.status,
            response_body=stored.body,
            response_headers=stored.headers,
            expires_at=now + LIFETIME,
        )
    )
    session.flush()
    return stored, False
