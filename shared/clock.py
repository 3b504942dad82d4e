"""Business time: dates are Asia/Shanghai's, and how far ahead a caller's clock may run."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A timestamp a caller sends (submitted_at, decided_at, granted_at) may be this far ahead of
# our clock — clocks differ — but not more: the future is not a fact yet.
CLOCK_SKEW = timedelta(minutes=5)


def local_date(moment: datetime) -> date:
    """The business date (in Shanghai) of an aware datetime."""
    return moment.astimezone(SHANGHAI).date()


def in_the_future(moment: datetime, now: datetime | None = None) -> bool:
    """Whether a caller's timestamp lies ahead of now by more than the allowed clock skew."""
    return moment > (now or datetime.now(UTC)) + CLOCK_SKEW
