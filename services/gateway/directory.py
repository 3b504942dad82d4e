"""The cached client directory the edge consults (enabled? which rate limit?)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from services.gateway.queries import ClientStatus, client_status
from shared.clock import monotonic


class ClientDirectory:
    """Client status (enabled, rate limit) cached for `ttl` seconds per client (measured on
    `shared.clock.monotonic`, so a test moves the time instead of waiting out the cache)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self._factory = factory
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, ClientStatus | None]] = {}

    def cached(self, client_id: str) -> tuple[bool, ClientStatus | None]:
        """Return (hit, status) without touching the database."""
        entry = self._entries.get(client_id)
        if entry is None or not 0 <= self._clock() - entry[0] <= self._ttl:
            return False, None
        return True, entry[1]

    def load(self, client_id: str) -> ClientStatus | None:
        """Read a client's status from the database and cache it."""
        with self._factory() as session:
            status = client_status(session, client_id)
        self._entries[client_id] = (self._clock(), status)
        return status

    def forget(self, client_id: str) -> None:
        """Drop a cached entry (after this process disabled the client)."""
        self._entries.pop(client_id, None)
