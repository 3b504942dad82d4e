"""A bank's (or the bureau's) webhook endpoints: create or change, list, delete, rotate the
secret, test, and the deliveries made to them.

Every function takes the owner as `WebhookOwner` gives it (`owner_key`): a bank reaches its
own endpoints only, the bureau its own (`*`), and another owner's is "not found". Never
commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.loans.webhooks import outbox, secrets
from services.loans.webhooks.addresses import check_url
from services.loans.webhooks.errors import (
    DeliveryNotFound,
    WebhookDisabled,
    WebhookLimit,
    WebhookNotFound,
)
from services.loans.webhooks.models import (
    BUREAU,
    PROGRAMME_WIDE_TYPES,
    Attempt,
    Delivery,
    Event,
    Subscription,
)
from services.loans.webhooks.schemas import WebhookIn
from shared import clock
from shared.auth.tenancy import AllBanks, BankVisibility, OneBank
from shared.crypto import KeyEncryptor
from shared.errors import Unprocessable

MAX_PER_OWNER = 10
ATTEMPTS_SHOWN = 20


def owner_key(owner: BankVisibility) -> str:
    """The `owner` of a caller's endpoints: a bank's code, or `*` for the bureau's (the
    bureau's own endpoints, never a bank's)."""
    match owner:
        case OneBank(code):
            return code
        case AllBanks():
            return BUREAU


def get(session: Session, owner: BankVisibility, name: str, *, lock: bool = False) -> Subscription:
    """One of the caller's endpoints; any other is not found. `lock` holds it until commit."""
    stmt = select(Subscription).where(
        Subscription.owner == owner_key(owner), Subscription.name == name
    )
    found = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if found is None:
        raise WebhookNotFound(f"No webhook endpoint {name!r}")
    return found


def _check(data: WebhookIn, owner: str, *, allow_loopback: bool) -> None:
    problems = [
        {"loc": ["body", "url"], "msg": m}
        for m in check_url(data.url, allow_loopback=allow_loopback)
    ]
    if owner == BUREAU:
        problems += [
            {"loc": ["body", "events", str(i)], "msg": "the bureau receives decision_overdue only"}
            for i, t in enumerate(data.events)
            if t not in PROGRAMME_WIDE_TYPES
        ]
    if problems:
        raise Unprocessable("The webhook endpoint cannot be used", errors=problems)


def put(
    session: Session,
    owner: BankVisibility,
    name: str,
    data: WebhookIn,
    *,
    encryptor: KeyEncryptor,
    allow_loopback: bool,
    actor: str,
) -> tuple[Subscription, str | None]:
    """Create the endpoint `name` (its new secret returned, shown once) or change it (None:
    the secret is kept). Changing a disabled endpoint enables it again, its reason cleared:
    the owner says the receiver is fixed."""
    key = owner_key(owner)
    _check(data, key, allow_loopback=allow_loopback)
    at = clock.now()
    values = {
        "url": data.url,
        "events": list(data.events),
        "description": data.description,
        "version": data.version,
    }
    existing = session.scalars(
        select(Subscription)
        .where(Subscription.owner == key, Subscription.name == name)
        .with_for_update()
    ).one_or_none()
    if existing is not None:
        for field, value in values.items():
            setattr(existing, field, value)
        if not existing.enabled:
            existing.enabled = True
            existing.disabled_at = None
            existing.disabled_reason = None
            existing.failing_since = None
            existing.retry_not_before = None
        existing.updated_at = at
        session.flush()
        return existing, None
    # Serialises the owner's creations, so two at once cannot pass the limit together.
    session.execute(select(func.pg_advisory_xact_lock(7263006, func.hashtext(key))))
    count = session.scalar(select(func.count()).where(Subscription.owner == key))
    if (count or 0) >= MAX_PER_OWNER:
        raise WebhookLimit(f"At most {MAX_PER_OWNER} webhook endpoints; this owner has {count}")
    raw = secrets.new_secret()
    created = Subscription(
        owner=key,
        name=name,
        secret_sealed=secrets.seal(encryptor, raw),
        enabled=True,
        created_by=actor,
        created_at=at,
        updated_at=at,
        **values,
    )
    session.add(created)
    session.flush()
    return created, secrets.shown(raw)


def list_subscriptions(
    session: Session, owner: BankVisibility, *, after: str | None, limit: int
) -> Sequence[Subscription]:
    """Up to `limit + 1` of the caller's endpoints after the name `after`, by name."""
    stmt = select(Subscription).where(Subscription.owner == owner_key(owner))
    if after is not None:
        stmt = stmt.where(Subscription.name > after)
    return session.scalars(stmt.order_by(Subscription.name).limit(limit + 1)).all()


def pending_counts(session: Session, subscriptions: Sequence[Subscription]) -> dict[int, int]:
    """Pending deliveries per endpoint (of endpoints the caller already holds)."""
    ids = [s.id for s in subscriptions]
    rows = session.execute(
        select(Delivery.subscription_id, func.count())
        .where(Delivery.subscription_id.in_(ids), Delivery.state == "pending")
        .group_by(Delivery.subscription_id)
    )
    return {int(sub_id): int(count) for sub_id, count in rows}


