"""A bank's changes to its submitted applications: the decision, disbursements, repayment
reports and withdrawal.

Each change locks the application (through the acting bank, so another bank's is "not found"),
checks the caller's precondition on the locked row, moves the status by the one table in
`services.loans.status`, and records an event. Never commits.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.orm import Session

from services.loans.applications import (
    Actor,
    Elapsed,
    Precondition,
    get_application,
    record_event,
    touch,
)
from services.loans.errors import BadTiming, OverApproved, TermsOutOfRange, WrongTransition
from services.loans.models import Application, Disbursement
from services.loans.products import get_product
from services.loans.schedule import work_calendar
from services.loans.schemas import DecisionIn, DisbursementIn, RepaymentIn
from services.loans.status import Move, after
from shared.auth.tenancy import OneBank
from shared.clock import in_the_future, local_date, now


def _locked(
    session: Session, bank: OneBank, app_id: uuid.UUID, precondition: Precondition | None
) -> Application:
    app = get_application(session, bank, app_id, lock=True)
    if precondition is not None:
        precondition(app)
    return app


def _elapsed(session: Session) -> Elapsed:
    """Working days for the event's copy of the application, by the calendar read only if
    it is still `submitted` (none of these changes leaves it so: never read)."""
    return Elapsed(lambda: work_calendar(session))


def decide(
    session: Session,
    bank: OneBank,
    app_id: uuid.UUID,
    data: DecisionIn,
    actor: Actor,
    precondition: Precondition | None = None,
) -> Application:
    """Record the bank's decision (once), with working days taken and whether on time."""
    app = _locked(session, bank, app_id, precondition)
    target = after(app.status, Move.APPROVE if data.outcome == "approved" else Move.REJECT)
    at = now()
    decided_at = data.decided_at or at
    if decided_at < app.submitted_at:
        raise BadTiming(
            "decided_at is before the submission",
            errors=[{"loc": ["body", "decided_at"], "msg": "before submitted_at"}],
        )
    if in_the_future(decided_at, at):
        raise BadTiming(
            "decided_at is in the future",
            errors=[{"loc": ["body", "decided_at"], "msg": "in the future"}],
        )
    if data.outcome == "approved":
        if data.approved_amount is None or data.annual_rate is None:
            raise TermsOutOfRange("An approval needs approved_amount and annual_rate")
        # The application's product is its bank's: read it through the acting bank.
        product = get_product(session, bank, app.product_code)
        term = data.term_months or app.term_months
        problems = []
        if data.approved_amount > app.max_amount_snapshot:
            problems.append(("approved_amount", f"over the quote of {app.max_amount_snapshot}"))
        if not product.rate_min <= data.annual_rate <= product.rate_max:
            problems.append(("annual_rate", f"outside {product.rate_min}-{product.rate_max}"))
        if not product.term_min_months <= term <= product.term_max_months:
            problems.append(("term_months", "outside the product's range"))
        if problems:
            raise TermsOutOfRange(
                "The approval is outside the product's terms",
                errors=[{"loc": ["body", f], "msg": m} for f, m in problems],
            )
        app.approved_amount = data.approved_amount
        app.annual_rate = data.annual_rate
        app.decided_term_months = term
    days, _ = work_calendar(session).working_days_between(
        app.submitted_date, local_date(decided_at)
    )
    previous = app.status
    app.status = target
    app.reason_codes = list(data.reason_codes)
    app.decided_at = decided_at
    app.decision_working_days = days
    app.on_time = decided_at <= app.decision_due_at
    touch(app)
    record_event(
        session,
        app,
        "decision",
        previous,
        actor,
        {
            "outcome": data.outcome,
            "working_days": days,
            "on_time": app.on_time,
            **({"approved_amount": f"{app.approved_amount}"} if app.approved_amount else {}),
        },
        elapsed=_elapsed(session),
    )
    session.flush()
    return app


def disburse(
    session: Session,
    bank: OneBank,
    app_id: uuid.UUID,
    data: DisbursementIn,
    actor: Actor,
    precondition: Precondition | None = None,
) -> Application:
    """Record money paid out; the total never exceeds the approved amount."""
    app = _locked(session, bank, app_id, precondition)
    target = after(app.status, Move.DISBURSE)
    if app.approved_amount is None:
        raise WrongTransition("The application has no approved amount")
    if app.decided_at is not None and data.disbursed_at < app.decided_at:
        raise BadTiming(
            "disbursed_at is before the decision",
            errors=[{"loc": ["body", "disbursed_at"], "msg": "before decided_at"}],
        )
    remaining = app.approved_amount - app.disbursed_total
    if data.amount > remaining:
        raise OverApproved(
            f"{data.amount} yuan would exceed the approved amount; {remaining} remains",
            errors=[{"loc": ["body", "amount"], "msg": f"at most {remaining}"}],
        )
    session.add(
        Disbursement(
            application_id=app.id,
            amount=data.amount,
            disbursed_at=data.disbursed_at,
            reference=data.reference,
        )
    )
    previous = app.status
    app.status = target
    app.disbursed_total += data.amount
    app.disbursed_count += 1
    app.outstanding_principal = (app.outstanding_principal or Decimal("0.00")) + data.amount
    touch(app)
    record_event(
        session,
        app,
        "disbursement",
        previous,
        actor,
        {
            "amount": f"{data.amount}",
            "reference": data.reference,
            "disbursed_total": f"{app.disbursed_total}",
        },
        elapsed=_elapsed(session),
    )
    session.flush()
    return app


def report_repayment(
    session: Session,
    bank: OneBank,
    app_id: uuid.UUID,
    data: RepaymentIn,
    actor: Actor,
    precondition: Precondition | None = None,
) -> Application:
    """Record the repayment status (`current` keeps a disbursed loan current)."""
    app = _locked(session, bank, app_id, precondition)
    target = after(app.status, Move(data.status))
    if data.status == "repaid" and data.outstanding_principal != 0:
        raise TermsOutOfRange(
            "A repaid loan has no outstanding principal",
            errors=[{"loc": ["body", "outstanding_principal"], "msg": "must be 0.00 when repaid"}],
        )
    if data.outstanding_principal > app.disbursed_total:
        raise TermsOutOfRange(
            "Outstanding principal exceeds what was disbursed",
            errors=[
                {"loc": ["body", "outstanding_principal"], "msg": f"at most {app.disbursed_total}"}
            ],
        )
    previous = app.status
    app.status = target
    app.outstanding_principal = data.outstanding_principal
    app.repayment_as_of = data.as_of
    touch(app)
    record_event(
        session,
        app,
        "repayment-status",
        previous,
        actor,
        {
            "reported": data.status,
            "outstanding_principal": f"{data.outstanding_principal}",
            "as_of": data.as_of.isoformat(),
        },
        elapsed=_elapsed(session),
    )
    session.flush()
    return app


def withdraw(
    session: Session,
    bank: OneBank,
    app_id: uuid.UUID,
    actor: Actor,
    precondition: Precondition | None = None,
) -> Application:
    """Withdraw an application before it is decided."""
    app = _locked(session, bank, app_id, precondition)
    previous = app.status
    app.status = after(previous, Move.WITHDRAW)
    touch(app)
    record_event(session, app, "withdrawal", previous, actor, {}, elapsed=_elapsed(session))
    session.flush()
    return app
