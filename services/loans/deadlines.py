"""An application's decision deadline now, or as it stood at an instant, from its history.

The deadline is set at submission and moved only by a calendar load, which recomputes the
provisional deadlines of undecided applications; both record an event with the new `due_at`
(`submitted`, `deadline-recomputed`), stamped with the application clock. So the deadline at
an instant T is the `due_at` of the last such event by T, and it was provisional then exactly
when a later event moved it (only provisional deadlines are recomputed) or, with none later,
when it is provisional now.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.loans.applications import get_application
from services.loans.errors import ApplicationNotFound
from services.loans.models import ApplicationEvent
from services.loans.schemas import ApplicationDeadline
from shared.as_of import Versions
from shared.auth.tenancy import BankVisibility
from shared.timestamps import format_instant

SETS_DEADLINE = ("submitted", "deadline-recomputed")


def deadline_of(
    session: Session, seen: BankVisibility, app_id: uuid.UUID, at: datetime | None
) -> ApplicationDeadline:
    """An application's deadline now, or at the instant `at` (404 when the application did
    not exist yet); another bank's application is not found."""
    app = get_application(session, seen, app_id)
    events = session.execute(
        select(ApplicationEvent.id, ApplicationEvent.at, ApplicationEvent.data)
        .where(ApplicationEvent.application_id == app.id, ApplicationEvent.type.in_(SETS_DEADLINE))
        .order_by(ApplicationEvent.id)
    ).all()
    due_at, provisional = app.decision_due_at, app.deadline_provisional
    setting = events[-1].id if events else None
    if at is not None:
        before = [e for e in events if e.at <= at]
        if not before:
            raise ApplicationNotFound(f"Application {app_id} did not exist at {format_instant(at)}")
        setting = before[-1].id
        due_at = datetime.fromisoformat(before[-1].data["due_at"])
        provisional = provisional or len(before) < len(events)
    return ApplicationDeadline(
        application=app.id,
        submitted_at=app.submitted_at,
        submitted_date=app.submitted_date,
        due_at=due_at,
        provisional=provisional,
        versions=Versions(deadline_event=setting),
    )
