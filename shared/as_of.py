"""Answers as of an instant: the `?as_of=` parameter, and the `versions` every answer that
depends on changing rules carries.

Nothing published is overwritten (migration 0013), so an answer that depends on rules that
change — the ranking run, the points model, the products, the calendar, the fee rate — can be
given again as it was at an instant T: `?as_of=` (RFC 3339 with an offset). An instant at or
after now asks for the current answer; before the programme's first ranking there is nothing
to answer (404). The `versions` object names what an answer was made with, with or without
`as_of`, so an `as_of` answer is byte-equal to the one served at that instant.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from shared import clock
from shared.errors import NotFound
from shared.timestamps import Instant, Timestamp, format_instant

AS_OF_DESCRIPTION = (
    "Answer as the service would have at this instant (RFC 3339 with an offset, e.g. "
    "2026-06-30T18:00:00+08:00): the ranking run, model, products, calendar and fee rate then "
    "in force. An instant at or after now gives the current answer; one before the "
    "programme's first ranking is 404."
)


def _as_of(
    as_of: Annotated[Timestamp | None, Query(description=AS_OF_DESCRIPTION)] = None,
) -> datetime | None:
    """The instant asked for, or None for now (also for an instant not before now)."""
    if as_of is None or as_of >= clock.now():
        return None
    return as_of


AsOf = Annotated[datetime | None, Depends(_as_of)]
"""A handler's `as_of`: a past instant, or None for the current answer."""


class BeforeHistory(NotFound):
    """An `as_of` before anything was published: there was no answer to give then."""


def require_history(at: datetime | None, first: Callable[[], datetime | None]) -> None:
    """Refuse (404) an instant before the programme's first ranking (`first()`: when it was
    published, None when it has not been; asked only for a past instant)."""
    if at is None:
        return
    start = first()
    if start is None or at < start:
        since = f"; its history starts at {format_instant(start)}" if start else ""
        raise BeforeHistory(
            f"Nothing had been published at {format_instant(at)}: the programme had no "
            f"ranking yet{since}"
        )


class CalendarVersion(BaseModel):
    """A year's schedule an answer used, and where it came from."""

    year: int
    source: str = Field(description="loaded, bundled, statutory or weekdays")
    loaded_at: Instant | None = Field(description="when an operator loaded it (source loaded)")


class Versions(BaseModel):
    """What an answer was made with (null: it does not depend on that). The same with or
    without `as_of`: asked again `?as_of=` an instant, an answer names the same versions."""

    ranking_run: int | None = Field(
        default=None, description="the recompute run whose points it reads (GET /v1/scoring/runs)"
    )
    model_version: str | None = Field(default=None, description="the points model of that run")
    product_valid_from: Instant | None = Field(
        default=None, description="since when the product had the terms used"
    )
    fee_rate_id: int | None = Field(
        default=None, description="the 泰信保 fee rate used (GET /v1/guarantee/fee-rates)"
    )
    calendar: list[CalendarVersion] | None = Field(
        default=None, description="the schedules of the years the working days were counted in"
    )
    deadline_event: int | None = Field(
        default=None, description="the application event that set the deadline shown"
    )
