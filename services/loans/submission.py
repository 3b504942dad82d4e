"""Submitting an application: checked against the quote, with what it is judged on frozen.

The submission snapshots the enterprise's points, rank and model version, its attributes, the
maximum of the quote, the 泰信保 fee (guaranteed products) and the decision deadline, so later
rankings never change what a bank decided on. Never commits.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.orm import Session

from services.guarantee import queries as guarantee
from services.loans.applications import Actor, Elapsed, record_event
from services.loans.errors import (
    AmountOverQuote,
    BadTiming,
    EnterpriseUnknown,
    Ineligible,
    TermsOutOfRange,
)
from services.loans.models import Application
from services.loans.products import get_product
from services.loans.quotes import offer_for, standing
from services.loans.schedule import work_calendar
from services.loans.schemas import ApplicationIn, GuaranteeFee
from services.loans.status import Status
from shared.auth.tenancy import OneBank
from shared.clock import in_the_future, local_date, now
from shared.timestamps import format_instant


def submit(session: Session, bank: OneBank, data: ApplicationIn, actor: Actor) -> Application:
    """Submit an application for `bank`; snapshot what it is judged on."""
    at = now()
    submitted_at = data.submitted_at or at
    if in_the_future(submitted_at, at):
        raise BadTiming(
            "submitted_at is in the future",
            errors=[{"loc": ["body", "submitted_at"], "msg": "in the future"}],
        )
    submitted_date = local_date(submitted_at)
    product = get_product(session, bank, data.product_code)
    enterprise, snapshot = standing(session, data.uscc)
    offer = offer_for(product, enterprise, snapshot, submitted_date)
    if not offer.eligible:
        raise Ineligible(
            "; ".join(r.message for r in offer.reasons),
            errors=[
                {"loc": ["body", "uscc"], "msg": r.message, "type": r.code} for r in offer.reasons
            ],
            extra={"reasons": [r.model_dump() for r in offer.reasons]},
        )
    if data.amount > offer.max_amount:
        raise AmountOverQuote(
            f"{data.amount} yuan is over the quote of {offer.max_amount} for {offer.points} points",
            errors=[{"loc": ["body", "amount"], "msg": f"at most {offer.max_amount}"}],
            extra={"max_amount": f"{offer.max_amount}"},
        )
    if not product.term_min_months <= data.term_months <= product.term_max_months:
        raise TermsOutOfRange(
            f"{product.code} lends for {product.term_min_months}-{product.term_max_months} months",
            errors=[{"loc": ["body", "term_months"], "msg": "outside the product's range"}],
        )
    if snapshot is None:  # eligible implies points; this guards the invariant for mypy
        raise EnterpriseUnknown(f"{data.uscc} has no points in any ranking")
    calendar = work_calendar(session)
    deadline = calendar.deadline_after(submitted_date)
    fee = (
        guarantee.fee_quote(
            session, enterprise, snapshot, data.amount, data.term_months, submitted_date.year
        )
        if product.guarantee
        else None
    )
    app = Application(
        id=uuid.uuid4(),
        bank_code=bank.code,
        product_code=product.code,
        uscc=data.uscc,
        amount=data.amount,
        term_months=data.term_months,
        status=Status.SUBMITTED,
        submitted_at=submitted_at,
        submitted_date=submitted_date,
        decision_due_at=deadline.due_at,
        deadline_provisional=deadline.provisional,
        points_snapshot=snapshot.points,
        rank_snapshot=snapshot.rank,
        rank_total_snapshot=snapshot.rank_total,
        model_version_snapshot=snapshot.model_version,
        period_snapshot=snapshot.period,
        max_amount_snapshot=offer.max_amount,
        district=enterprise.district,
        industry=enterprise.industry,
        stage=enterprise.stage,
        reason_codes=[],
        guarantee_fee=None
        if fee is None
        else GuaranteeFee.model_validate(fee, from_attributes=True).model_dump(mode="json"),
        disbursed_total=Decimal("0.00"),
        disbursed_count=0,
        version=1,
        created_by=actor.client_id,
    )
    session.add(app)
    session.flush()
    record_event(
        session,
        app,
        "submitted",
        None,
        actor,
        {
            "amount": f"{app.amount}",
            "points": app.points_snapshot,
            "model_version": app.model_version_snapshot,
            "due_at": format_instant(app.decision_due_at),
        },
        elapsed=Elapsed(lambda: calendar),
    )
    return app
