"""Per-client rate limiting (token bucket) and the cached client directory the edge consults."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from services.gateway.queries import ClientStatus, client_status
from shared.clock import monotonic


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per key: `per_minute` requests a minute, bursts up to `per_minute`."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    MAX_KEYS = 10_000

    def acquire(self, key: str, per_minute: int) -> int | None:
        """Take one token for `key`; return None if allowed, else seconds until one is free."""
        rate = per_minute / 60.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.MAX_KEYS:
                    self._prune(now, rate)
                bucket = self._buckets[key] = _Bucket(tokens=float(per_minute), updated=now)
            bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return max(1, math.ceil((1.0 - bucket.tokens) / rate))

    def _prune(self, now: float, rate: float) -> None:
        # Buckets idle long enough to be full again carry no state worth keeping.
        idle = [k for k, b in self._buckets.items() if (now - b.updated) * rate >= 60 * rate]
        for k in idle:
            del self._buckets[k]
        if len(self._buckets) >= self.MAX_KEYS:
            self._buckets.clear()


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
