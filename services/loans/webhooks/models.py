"""Tables of the loans service's webhooks (prefix `loan_webhook_`).

A subscription belongs to a bank (`owner` = its code) or to the bureau (`owner` = `'*'`);
an event to the application's bank; a delivery pairs the two, and the database refuses a
pair whose owner is not the event's bank (the bureau: `decision_overdue` only), whatever the
code does."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base

BUREAU = "*"
"""The owner of the bureau's subscriptions (programme-wide; never a bank code)."""
PROGRAMME_WIDE_TYPES = ("application.decision_overdue",)
"""The event types the bureau may subscribe to: every bank's."""
DELIVERY_STATES = ("pending", "delivered", "dead", "cancelled")
ATTEMPT_OUTCOMES = (
    "in-flight",
    "delivered",
    "http-error",
    "timeout",
    "connection-error",
    "tls-error",
    "address-refused",
    "gone",
    "abandoned",
)
TIMER_KINDS = ("due-soon", "overdue")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _programme_wide() -> str:
    return f"ARRAY[{', '.join(repr(t) for t in PROGRAMME_WIDE_TYPES)}]::text[]"


class Subscription(Base):
    """An endpoint a bank (or the bureau) receives events at, with its sealed secret(s)."""

    __tablename__ = "loan_webhook_subscription"
    __table_args__ = (
        UniqueConstraint("owner", "name"),
        UniqueConstraint("id", "owner"),  # the deliveries' composite foreign key
        CheckConstraint("cardinality(events) BETWEEN 1 AND 16", name="events"),
        CheckConstraint(
            f"owner <> '{BUREAU}' OR events <@ {_programme_wide()}", name="bureau_events"
        ),
        CheckConstraint("enabled = (disabled_at IS NULL)", name="disabled"),
        CheckConstraint(
            "(previous_secret_sealed IS NULL) = (previous_valid_until IS NULL)",
            name="previous_secret",
        ),
        # The emit's probe: an owner's enabled endpoints.
        Index("ix_loan_webhook_subscription_owner", "owner", postgresql_where=text("enabled")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    owner: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(ARRAY(Text))
    description: Mapped[str] = mapped_column(String(200), server_default="")
    version: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    previous_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retry_not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Event(Base):
    """One event, rendered once: `body` is the exact bytes every endpoint receives and signs."""

    __tablename__ = "loan_webhook_event"
    __table_args__ = (UniqueConstraint("id", "bank_code", "type"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # Order within an ordering key: commit order, since every emitter of a key holds its lock.
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    type: Mapped[str] = mapped_column(String(60))
    version: Mapped[int] = mapped_column(SmallInteger)
    bank_code: Mapped[str] = mapped_column(String(32))  # the application's bank
    ordering_key: Mapped[str] = mapped_column(String(80))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    body: Mapped[str] = mapped_column(Text)


class Delivery(Base):
    """One event to one endpoint: pending until delivered, dead (given up) or cancelled."""

    __tablename__ = "loan_webhook_delivery"
    __table_args__ = (
        ForeignKeyConstraint(
            ["event_id", "event_bank", "event_type"],
            ["loan_webhook_event.id", "loan_webhook_event.bank_code", "loan_webhook_event.type"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["subscription_id", "owner"],
            ["loan_webhook_subscription.id", "loan_webhook_subscription.owner"],
            ondelete="CASCADE",
        ),
        # Isolation in the database: an endpoint gets its own bank's events only, the
        # bureau's the programme-wide types only.
        CheckConstraint(
            f"owner = event_bank OR (owner = '{BUREAU}' AND event_type IN "
            f"({', '.join(repr(t) for t in PROGRAMME_WIDE_TYPES)}))",
            name="tenant",
        ),
        CheckConstraint(_in("state", DELIVERY_STATES), name="state"),
        CheckConstraint("(lease_token IS NULL) = (lease_until IS NULL)", name="lease"),
        Index(
            "ix_loan_webhook_delivery_claim",
            "next_attempt_at",
            "id",
            postgresql_where=text("state = 'pending'"),
        ),
        Index(
            "ix_loan_webhook_delivery_head",
            "subscription_id",
            "ordering_key",
            "event_seq",
            postgresql_where=text("state = 'pending'"),
        ),
        Index("ix_loan_webhook_delivery_subscription_id_id", "subscription_id", "id"),
        Index(
            "ix_loan_webhook_delivery_event_id_subscription_id",
            "event_id",
            "subscription_id",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event_bank: Mapped[str] = mapped_column(String(32))
    event_type: Mapped[str] = mapped_column(String(60))
    event_seq: Mapped[int] = mapped_column(BigInteger)
    ordering_key: Mapped[str] = mapped_column(String(80))
    subscription_id: Mapped[int] = mapped_column(BigInteger)
    owner: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(10), server_default="pending")
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")  # this schedule's
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    give_up_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_token: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    leased_by: Mapped[str | None] = mapped_column(String(80))
    last_status: Mapped[int | None] = mapped_column(SmallInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Attempt(Base):
    """One try at a delivery: when, how long, what came back (`in-flight` while it runs)."""

    __tablename__ = "loan_webhook_attempt"
    __table_args__ = (
        CheckConstraint(_in("outcome", ATTEMPT_OUTCOMES), name="outcome"),
        Index("ix_loan_webhook_attempt_delivery_id_id", "delivery_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("loan_webhook_delivery.id", ondelete="CASCADE")
    )
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    outcome: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(String(500))
    response_excerpt: Mapped[str | None] = mapped_column(String(512))
    worker: Mapped[str] = mapped_column(String(80))


class Timer(Base):
    """A timer event already emitted: (application, kind, the deadline it was for). A moved
    deadline is a new key, so it fires again."""

    __tablename__ = "loan_webhook_timer"
    __table_args__ = (CheckConstraint(_in("kind", TIMER_KINDS), name="kind"),)

    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("loan_application.id"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)


class RankingSeen(Base):
    """Per period, the last ranking run the waiver watcher processed and its top of the
    ranking (the USCCs waived the following year, best first)."""

    __tablename__ = "loan_webhook_ranking"

    period: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger)
    top: Mapped[list[str]] = mapped_column(ARRAY(Text))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
