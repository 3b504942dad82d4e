"""Loan applications as a tenant reads them, and the record every change leaves.

Reads take the caller's `BankVisibility`: a bank reaches its own bank's applications only,
another bank's are "not found". Each change of an application bumps its version (the API's
ETag) and appends an event saying who did what, from which status to which. Never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from services.loans.errors import ApplicationNotFound
from services.loans.models import Application, ApplicationEvent
from shared.auth.tenancy import BankVisibility, restrict
from shared.clock import now


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
class ApplicationFilter:
    """List filters."""

    status: str | None = None
    product_code: str | None = None
    updated_since: datetime | None = None


def list_applications(
    session: Session,
    seen: BankVisibility,
    where: ApplicationFilter,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Application]:
    """Up to `limit + 1` applications in (updated_at, id) order after `after` — a syncing
    client sees every change."""
    stmt = restrict(select(Application), Application.bank_code, seen)
    if where.status:
        stmt = stmt.where(Application.status == where.status)
    if where.product_code:
        stmt = stmt.where(Application.product_code == where.product_code)
    if where.updated_since:
        stmt = stmt.where(Application.updated_at >= where.updated_since)
    if after is not None:
        stmt = stmt.where(tuple_(Application.updated_at, Application.id) > tuple_(*after))
    stmt = stmt.order_by(Application.updated_at, Application.id).limit(limit + 1)
    return session.scalars(stmt).all()


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
) -> None:
    """Append to `app`'s history the change that just brought it to its current status."""
    session.add(
        ApplicationEvent(
            application_id=app.id,
            type=kind,
            from_status=from_status,
            to_status=app.status,
            actor=actor.client_id,
            request_id=actor.request_id,
            data=data,
        )
    )
