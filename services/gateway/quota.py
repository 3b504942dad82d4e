"""Per-client quotas shared by every gateway process: a GCRA bucket per key in PostgreSQL.

A client may make `per_minute` requests a minute, in bursts of up to `per_minute`, however
many gateways it spreads them over: the bucket lives in `gw_rate_limit` and one call of
`gw_rate_take` (migration 0008) decides under the row's lock, on the database's clock.

So that a busy client does not cost a database call per request, a gateway takes its
tokens in leases sized by demand (twice what the last lease spent, plus one), at most what
the client's rate earns in `lease_seconds` (so one token for any client under
`60 / lease_seconds` requests a minute: a slow client is decided call by call), spent
locally until they run out or `lease_seconds` pass. Tokens taken are gone from the shared
bucket, so the quota is never exceeded; a lease left unspent when it lapses is lost, so a
client spreading requests over `N` gateways may be refused up to `N × lease_seconds` worth
of its rate early. A refusal is remembered for the lease's time, the seconds to wait with it.

The database being unreachable refuses the request like any other database failure
(503 `database-unavailable`): a gateway that cannot count does not let requests through
uncounted.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass

from anyio import to_thread
from sqlalchemy import Engine, text

from shared.clock import monotonic

WINDOW_SECONDS = 60.0  # `per_minute` is the rate and also the burst: a minute's worth

_TAKE = text("SELECT granted, retry_after FROM gw_rate_take(:key, :wanted, :interval, :window)")
_SWEEP = text("DELETE FROM gw_rate_limit WHERE tat < extract(epoch FROM clock_timestamp())")


@dataclass(slots=True)
class _Lease:
    """Tokens of one key this gateway took from the shared bucket, until `lapses`; or, when
    the bucket refused, `retry_after` for everyone asking until then."""

    tokens: int
    lapses: float
    spent: int = 0  # from this lease: sizes the next
    retry_after: int | None = None


class SharedQuota:
    """`acquire(key, per_minute)`: None when the request may go on, else the seconds to wait."""

    MAX_LEASES = 10_000
    SWEEP_EVERY_SECONDS = 60.0

    def __init__(
        self,
        engine: Engine,
        *,
        lease_seconds: float,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self._engine = engine
        self._lease_seconds = lease_seconds
        self._clock = clock
        self._leases: dict[str, _Lease] = {}
        self._taking: dict[str, asyncio.Event] = {}
        self._next_sweep = clock() + self.SWEEP_EVERY_SECONDS

    @property
    def lease_seconds(self) -> float:
        """How long a lease is spent locally (`INNOCREDIT_QUOTA_LEASE_SECONDS`)."""
        return self._lease_seconds

    async def acquire(self, key: str, per_minute: int) -> int | None:
        """Spend a token of `key`'s bucket: from this gateway's lease while it lasts, else
        from a new lease. One request at a time takes a key's lease; the others that find
        none wait for it (so a burst does not take a lease each)."""
        while True:
            lease = self._leases.get(key)
            if lease is not None and self._clock() < lease.lapses:
                if lease.tokens > 0:
                    lease.tokens -= 1
                    lease.spent += 1
                    return None
                if lease.retry_after is not None:
                    return lease.retry_after
            taking = self._taking.get(key)
            if taking is None:
                return await self._take_lease(key, per_minute, lease)
            await taking.wait()

    async def _take_lease(self, key: str, per_minute: int, previous: _Lease | None) -> int | None:
        """Take a lease for `key` and spend its first token. Its size follows demand — one
        token, then twice what the last lease spent plus one — up to what the rate earns in
        `lease_seconds`, so a client with a large quota and little traffic leaves its tokens
        in the shared bucket."""
        done = self._taking[key] = asyncio.Event()
        try:
            most = max(1, int(per_minute / WINDOW_SECONDS * self._lease_seconds))
            wanted = min(most, 2 * previous.spent + 1 if previous is not None else 1)
            granted, retry_after = await to_thread.run_sync(self._take, key, wanted, per_minute)
            now = self._clock()
            if len(self._leases) >= self.MAX_LEASES:
                self._leases = {k: v for k, v in self._leases.items() if now < v.lapses}
            lapses = now + self._lease_seconds
            if granted == 0:
                wait = max(1, math.ceil(retry_after))
                self._leases[key] = _Lease(0, lapses, retry_after=wait)
                return wait
            self._leases[key] = _Lease(granted - 1, lapses, spent=1)
            return None
        finally:
            del self._taking[key]
            done.set()

    def _take(self, key: str, wanted: int, per_minute: int) -> tuple[int, float]:
        """One call of `gw_rate_take`; now and then, also forget the buckets that are full
        again (a row whose arrival time has passed says no more than no row)."""
        params = {
            "key": key,
            "wanted": wanted,
            "interval": WINDOW_SECONDS / per_minute,
            "window": WINDOW_SECONDS,
        }
        with self._engine.begin() as connection:
            granted, retry_after = connection.execute(_TAKE, params).one()
        if self._clock() >= self._next_sweep:
            self._next_sweep = self._clock() + self.SWEEP_EVERY_SECONDS
            with self._engine.begin() as connection:
                connection.execute(_SWEEP)
        return int(granted), float(retry_after)
