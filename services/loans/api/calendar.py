"""Endpoints of the working-day calendar: the decision deadline, a year's schedule, and an
operator's upload of the official one (JSON or CSV)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError

from services.loans import schedule
from services.loans.api.writes import actor
from services.loans.changes import CALENDAR_LOAD, calendar_loaded
from services.loans.schemas import (
    CalendarDayIn,
    CalendarIn,
    CalendarLoaded,
    CalendarOut,
    DeadlineOut,
)
from services.scoring import queries as scoring
from shared.as_of import AsOf, Versions, require_history
from shared.auth.deps import Admin, LoansReader
from shared.bulk import CSV_TYPES, parse_rows
from shared.changes.api import GOVERNED, Governed
from shared.clock import local_date
from shared.db import DbSession
from shared.errors import Unprocessable, UnsupportedMediaType, validation_errors
from shared.openapi import parsed_body
from shared.timestamps import Timestamp
from shared.years import YearPath

router = APIRouter()
admin = APIRouter()


@router.get("/deadline", response_model=DeadlineOut, summary="The two-working-day deadline")
def get_decision_deadline(
    submitted_at: Annotated[Timestamp, Query(description="RFC 3339 with offset")],
    session: DbSession,
    _: LoansReader,
    as_of: AsOf,
) -> DeadlineOut:
    """Due 23:59:59 Asia/Shanghai of the 2nd working day after the local submission date.
    `as_of`: counted with the calendar in force at that instant."""
    if submitted_at.tzinfo is None:
        raise Unprocessable(
            "submitted_at needs a UTC offset, e.g. 2026-11-20T10:00:00+08:00",
            errors=[{"loc": ["query", "submitted_at"], "msg": "offset required"}],
        )
    require_history(as_of, lambda: scoring.history_start(session))
    submitted_date = local_date(submitted_at)
    calendar = schedule.work_calendar(session, as_of)
    found = calendar.deadline_after(submitted_date)
    return DeadlineOut(
        submitted_at=submitted_at,
        submitted_date=submitted_date,
        due_at=found.due_at,
        provisional=found.provisional,
        versions=Versions(calendar=schedule.calendar_versions(calendar)),
    )


@router.get("/calendar/{year}", response_model=CalendarOut, summary="A year's working days")
def get_calendar(year: YearPath, session: DbSession, _: LoansReader) -> CalendarOut:
    """Holidays and make-up working days, and where they come from."""
    found = schedule.calendar_year(session, year)
    return CalendarOut(
        year=year,
        source=found.source,
        holidays=sorted(found.holidays),
        make_up_workdays=sorted(found.make_up_workdays),
    )


def calendar_from_upload(body: bytes, content_type: str | None) -> CalendarIn:
    """A schedule sent as JSON `{holidays, make_up_workdays}` or as CSV rows `date,kind`
    (415 for any other media type, 422 for a bad row or field)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media in CSV_TYPES:
        rows = parse_rows(body, media, CalendarDayIn)
        return CalendarIn(
            holidays=[r.date for r in rows if r.kind == "holiday"],
            make_up_workdays=[r.date for r in rows if r.kind == "workday"],
        )
    if media == "application/json" or media.endswith("+json"):
        try:
            return CalendarIn.model_validate_json(body)
        except ValidationError as exc:
            raise Unprocessable(
                f"{exc.error_count()} problem(s) in the schedule",
                errors=[
                    {**e, "loc": ["body", *e["loc"]]}
                    for e in validation_errors(exc.errors(include_input=False))
                ],
            ) from None
    raise UnsupportedMediaType("Send the schedule as application/json or text/csv")


_CALENDAR_BODY = parsed_body(
    CalendarIn,
    other={
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "date,kind rows; kind is holiday or workday",
            }
        }
    },
)


async def _calendar_body(request: Request, _: Admin) -> CalendarIn:
    """The schedule as JSON `{holidays, make_up_workdays}` or CSV rows `date,kind`."""
    return calendar_from_upload(await request.body(), request.headers.get("content-type"))


@admin.put(
    "/calendar/{year}",
    response_model=CalendarLoaded,
    responses=GOVERNED,
    openapi_extra=_CALENDAR_BODY,
    summary="Load a year's official schedule (JSON or CSV)",
)
def put_calendar(
    year: YearPath,
    body: Annotated[CalendarIn, Depends(_calendar_body)],
    request: Request,
    session: DbSession,
    gov: Governed,
) -> Any:
    """Overrides the bundled schedule; recomputes provisional deadlines of open applications.
    Governed (four eyes): 202 with the pending change unless INNOCREDIT_FOUR_EYES leaves
    `calendar-load` out."""
    if gov.requires(CALENDAR_LOAD):
        return gov.propose(CALENDAR_LOAD, {"year": year, "calendar": body.model_dump(mode="json")})
    count = schedule.load_calendar(session, year, body, actor(request, gov.maker))
    return calendar_loaded(year, body, count)
