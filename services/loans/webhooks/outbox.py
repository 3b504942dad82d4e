"""The outbox: events written in the transaction of the change they report.

Nothing else writes `loan_webhook_event`. A change that rolls back leaves no event; one that
commits leaves its event and one pending delivery per endpoint that wanted it, for the
worker to send. The bank of an event is always the application row's own `bank_code`,
never a parameter: a bank's endpoint can only be given its own bank's events (and the
database's `ck_loan_webhook_delivery_tenant` refuses anything else)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import BigInteger, Text

from services.guarantee.queries import WaiverOut
from services.loans.models import Application
from services.loans.schemas import ApplicationOut, EventOut
from services.loans.webhooks.models import BUREAU, PROGRAMME_WIDE_TYPES, Subscription
from services.loans.webhooks.payloads import (
    ApplicationData,
    DeadlineNotice,
    EventType,
    PingData,
    PreviousWaiver,
    WaiverData,
    envelope,
)
from shared import clock

RETRY_WINDOW = timedelta(hours=72)
"""How long a delivery is retried (the worker scales it by INNOCREDIT_WEBHOOK_RETRY_SCALE)."""


@dataclass(frozen=True, slots=True)
class Emitted:
    """An event written, and the deliveries it got (one per endpoint that wanted it)."""

    event_id: uuid.UUID
    deliveries: list[int]


_PROBE = text(
    """
    SELECT id, owner FROM loan_webhook_subscription
    WHERE enabled AND :type = ANY(events)
      AND (owner = :bank OR (owner = :bureau AND :type = ANY(:programme_wide)))
    ORDER BY id
    FOR KEY SHARE
    """
).bindparams(bindparam("programme_wide", type_=ARRAY(Text)))

_WRITE = text(
    """
    WITH ev AS (
        INSERT INTO loan_webhook_event
            (id, type, version, bank_code, ordering_key, occurred_at, body)
        VALUES (:id, :type, :version, :bank, :ordering_key, :occurred_at, :body)
        RETURNING id, seq, type, bank_code, ordering_key
    )
    INSERT INTO loan_webhook_delivery
        (event_id, event_bank, event_type, event_seq, ordering_key, subscription_id, owner,
         next_attempt_at, give_up_at)
    SELECT ev.id, ev.bank_code, ev.type, ev.seq, ev.ordering_key, s.id, s.owner,
           now(), now() + :window
    FROM ev CROSS JOIN unnest(:ids, :owners) AS s(id, owner)
    ORDER BY s.id
    RETURNING id
    """
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)), bindparam("owners", type_=ARRAY(Text)))


def _endpoints(session: Session, bank: str, type_: EventType) -> list[tuple[int, str]]:
    """The enabled endpoints that want `type_` events of `bank`: the bank's, and for the
    programme-wide types the bureau's. `FOR KEY SHARE`: a concurrent delete of one waits for
    this transaction instead of breaking the delivery's foreign key."""
    rows = session.execute(
        _PROBE,
        {
            "type": type_.value,
            "bank": bank,
            "bureau": BUREAU,
            "programme_wide": list(PROGRAMME_WIDE_TYPES),
        },
    )
    return [(row.id, row.owner) for row in rows]


def _write(
    session: Session,
    endpoints: Sequence[tuple[int, str]],
    type_: EventType,
    bank: str,
    ordering_key: str | None,
    occurred_at: datetime,
    data: BaseModel,
) -> Emitted:
    """The event and its deliveries, in one statement. `ordering_key` None: the event is
    ordered after no other (`ping:<its id>`)."""
    id_ = uuid.uuid4()
    body = envelope(id_, type_, occurred_at, bank, data)
    deliveries = session.scalars(
        _WRITE,
        {
            "id": id_,
            "type": type_.value,
            "version": body.version,
            "bank": bank,
            "ordering_key": ordering_key or f"ping:{id_}",
            "occurred_at": occurred_at,
            "body": body.body(),
            "window": RETRY_WINDOW,
            "ids": [i for i, _ in endpoints],
            "owners": [o for _, o in endpoints],
        },
    ).all()
    return Emitted(id_, list(deliveries))


def emit(
    session: Session,
    app: Application,
    type_: EventType,
    *,
    application: ApplicationOut,
    change: EventOut | None = None,
    deadline: DeadlineNotice | None = None,
) -> Emitted | None:
    """Write an event about `app` (its bank is the row's) for every endpoint that wants it;
    None, and nothing written, when none does (one indexed query).

    `application` is the application as the API shows it now; `change` the history entry
    the change made (None for the timer events, which give `deadline`). Call it holding
    `app`'s row lock: events of one application are then numbered in commit order."""
    endpoints = _endpoints(session, app.bank_code, type_)
    if not endpoints:
        return None
    occurred_at = change.at if change is not None else _deadline_moment(deadline)
    data = ApplicationData(application=application, change=change, deadline=deadline)
    return _write(session, endpoints, type_, app.bank_code, f"app:{app.id}", occurred_at, data)


def _deadline_moment(deadline: DeadlineNotice | None) -> datetime:
    """When a timer event occurred: its deadline less its lead."""
    if deadline is None:
        raise ValueError("an event without a change is a timer event: it needs its deadline")
    return deadline.due_at - timedelta(seconds=deadline.lead_seconds)


def emit_waiver(
    session: Session,
    apps: Sequence[Application],
    waiver: WaiverOut,
    previous: PreviousWaiver,
    *,
    occurred_at: datetime,
) -> Emitted | None:
    """Write `enterprise.waiver_changed` for one bank's open applications `apps` of one
    enterprise (the bank is theirs: all must share it); `occurred_at` is when the ranking
    that changed the waiver was made."""
    banks = {app.bank_code for app in apps}
    if len(banks) != 1:
        raise ValueError(f"a waiver event is one bank's, not {sorted(banks)}'s")
    (bank,) = banks
    endpoints = _endpoints(session, bank, EventType.WAIVER_CHANGED)
    if not endpoints:
        return None
    data = WaiverData(waiver=waiver, previous=previous, applications=sorted(app.id for app in apps))
    key = f"waiver:{waiver.uscc}:{waiver.year}"
    return _write(session, endpoints, EventType.WAIVER_CHANGED, bank, key, occurred_at, data)


def emit_ping(session: Session, subscription: Subscription) -> Emitted:
    """Write `webhook.test` for `subscription` alone (its owner is the event's bank: `*` for
    the bureau's endpoints), whatever types it asked for, ordered after nothing."""
    return _write(
        session,
        [(subscription.id, subscription.owner)],
        EventType.TEST,
        subscription.owner,
        None,
        clock.now(),
        PingData(subscription=subscription.name),
    )
