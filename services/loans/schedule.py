"""The working-day calendar in force, from the database: loaded years over the others.

`services.loans.calendar` computes with schedules; this module reads and stores them. Loading
a year is an operator's act for the whole programme: it recomputes the provisional deadline
of every bank's open applications. Every load is kept (`loan_calendar_load`), so the calendar
is also read as it was at an instant. Never commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.orm import Session

from services.loans.applications import Actor, Elapsed, record_event, touch
from services.loans.calendar import WorkCalendar, YearSchedule, unloaded, validate_year
from services.loans.errors import BadCalendar
from services.loans.models import Application, CalendarLoad, CalendarYear
from services.loans.schemas import CalendarIn
from services.loans.status import Status
from shared import clock
from shared.as_of import CalendarVersion
from shared.changes.locks import lock_target
from shared.timestamps import format_instant


def work_calendar(session: Session, at: datetime | None = None) -> WorkCalendar:
    """The calendar in force now, or at the instant `at`: loaded years (each year's latest
    load by then) over bundled, statutory or weekday ones."""
    rows: list[CalendarYear] | list[CalendarLoad]
    if at is None:
        rows = list(session.scalars(select(CalendarYear)))
    else:
        rows = list(
            session.scalars(
                select(CalendarLoad)
                .where(CalendarLoad.loaded_at <= at)
                .order_by(CalendarLoad.year, CalendarLoad.loaded_at.desc(), CalendarLoad.id.desc())
                .ext(distinct_on(CalendarLoad.year))
            )
        )
    loaded = {
        row.year: YearSchedule(
            row.year,
            "loaded",
            frozenset(row.holidays),
            frozenset(row.make_up_workdays),
            row.loaded_at,
        )
        for row in rows
    }
    return WorkCalendar(loaded)


def calendar_versions(calendar: WorkCalendar) -> list[CalendarVersion]:
    """The schedules an answer was counted with, as its `versions` name them."""
    return [
        CalendarVersion(year=s.year, source=s.source, loaded_at=s.loaded_at)
        for s in calendar.consulted()
    ]


def calendar_year(session: Session, year: int) -> YearSchedule:
    """A year's schedule and its source."""
    row = session.get(CalendarYear, year)
    if row is not None:
        return YearSchedule(
            year, "loaded", frozenset(row.holidays), frozenset(row.make_up_workdays)
        )
    return unloaded(year)


def load_calendar(session: Session, year: int, data: CalendarIn, actor: Actor) -> int:
    """Load a year's official schedule; recompute provisional deadlines of open applications
    (each one moved records it and emits `application.deadline_recomputed`).

    Returns how many applications got a new deadline.
    """
    lock_target(session, f"calendar:{year}")  # after an approval of the same year
    problems = validate_year(year, data.holidays, data.make_up_workdays)
    if problems:
        raise BadCalendar(
            f"{len(problems)} problem(s) in the {year} schedule",
            errors=[{"loc": ["body"], "msg": p} for p in problems],
        )
    values = {
        "holidays": sorted(set(data.holidays)),
        "make_up_workdays": sorted(set(data.make_up_workdays)),
        "loaded_by": actor.client_id,
        "loaded_at": clock.now(),
    }
    stmt = insert(CalendarYear).values(year=year, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=[CalendarYear.year], set_=values))
    session.add(CalendarLoad(year=year, **values))
    session.flush()
    calendar = work_calendar(session)
    elapsed = Elapsed(lambda: calendar)
    # Every bank's: the schedule is the programme's, and so is the deadline it sets.
    open_rows = session.scalars(
        select(Application)
        .where(Application.status == Status.SUBMITTED, Application.deadline_provisional.is_(True))
        .with_for_update()
    ).all()
    for app in open_rows:
        deadline = calendar.decision_deadline(app.submitted_at)
        if (deadline.due_at, deadline.provisional) != (
            app.decision_due_at,
            app.deadline_provisional,
        ):
            previous_due_at = app.decision_due_at
            # Changed before the record: its event shows the application with the new deadline.
            app.decision_due_at = deadline.due_at
            app.deadline_provisional = deadline.provisional
            touch(app)
            record_event(
                session,
                app,
                "deadline-recomputed",
                app.status,
                actor,
                {
                    "previous_due_at": format_instant(previous_due_at),
                    "due_at": format_instant(deadline.due_at),
                    "calendar_year": year,
                },
                elapsed=elapsed,
            )
    return len(open_rows)
