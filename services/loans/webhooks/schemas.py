"""Request and response models of the webhook endpoints' API (`/v1/loans/webhooks`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import TypeAliasType

from services.loans.webhooks.addresses import MAX_URL_LENGTH
from services.loans.webhooks.payloads import EventType
from shared.integers import Integer
from shared.timestamps import Instant

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
WebhookName = Annotated[
    str, Field(pattern=NAME_PATTERN, description="lower-case letters, digits and -, 1-40")
]
MAX_OVERLAP_SECONDS = 7 * 86400

Subscribable = TypeAliasType(
    "Subscribable",
    Literal[
        "application.submitted",
        "application.decided",
        "application.disbursed",
        "application.repayment_status_changed",
        "application.withdrawn",
        "application.deadline_recomputed",
        "application.decision_due_soon",
        "application.decision_overdue",
        "enterprise.waiver_changed",
    ],
)
"""The event types an endpoint may ask for (`payloads.SUBSCRIBABLE`, spelt out for the
document)."""

DeliveryState = TypeAliasType("DeliveryState", Literal["pending", "delivered", "dead", "cancelled"])


class WebhookIn(BaseModel):
    """An endpoint: where to send which events."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        max_length=MAX_URL_LENGTH,
        description="https, a public address (checked again before every send; redirects "
        "are not followed)",
    )
    events: list[Subscribable] = Field(min_length=1, max_length=16)
    description: str = Field(default="", max_length=200)
    version: Literal[1] = Field(default=1, description="the payload version to receive")

    @field_validator("events")
    @classmethod
    def _once_each(cls, value: list[Subscribable]) -> list[Subscribable]:
        return sorted(set(value))


class WebhookOut(BaseModel):
    """An endpoint and how delivery to it goes."""

    name: str
    url: str
    events: list[str]
    description: str
    version: int
    enabled: bool
    disabled_at: Instant | None
    disabled_reason: str | None = Field(description="why it was disabled (null: enabled)")
    previous_secret_valid_until: Instant | None = Field(
        description="until when deliveries are also signed with the secret before the last "
        "rotation (null: no overlap)"
    )
    last_success_at: Instant | None
    failing_since: Instant | None = Field(
        description="the first failure since the last success (null: not failing)"
    )
    pending: int = Field(description="deliveries waiting to be sent or retried")
    created_at: Instant
    updated_at: Instant


class WebhookCreated(WebhookOut):
    """A new endpoint, with its signing secret: shown this once."""

    secret: str = Field(description="`whsec_…`: verify every delivery's `webhook-signature`")


class RotateIn(BaseModel):
    """How long the secret being replaced still signs (beside the new one)."""

    model_config = ConfigDict(extra="forbid")
    overlap_seconds: Integer = Field(default=86_400, ge=0, le=MAX_OVERLAP_SECONDS)


class SecretOut(BaseModel):
    """The endpoint's new signing secret: shown this once."""

    secret: str
    previous_secret_valid_until: Instant | None


class PingOut(BaseModel):
    """The test event written for the endpoint, and its delivery."""

    event: str = Field(description="the event's `webhook-id`")
    delivery: int


class AttemptOut(BaseModel):
    """One try of a delivery."""

    model_config = ConfigDict(from_attributes=True)
    started_at: Instant
    status_code: int | None
    latency_ms: int | None
    outcome: str
    error: str | None


class DeliveryEvent(BaseModel):
    """The event a delivery carries."""

    id: str
    type: EventType
    occurred_at: Instant


class DeliveryOut(BaseModel):
    """One event to the endpoint: where it stands, and its latest tries (at most 20)."""

    id: int
    event: DeliveryEvent
    state: DeliveryState
    attempt_count: int = Field(description="tries in its current schedule")
    attempts: list[AttemptOut] = Field(description="the latest tries, newest first")
    next_attempt_at: Instant | None = Field(description="while pending")
    give_up_at: Instant
    delivered_at: Instant | None
    last_status: int | None
    last_error: str | None
