"""The cached directory the edge consults: may this caller call (enabled? which rate limit?).

A caller is an API client (`ic_…`), or a dashboard user's session (`user:<id>` and the token's
`sid`): a user's token is good while the user is enabled and the session it was minted for
stands (not signed out, expired or idle; services/gateway/sessions.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from services.gateway import sessions
from services.gateway.queries import ClientStatus, client_status
from shared import clock
from shared.auth.principal import Principal
from shared.clock import monotonic


def directory_key(principal: Principal) -> str:
    """What the directory knows a caller by: the client id, or for a user `user:<id> <sid>`."""
    if principal.session_id is None:
        return principal.client_id
    return f"{principal.client_id} {principal.session_id}"


class ClientDirectory:
    """Caller status (enabled, rate limit) cached for `ttl` seconds per caller (measured on
    `shared.clock.monotonic`, so a test moves the time instead of waiting out the cache)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        ttl_seconds: float,
        session_idle_seconds: int = 1800,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self._factory = factory
        self._ttl = ttl_seconds
        self._idle = session_idle_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, ClientStatus | None]] = {}

    def cached(self, key: str) -> tuple[bool, ClientStatus | None]:
        """Return (hit, status) without touching the database."""
        entry = self._entries.get(key)
        if entry is None or not 0 <= self._clock() - entry[0] <= self._ttl:
            return False, None
        return True, entry[1]

    def load(self, key: str) -> ClientStatus | None:
        """Read a caller's status from the database and cache it."""
        with self._factory() as session:
            status = self._status(session, key)
        self._entries[key] = (self._clock(), status)
        return status

    def _status(self, session: Session, key: str) -> ClientStatus | None:
        subject, _, sid = key.partition(" ")
        user_id = sessions.user_id_of(subject)
        if user_id is None:
            return None if sid else client_status(session, subject)
        try:
            session_id = uuid.UUID(sid)
        except ValueError:
            return None
        live = sessions.is_live(
            session, user_id, session_id, now=clock.now(), idle_seconds=self._idle
        )
        # Users share the default rate limit, each their own bucket (`user:<id>`).
        return ClientStatus(enabled=True, rate_limit_per_minute=None) if live else None

    def forget(self, client_id: str) -> None:
        """Drop a cached entry (after this process disabled the client)."""
        self._entries.pop(client_id, None)

    def forget_user(self, user_id: int) -> None:
        """Drop every cached session of a user (after this process ended one or all of them)."""
        prefix = sessions.user_subject(user_id) + " "
        for key in list(self._entries):
            if key.startswith(prefix):
                self._entries.pop(key, None)