def delete(session: Session, owner: BankVisibility, name: str) -> None:
    """Delete the endpoint; its deliveries and their attempts go with it."""
    session.delete(get(session, owner, name, lock=True))
    session.flush()


def rotate(
    session: Session,
    owner: BankVisibility,
    name: str,
    overlap: timedelta,
    *,
    encryptor: KeyEncryptor,
) -> tuple[Subscription, str]:
    """Give the endpoint a new secret; the one it replaces still signs for `overlap` (both
    signatures are sent). A second rotation within an overlap drops the oldest secret: two at
    most. Returns the endpoint and the new secret, shown once."""
    sub = get(session, owner, name, lock=True)
    raw = secrets.new_secret()
    if overlap > timedelta(0):
        sub.previous_secret_sealed = sub.secret_sealed
        sub.previous_valid_until = clock.now() + overlap
    else:
        sub.previous_secret_sealed = None
        sub.previous_valid_until = None
    sub.secret_sealed = secrets.seal(encryptor, raw)
    sub.updated_at = clock.now()
    session.flush()
    return sub, secrets.shown(raw)


def ping(session: Session, owner: BankVisibility, name: str) -> outbox.Emitted:
    """Write a `webhook.test` event for the endpoint (409 if it is disabled)."""
    sub = get(session, owner, name)
    if not sub.enabled:
        raise WebhookDisabled(f"Webhook endpoint {name!r} is disabled: {sub.disabled_reason}")
    return outbox.emit_ping(session, sub)


def deliveries(
    session: Session,
    owner: BankVisibility,
    name: str,
    *,
    state: str | None,
    after: int | None,
    limit: int,
) -> Sequence[Delivery]:
    """Up to `limit + 1` of the endpoint's deliveries, newest first, after the id `after`."""
    sub = get(session, owner, name)
    stmt = select(Delivery).where(Delivery.subscription_id == sub.id)
    if state is not None:
        stmt = stmt.where(Delivery.state == state)
    if after is not None:
        stmt = stmt.where(Delivery.id < after)
    return session.scalars(stmt.order_by(Delivery.id.desc()).limit(limit + 1)).all()


def attempts_of(session: Session, shown: Sequence[Delivery]) -> dict[int, list[Attempt]]:
    """The latest attempts (at most 20, newest first) of deliveries the caller holds."""
    ranked = (
        select(
            Attempt,
            func.row_number()
            .over(partition_by=Attempt.delivery_id, order_by=Attempt.id.desc())
            .label("n"),
        )
        .where(Attempt.delivery_id.in_([d.id for d in shown]))
        .subquery()
    )
    latest = (
        select(Attempt).join(ranked, ranked.c.id == Attempt.id).where(ranked.c.n <= ATTEMPTS_SHOWN)
    )
    found: dict[int, list[Attempt]] = {d.id: [] for d in shown}
    for attempt in session.scalars(latest.order_by(Attempt.delivery_id, Attempt.id.desc())):
        found[attempt.delivery_id].append(attempt)
    return found


def redeliver(session: Session, owner: BankVisibility, name: str, delivery_id: int) -> Delivery:
    """Send a delivery again: a final one (delivered, dead, cancelled) from a fresh schedule
    — pending now, no attempts counted, retried for the whole window again, outside its
    application's order (it is a repeat); a pending one at once, its schedule kept. 409 if
    the endpoint is disabled."""
    sub = get(session, owner, name)
    if not sub.enabled:
        raise WebhookDisabled(f"Webhook endpoint {name!r} is disabled: {sub.disabled_reason}")
    found = session.scalars(
        select(Delivery)
        .where(Delivery.id == delivery_id, Delivery.subscription_id == sub.id)
        .with_for_update()
    ).one_or_none()
    if found is None:
        raise DeliveryNotFound(f"Webhook endpoint {name!r} has no delivery {delivery_id}")
    # The schedule runs on the database's clock, as the workers' claims and leases do.
    at: datetime = session.execute(select(func.now())).scalar_one()
    if found.state == "pending":
        found.next_attempt_at = min(found.next_attempt_at, at)
    else:
        found.state = "pending"
        found.attempts = 0
        found.next_attempt_at = at
        found.give_up_at = at + outbox.RETRY_WINDOW
        found.delivered_at = None
    session.flush()
    return found


def occurred(session: Session, shown: Sequence[Delivery]) -> dict[uuid.UUID, tuple[str, datetime]]:
    """The type and `occurred_at` of the events of deliveries the caller holds, by event id."""
    rows = session.execute(
        select(Event.id, Event.type, Event.occurred_at).where(
            Event.id.in_({d.event_id for d in shown})
        )
    )
    return {row.id: (row.type, row.occurred_at) for row in rows}
