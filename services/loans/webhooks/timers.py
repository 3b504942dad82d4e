"""Timer events: `application.decision_due_soon` and `application.decision_overdue`, found by
the worker from committed state (nothing happens at the deadline to emit them).

Each scan takes, per kind some enabled endpoint wants, the undecided applications of every
bank whose deadline (less the lead, for due soon) has come and that have no mark for that
deadline, locks them (`SKIP LOCKED`: a decision in progress is left to the next scan, which
sees it decided), marks each (`loan_webhook_timer`, whose key decides who emits) and emits
under the row lock: a decision committed first is seen, one committed later gets a later
event. A moved deadline is a new mark, so it fires again; after a week down, every deadline
passed meanwhile still fires once. Each event's bank is its row's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.loans.applications import Elapsed, application_out
from services.loans.calendar import WorkCalendar
from services.loans.models import Application
from services.loans.schedule import work_calendar
from services.loans.status import Status
from services.loans.webhooks import outbox
from services.loans.webhooks.models import BUREAU, Timer
from services.loans.webhooks.payloads import DeadlineNotice, EventType
from shared import clock

LOCK_KEY = (7263006, 0)
BATCH = 500

_LOCK = text("SELECT pg_try_advisory_xact_lock(:a, :b)")
_WANTED = text(
    "SELECT DISTINCT owner FROM loan_webhook_subscription WHERE enabled AND :type = ANY(events)"
)


def scan(session: Session, *, lead_seconds: int, now: datetime | None = None) -> int:
    """Emit the due-soon (`lead_seconds` before the deadline) and overdue events that have
    come by `now` (default: the clock's); the events written (0 when another worker holds
    the lock or no endpoint wants either type)."""
    if not session.execute(_LOCK, dict(zip("ab", LOCK_KEY, strict=True))).scalar_one():
        return 0
    at = clock.now() if now is None else now
    calendar: list[WorkCalendar] = []

    def loaded() -> WorkCalendar:
        if not calendar:
            calendar.append(work_calendar(session))
        return calendar[0]

    elapsed = Elapsed(loaded)
    emitted = 0
    for kind, type_, lead in (
        ("overdue", EventType.DECISION_OVERDUE, 0),
        ("due-soon", EventType.DECISION_DUE_SOON, lead_seconds),
    ):
        owners = set(session.scalars(_WANTED, {"type": type_.value}))
        if not owners:
            continue
        # Only the banks that would receive it are marked: a bank subscribing later still
        # hears of its deadlines to come (the bureau's endpoints hear of every bank's).
        banks = None if type_ is EventType.DECISION_OVERDUE and BUREAU in owners else owners
        for app in _due(session, kind, at, lead, banks):
            marked = session.execute(
                insert(Timer)
                .values(application_id=app.id, kind=kind, due_at=app.decision_due_at)
                .on_conflict_do_nothing()
                .returning(Timer.application_id)
            ).first()
            if marked is None:
                continue
            deadline = DeadlineNotice(
                due_at=app.decision_due_at,
                provisional=app.deadline_provisional,
                lead_seconds=lead,
            )
            outbox.emit(
                session, app, type_, application=application_out(app, elapsed), deadline=deadline
            )
            emitted += 1
    return emitted


def _due(
    session: Session, kind: str, at: datetime, lead: int, banks: set[str] | None
) -> list[Application]:
    """The undecided applications of `banks` (None: every bank's) whose `kind` event is due
    at `at` and not yet emitted for their current deadline, earliest first, locked (others
    skipped)."""
    mark = exists().where(
        Timer.application_id == Application.id,
        Timer.kind == kind,
        Timer.due_at == Application.decision_due_at,
    )
    query = (
        select(Application)
        .where(
            Application.status == Status.SUBMITTED,
            Application.decision_due_at <= at + timedelta(seconds=lead),
            ~mark,
        )
        .order_by(Application.decision_due_at)
        .limit(BATCH)
        .with_for_update(of=Application, skip_locked=True)
    )
    if banks is not None:
        query = query.where(Application.bank_code.in_(banks))
    if lead:  # due soon is for deadlines still ahead; past ones are overdue
        query = query.where(Application.decision_due_at > at)
    return list(session.scalars(query))
