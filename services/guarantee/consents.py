"""Enterprises' consents to share their features with a credit-reporting firm: granted by an
operator on the enterprise's behalf (with evidence), revoked, expiring — each change goes
into the change feed, so the firm's next pull gets the row or its tombstone.

Consents are firm-owned rows: reading them takes the caller's `FirmVisibility`. Never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from services.guarantee.errors import ConsentNotFound, ConsentRevoked, EnterpriseUnknown
from services.guarantee.models import Consent
from services.guarantee.schemas import ConsentIn
from services.scoring import queries as scoring
from shared import changefeed as feed
from shared import clock
from shared.auth.tenancy import FirmVisibility, restrict
from shared.errors import Unprocessable


def live(consent: Consent, now: datetime) -> bool:
    """Whether a consent lets its firm see the enterprise at `now`."""
    return (
        consent.revoked_at is None
        and consent.granted_at <= now
        and (consent.expires_at is None or consent.expires_at > now)
    )


def grant(session: Session, data: ConsentIn, by: str) -> Consent:
    """Record a consent given by the enterprise (an operator enters it, with evidence)."""
    return grant_many(session, [data], by)[0]


def grant_many(session: Session, items: Sequence[ConsentIn], by: str) -> list[Consent]:
    """Record consents; each enterprise must exist and no grant may lie in the future."""
    now = clock.now()
    for data in items:
        if clock.in_the_future(data.granted_at, now):
            raise Unprocessable(
                "granted_at is in the future; record a consent once it is given",
                errors=[{"loc": ["body", "granted_at"], "msg": "in the future"}],
            )
    wanted = {d.uscc for d in items}
    missing = sorted(wanted - scoring.known_usccs(session, wanted))
    if missing:
        raise EnterpriseUnknown(f"No enterprise with USCC {missing[0]} in the points database")
    consents = [
        Consent(
            id=uuid.uuid4(),
            uscc=d.uscc,
            firm_code=d.firm_code,
            granted_at=d.granted_at,
            expires_at=d.expires_at,
            evidence_ref=d.evidence_ref,
            created_by=by,
            expiry_recorded=False,
        )
        for d in items
    ]
    session.add_all(consents)
    session.flush()
    feed.record(session, [(c.uscc, c.firm_code, "consent-granted") for c in consents])
    return consents


def revoke(session: Session, consent_id: uuid.UUID, by: str) -> Consent:
    """Revoke a consent (kept in the history; the firm gets a tombstone)."""
    consent = session.scalars(
        select(Consent).where(Consent.id == consent_id).with_for_update()
    ).one_or_none()
    if consent is None:
        raise ConsentNotFound(f"No consent {consent_id}")
    if consent.revoked_at is not None:
        raise ConsentRevoked(f"Consent {consent_id} was revoked at {consent.revoked_at}")
    consent.revoked_at = clock.now()
    consent.revoked_by = by
    session.flush()
    feed.record(session, [(consent.uscc, consent.firm_code, "consent-revoked")])
    return consent


def list_consents(
    session: Session,
    firms: FirmVisibility,
    *,
    uscc: str | None,
    firm_code: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Consent]:
    """Up to `limit + 1` consents the caller may see (revoked ones included), oldest first,
    after (created_at, id); `uscc` and `firm_code` narrow the list within that visibility."""
    stmt = restrict(select(Consent), Consent.firm_code, firms)
    if uscc:
        stmt = stmt.where(Consent.uscc == uscc)
    if firm_code:
        stmt = stmt.where(Consent.firm_code == firm_code)
    if after is not None:
        stmt = stmt.where(tuple_(Consent.created_at, Consent.id) > tuple_(*after))
    return session.scalars(stmt.order_by(Consent.created_at, Consent.id).limit(limit + 1)).all()


def record_expiries(session: Session) -> int:
    """Put consents that expired since last time into the feed (once each)."""
    expired = session.scalars(
        select(Consent)
        .where(
            Consent.revoked_at.is_(None),
            Consent.expiry_recorded.is_(False),
            Consent.expires_at <= clock.now(),
        )
        .with_for_update(skip_locked=True)
    ).all()
    if not expired:
        return 0
    session.execute(
        update(Consent).where(Consent.id.in_([c.id for c in expired])).values(expiry_recorded=True)
    )
    feed.record(session, [(c.uscc, c.firm_code, "consent-expired") for c in expired])
    return len(expired)
