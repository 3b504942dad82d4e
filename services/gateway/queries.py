"""What other code may read of the gateway's tables: public keys and client status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.gateway import service
from services.gateway.models import Client


@dataclass(frozen=True, slots=True)
class ClientStatus:
    """Whether a client may call, and its own rate limit (None: the default)."""

    enabled: bool
    rate_limit_per_minute: int | None


def verification_keys(session: Session, *, token_ttl_seconds: int) -> list[dict[str, Any]]:
    """Public JWKs that verify live tokens (the active key and recently retired ones)."""
    return service.verification_keys(session, token_ttl_seconds=token_ttl_seconds)


def key_loader(
    factory: sessionmaker[Session], *, token_ttl_seconds: int
) -> Callable[[], list[dict[str, Any]]]:
    """Return a `KeySet` loader that reads the public keys from the database."""

    def load() -> list[dict[str, Any]]:
        with factory() as session:
            return verification_keys(session, token_ttl_seconds=token_ttl_seconds)

    return load


def client_status(session: Session, client_id: str) -> ClientStatus | None:
    """Return the status of client `client_id`, or None if there is no such client."""
    row = session.execute(
        select(Client.enabled, Client.rate_limit_per_minute).where(Client.client_id == client_id)
    ).one_or_none()
    return None if row is None else ClientStatus(row.enabled, row.rate_limit_per_minute)
