"""Business time: the clock, dates in Asia/Shanghai, and how far ahead a caller's clock may run.

Every "now" of the domain comes from `now()`, so a test sets the time with `frozen_at(...)`
(or `use_clock(...)`) instead of sleeping; the server's own clock is the default. Intervals
(cache ages, cooldowns) are measured with `monotonic()`, which follows a clock set that way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A timestamp a caller sends (submitted_at, decided_at, granted_at) may be this far ahead of
# our clock — clocks differ — but not more: the future is not a fact yet.
CLOCK_SKEW = timedelta(minutes=5)


def _system() -> datetime:
    return datetime.now(UTC)


_clock: Callable[[], datetime] = _system
# The system's monotonic clock minus its wall clock, read once: a set clock's monotonic time is
# its own time plus this constant, so a frozen clock's intervals stand exactly still (two
# readings of two system clocks per call would jitter by microseconds, either way).
_MONOTONIC_OFFSET = time.monotonic() - time.time()


def now() -> datetime:
    """The current time (aware, UTC) from the clock in use."""
    return _clock()


def monotonic() -> float:
    """Seconds for measuring intervals: the system's monotonic clock, shifted by as much as the
    clock in use is ahead of the system's (none by default), so that under `frozen_at` an
    interval stands still, and moving the frozen time moves it too. A test that sets the
    clock back makes intervals negative; whoever measures one treats that as expired."""
    if _clock is _system:
        return time.monotonic()
    return _clock().timestamp() + _MONOTONIC_OFFSET


@contextmanager
def use_clock(clock: Callable[[], datetime]) -> Iterator[None]:
    """Read the time from `clock` (which returns aware datetimes) inside the block."""
    global _clock
    previous, _clock = _clock, clock
    try:
        yield
    finally:
        _clock = previous


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """The clock stands still at the aware datetime `moment` inside the block."""
    if moment.tzinfo is None:
        raise ValueError("a frozen clock needs an aware datetime")
    with use_clock(lambda: moment):
        yield


def local_date(moment: datetime) -> date:
    """The business date (in Shanghai) of an aware datetime."""
    return moment.astimezone(SHANGHAI).date()


def today() -> date:
    """Today's business date in Shanghai."""
    return local_date(now())


def in_the_future(moment: datetime, now_: datetime | None = None) -> bool:
    """Whether a caller's timestamp lies ahead of now by more than the allowed clock skew."""
    return moment > (now_ or now()) + CLOCK_SKEW
