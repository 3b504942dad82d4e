"""When a failed delivery is tried again, and when it is given up (pure; the README's table).

The delays follow the Standard Webhooks example (its last 24 h cut to 20 h so ten attempts
fit in 72 hours): after attempt n, `DELAYS[n - 1]`, each × U(0.9, 1.1) so that endpoints
failing together do not come back together. A `Retry-After` can only lengthen a delay. The
scale (`INNOCREDIT_WEBHOOK_RETRY_SCALE`, tests 0.001) multiplies the delays and the 72 h.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=20),
)
MAX_ATTEMPTS = len(DELAYS) + 1
LIFETIME = timedelta(hours=72)
JITTER = (0.9, 1.1)
# A Retry-After beyond this is the receiver's mistake (or a date far away): honoured only up
# to the delivery's give-up time anyway, so the cap keeps the arithmetic finite.
_RETRY_AFTER_CAP = timedelta(days=7)


def give_up_at(created: datetime, *, scale: float = 1.0) -> datetime:
    """The last moment a new delivery (or a redelivery) is tried: 72 h (scaled) after it."""
    return created + LIFETIME * scale


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A `Retry-After` header as a delay: delta-seconds or an HTTP-date (RFC 9110 §10.2.3);
    `None` when it is missing, garbage, negative or in the past."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return min(timedelta(seconds=int(text)), _RETRY_AFTER_CAP)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is GMT; a zoneless one is read so
        return None
    delay = when - now
    return min(delay, _RETRY_AFTER_CAP) if delay > timedelta(0) else None


def next_attempt(
    attempts: int,
    now: datetime,
    deadline: datetime,
    *,
    scale: float = 1.0,
    after: timedelta | None = None,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to try again after the `attempts`-th failure at `now`, or `None`: the delivery is
    dead (the tenth attempt failed, or the failure came at or past its `deadline`,
    `give_up_at`). The wait is the schedule's delay, scaled and jittered, lengthened to the
    receiver's `after` (`Retry-After`, never scaled) and cut at the deadline."""
    if attempts >= MAX_ATTEMPTS or now >= deadline:
        return None
    delay = DELAYS[max(attempts, 1) - 1] * scale * (rng or random).uniform(*JITTER)
    if after is not None and after > delay:
        delay = after
    return min(now + delay, deadline)
