"""泰信保 fee rates (a history: the newest setting for the latest effective year applies, so
the rate in force at any past instant is known too) and fee quotes: fee = amount × annual
rate × months / 12, half-up to cents, nothing payable when the waiver applies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from services.guarantee.errors import NoFeeRate
from services.guarantee.models import FeeRate
from services.guarantee.waiver import Waiver, waiver_for
from shared import clock
from shared.changes.locks import lock_target
from shared.money import round_cents


def set_fee_rate(
    session: Session, effective_year: int, rate: Decimal, note: str, by: str
) -> FeeRate:
    """Set the rate for loans from `effective_year` on (earlier settings stay in the history),
    as of the application clock's now."""
    lock_target(session, "fee-rates")  # one lock for every year: after an approval of one
    row = FeeRate(
        effective_year=effective_year, rate=rate, note=note, set_by=by, set_at=clock.now()
    )
    session.add(row)
    session.flush()
    session.refresh(row)
    return row


def fee_rate_for(session: Session, year: int, at: datetime | None = None) -> FeeRate:
    """The rate in force for `year`: the latest setting with the latest effective year ≤ year
    (of those set by the instant `at`, when given)."""
    stmt = select(FeeRate).where(FeeRate.effective_year <= year)
    if at is not None:
        stmt = stmt.where(FeeRate.set_at <= at)
    row = session.scalars(
        stmt.order_by(
            FeeRate.effective_year.desc(), FeeRate.set_at.desc(), FeeRate.id.desc()
        ).limit(1)
    ).first()
    if row is None:
        raise NoFeeRate(f"No 泰信保 fee rate is set for {year}")
    return row


def fee_history(
    session: Session, *, after: tuple[datetime, int] | None = None, limit: int | None = None
) -> Sequence[FeeRate]:
    """Every rate ever set, newest first (set_at, then id, descending): up to `limit + 1`
    after `after`, or all of them when `limit` is None."""
    stmt = select(FeeRate)
    if after is not None:
        stmt = stmt.where(tuple_(FeeRate.set_at, FeeRate.id) < tuple_(*after))
    stmt = stmt.order_by(FeeRate.set_at.desc(), FeeRate.id.desc())
    return session.scalars(stmt if limit is None else stmt.limit(limit + 1)).all()


@dataclass(frozen=True, slots=True)
class FeeQuote:
    """fee = amount × annual rate × months / 12, half-up to cents; waived → nothing payable."""

    year: int
    fee_rate: Decimal
    fee: Decimal
    waived: bool
    payable_fee: Decimal
    waiver: Waiver
    fee_rate_id: int | None = None  # the `gt_fee_rate` row used


def fee(amount: Decimal, rate: Decimal, months: int) -> Decimal:
    """The guarantee fee, exact: amount × rate × months / 12, rounded half-up to cents."""
    return round_cents(amount * rate * months / 12)


def quote(
    session: Session,
    uscc: str,
    amount: Decimal,
    term_months: int,
    year: int,
    at: datetime | None = None,
) -> FeeQuote:
    """The 泰信保 fee for a loan taken in `year`, now or as quoted at the instant `at`."""
    return priced(session, waiver_for(session, uscc, year, at), amount, term_months, at)


def priced(
    session: Session,
    waiver: Waiver,
    amount: Decimal,
    term_months: int,
    at: datetime | None = None,
) -> FeeQuote:
    """The 泰信保 fee for a loan taken in `waiver.year`, whose waiver is already decided (with
    the rate in force at `at`; None: now)."""
    rate = fee_rate_for(session, waiver.year, at)
    due = fee(amount, rate.rate, term_months)
    payable = Decimal("0.00") if waiver.waived else due
    return FeeQuote(waiver.year, rate.rate, due, waiver.waived, payable, waiver, rate.id)
