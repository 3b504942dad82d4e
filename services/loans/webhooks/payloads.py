"""What a webhook delivers: the event types and the envelope every body has.

A body is the envelope as compact JSON (UTF-8, keys in the order below), rendered once when
the event is written and signed and sent as stored. `data` holds the resource as the API
shows it at that moment. Additive changes stay in `version` 1, as in the API; a removal or a
rename would make version 2, sent beside 1 to endpoints still on 1."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from services.guarantee.queries import WaiverOut
from services.loans.schemas import ApplicationOut, EventOut
from shared.timestamps import Instant

VERSION = 1
"""The payload version every event is rendered in (the only one so far)."""


class EventType(StrEnum):
    """What happened. `application.*` carry the application; the bureau may receive
    `application.decision_overdue` of every bank."""

    SUBMITTED = "application.submitted"
    DECIDED = "application.decided"
    DISBURSED = "application.disbursed"
    REPAYMENT_STATUS_CHANGED = "application.repayment_status_changed"
    WITHDRAWN = "application.withdrawn"
    DEADLINE_RECOMPUTED = "application.deadline_recomputed"
    DECISION_DUE_SOON = "application.decision_due_soon"
    DECISION_OVERDUE = "application.decision_overdue"
    WAIVER_CHANGED = "enterprise.waiver_changed"
    TEST = "webhook.test"


SUBSCRIBABLE = tuple(t.value for t in EventType if t is not EventType.TEST)
"""The types an endpoint may ask for (`webhook.test` goes to the endpoint tested, asked or not)."""

EVENT_OF: dict[str, EventType] = {
    "submitted": EventType.SUBMITTED,
    "decision": EventType.DECIDED,
    "disbursement": EventType.DISBURSED,
    "repayment-status": EventType.REPAYMENT_STATUS_CHANGED,
    "withdrawal": EventType.WITHDRAWN,
    "deadline-recomputed": EventType.DEADLINE_RECOMPUTED,
}
"""The event each kind of application history entry (`loan_application_event.type`) emits."""


def event_id(id_: uuid.UUID) -> str:
    """The `id` of an event in its body and its `webhook-id` header: the same on every
    attempt and every endpoint (receivers deduplicate by it)."""
    return "evt_" + id_.hex


class DeadlineNotice(BaseModel):
    """The decision deadline a timer event is about."""

    due_at: Instant
    provisional: bool = Field(description="a year counted had no official schedule yet")
    lead_seconds: int = Field(
        description="how long before `due_at` the event fires (0: overdue, at the deadline)"
    )


class ApplicationData(BaseModel):
    """`data` of the `application.*` events."""

    application: ApplicationOut = Field(
        description="as `GET /v1/loans/applications/{id}` answered when the event was written"
    )
    change: EventOut | None = Field(
        description="the history entry the change made, as `GET …/{id}/events` lists it; "
        "null for `decision_due_soon` and `decision_overdue`"
    )
    deadline: DeadlineNotice | None = Field(
        default=None, description="`decision_due_soon` and `decision_overdue` only"
    )


class PreviousWaiver(BaseModel):
    """The waiver as it stood before the ranking that changed it."""

    waived: bool
    reason: str
    rank: int | None = Field(description="the rank it rested on (null: not ranked)")


class WaiverData(BaseModel):
    """`data` of `enterprise.waiver_changed`: a new ranking moved the enterprise into or out
    of the top 100, and so changed its 泰信保 waiver for the following year."""

    waiver: WaiverOut = Field(
        description="as `GET /v1/guarantee/enterprises/{uscc}/waiver?year=` answers now"
    )
    previous: PreviousWaiver
    applications: list[uuid.UUID] = Field(
        description="the bank's open applications (submitted or approved) of the enterprise"
    )


class PingData(BaseModel):
    """`data` of `webhook.test`: which endpoint was tested."""

    subscription: str


DataT = TypeVar("DataT", bound=BaseModel)


class Envelope(BaseModel, Generic[DataT]):
    """Every webhook body."""

    id: str = Field(description="`evt_…`, the `webhook-id` header: deduplicate by it")
    type: EventType
    version: int = Field(description="the payload version (1)")
    occurred_at: Instant
    bank_code: str = Field(description="the bank whose application it is (`*`: the bureau's test)")
    data: DataT

    def body(self) -> str:
        """The bytes sent and signed: compact JSON, non-ASCII kept as UTF-8."""
        return self.model_dump_json()


def envelope(
    id_: uuid.UUID, type_: EventType, occurred_at: datetime, bank_code: str, data: DataT
) -> Envelope[DataT]:
    """The envelope of a new event in the current payload version."""
    return Envelope[DataT](
        id=event_id(id_),
        type=type_,
        version=VERSION,
        occurred_at=occurred_at,
        bank_code=bank_code,
        data=data,
    )
