"""Loan applications as a tenant reads them, and the record every change leaves.

Reads take the caller's `BankVisibility`: a bank reaches its own bank's applications only,
another bank's are "not found". The undecided ones can be listed by when their decision is
due (`DueWindow`), each with the working days it has waited so far (`Elapsed`). Each change
of an application bumps its version (the API's ETag) and appends an event saying who did
what, from which status to which — and, in the same transaction, the webhook event that
reports it (`services.loans.webhooks.outbox`). Never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import literal_column, select, tuple_
from sqlalchemy.orm import Session

from services.loans.calendar import WorkCalendar
from services.loans.errors import ApplicationNotFound
from services.loans.models import Application, ApplicationEvent
from services.loans.schemas import ApplicationOut, DecisionDue, EventOut
from services.loans.status import Status
from services.loans.webhooks import outbox
from services.loans.webhooks.payloads import EVENT_OF
from shared.auth.tenancy import BankVisibility, restrict
from shared.clock import SHANGHAI, now, today


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, for the audit of events: the client and the request id. (The bank a change
    acts for is not the actor's: it comes as a `OneBank`.)"""

    client_id: str
    request_id: str | None


Precondition = Callable[[Application], None]
"""A check of the locked application before it changes (the API's `If-Match`): it raises to
refuse the change, and sees the row only once no one else can change it."""


def get_application(
    session: Session, seen: BankVisibility, app_id: uuid.UUID, *, lock: bool = False
) -> Application:
    """An application; another bank's is not found. `lock` holds the row until commit."""
    stmt = restrict(
        select(Application).where(Application.id == app_id), Application.bank_code, seen
    )
    if lock:
        stmt = stmt.with_for_update()
    app = session.scalars(stmt).one_or_none()
    if app is None:
        raise ApplicationNotFound(f"No application {app_id}")
    return app


@dataclass(frozen=True, slots=True)
class DueWindow:
    """Undecided applications whose deadline is at or after `since` (None: any time) and
    before `before`."""

    since: datetime | None
    before: datetime


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def due_window(due: DecisionDue, calendar: WorkCalendar, on: date) -> DueWindow:
    """The deadlines of `due` on the business date `on`: before `on` (overdue), on `on`
    (today), or after `on` up to and including the next working day (tomorrow: deadlines fall
    on working days, so on a Friday these are Monday's)."""
    next_day = on + timedelta(days=1)
    match due:
        case "overdue":
            return DueWindow(None, _start_of(on))
        case "today":
            return DueWindow(_start_of(on), _start_of(next_day))
        case "tomorrow":
            next_working, _ = calendar.add_working_days(on, 1)
            return DueWindow(_start_of(next_day), _start_of(next_working + timedelta(days=1)))


@dataclass(frozen=True, slots=True)
class ApplicationFilter:
    """List filters. With `due`, the list holds undecided applications only, in deadline
    order."""

    status: str | None = None
    product_code: str | None = None
    updated_since: datetime | None = None
    due: DueWindow | None = None


def list_position(where: ApplicationFilter, app: Application) -> tuple[datetime, uuid.UUID]:
    """Where `app` stands in the list `where` makes: (decision_due_at, id) in a list by
    deadline, else (updated_at, id)."""
    return (app.decision_due_at if where.due else app.updated_at, app.id)


def list_applications(
    session: Session,
    seen: BankVisibility,
    where: ApplicationFilter,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Application]:
    """Up to `limit + 1` applications after `after` in (updated_at, id) order — a syncing
    client sees every change — or, for a `due` window, in (decision_due_at, id) order, read
    by the partial index of undecided applications' deadlines."""
    stmt = restrict(select(Application), Application.bank_code, seen)
    if where.status:
        stmt = stmt.where(Application.status == where.status)
    if where.product_code:
        stmt = stmt.where(Application.product_code == where.product_code)
    if where.updated_since:
        stmt = stmt.where(Application.updated_at >= where.updated_since)
    order = Application.updated_at
    if where.due is not None:
        order = Application.decision_due_at
        stmt = stmt.where(
            # A literal, not a parameter: a prepared statement's generic plan can then still
            # use the partial index (`status = 'submitted'`).
            Application.status == literal_column(f"'{Status.SUBMITTED}'"),
            Application.decision_due_at < where.due.before,
        )
        if where.due.since is not None:
            stmt = stmt.where(Application.decision_due_at >= where.due.since)
    if after is not None:
        stmt = stmt.where(tuple_(order, Application.id) > tuple_(*after))
    stmt = stmt.order_by(order, Application.id).limit(limit + 1)
    return session.scalars(stmt).all()


@dataclass(slots=True)
class Elapsed:
    """The working days an undecided application has waited: after its submission date up to
    and including `on` (today), counted as `decision_working_days` is, by the calendar in
    force — read through `calendar` at the first undecided application, once."""

    calendar: Callable[[], WorkCalendar]
    on: date = field(default_factory=today)
    _loaded: WorkCalendar | None = field(default=None, init=False)

    def __call__(self, app: Application) -> int | None:
        """The working days so far; None once the application left `submitted` (decided:
        `decision_working_days` holds them; withdrawn: nothing is awaited)."""
        if app.status != Status.SUBMITTED:
            return None
        if self._loaded is None:
            self._loaded = self.calendar()
        days, _ = self._loaded.working_days_between(app.submitted_date, self.on)
        return days


_STORED = tuple(name for name in ApplicationOut.model_fields if name != "working_days_elapsed")


def application_out(app: Application, elapsed: Elapsed) -> ApplicationOut:
    """The response model of an application, with the working days it has waited so far."""
    return ApplicationOut.model_validate(
        {**{name: getattr(app, name) for name in _STORED}, "working_days_elapsed": elapsed(app)}
    )


def events(
    session: Session,
    seen: BankVisibility,
    app_id: uuid.UUID,
    *,
    after: int | None = None,
    limit: int | None = None,
) -> Sequence[ApplicationEvent]:
    """An application's history, oldest first: up to `limit + 1` events after event id
    `after`, or all of them when `limit` is None."""
    get_application(session, seen, app_id)
    stmt = select(ApplicationEvent).where(ApplicationEvent.application_id == app_id)
    if after is not None:
        stmt = stmt.where(ApplicationEvent.id > after)
    stmt = stmt.order_by(ApplicationEvent.id)
    return session.scalars(stmt if limit is None else stmt.limit(limit + 1)).all()


def touch(app: Application) -> None:
    """Mark a change: a new version (so a new ETag) and a new `updated_at` for syncing lists."""
    app.version += 1
    app.updated_at = now()


def record_event(
    session: Session,
    app: Application,
    kind: str,
    from_status: str | None,
    actor: Actor,
    data: dict[str, object],
    *,
    elapsed: Elapsed,
) -> None:
    """Append to `app`'s history the change that just brought it to its current state, and
    emit its webhook event in the same transaction (so call it after changing `app`).

    `elapsed` counts the working days of an application still `submitted` in the event's
    copy of it; only the submission and a calendar load leave one so, and both hold the
    calendar already."""
    row = ApplicationEvent(
        application_id=app.id,
        type=kind,
        from_status=from_status,
        to_status=app.status,
        actor=actor.client_id,
        request_id=actor.request_id,
        data=data,
        at=now(),  # the application clock: an `as_of` instant compares with it
    )
    session.add(row)
    session.flush()  # the entry's id, which the event carries
    outbox.emit(
        session,
        app,
        EVENT_OF[kind],
        application=application_out(app, elapsed),
        change=EventOut.model_validate(row),
    )
