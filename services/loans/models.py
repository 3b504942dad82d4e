"""Tables the loans service owns (prefix `loan_`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.loans.status import Status
from shared.db import Base

MONEY = Numeric(15, 2)
RATE = Numeric(7, 4)

STATUSES = tuple(s.value for s in Status)  # the check constraint's strings, in order


class Bank(Base):
    """A partner bank."""

    __tablename__ = "loan_bank"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Product(Base):
    """A 创新积分贷 credit product of one bank."""

    __tablename__ = "loan_product"
    __table_args__ = (
        CheckConstraint(
            "term_min_months >= 1 AND term_min_months <= term_max_months", name="terms"
        ),
        CheckConstraint("rate_min > 0 AND rate_min <= rate_max AND rate_max < 1", name="rates"),
        CheckConstraint("active_to IS NULL OR active_from <= active_to", name="active"),
        Index("ix_loan_product_bank_code", "bank_code"),
    )

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    bank_code: Mapped[str] = mapped_column(ForeignKey("loan_bank.code"))
    name: Mapped[str] = mapped_column(String(200))
    min_points: Mapped[int] = mapped_column(Integer)
    eligible_categories: Mapped[list[str]] = mapped_column(ARRAY(String(20)), server_default="{}")
    limit_tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    term_min_months: Mapped[int] = mapped_column(SmallInteger)
    term_max_months: Mapped[int] = mapped_column(SmallInteger)
    rate_min: Mapped[Decimal] = mapped_column(RATE)
    rate_max: Mapped[Decimal] = mapped_column(RATE)
    guarantee: Mapped[bool] = mapped_column(Boolean)
    active_from: Mapped[date] = mapped_column(Date)
    active_to: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BankVersion(Base):
    """A bank's name from `valid_from` on (append-only; the bank's row is the latest)."""

    __tablename__ = "loan_bank_version"
    __table_args__ = (Index("ix_loan_bank_version_code_valid_from_id", "code", "valid_from", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("loan_bank.code"))
    name: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProductVersion(Base):
    """A product's terms from `valid_from` on (append-only; the product's row is the latest):
    what a quote at any past instant was made with."""

    __tablename__ = "loan_product_version"
    __table_args__ = (
        Index("ix_loan_product_version_code_valid_from_id", "code", "valid_from", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("loan_product.code"))
    bank_code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    min_points: Mapped[int] = mapped_column(Integer)
    eligible_categories: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    limit_tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    term_min_months: Mapped[int] = mapped_column(SmallInteger)
    term_max_months: Mapped[int] = mapped_column(SmallInteger)
    rate_min: Mapped[Decimal] = mapped_column(RATE)
    rate_max: Mapped[Decimal] = mapped_column(RATE)
    guarantee: Mapped[bool] = mapped_column(Boolean)
    active_from: Mapped[date] = mapped_column(Date)
    active_to: Mapped[date | None] = mapped_column(Date)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CalendarYear(Base):
    """A year whose working-day schedule an operator loaded (overrides the bundled one)."""

    __tablename__ = "loan_calendar_year"

    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    holidays: Mapped[list[date]] = mapped_column(ARRAY(Date))
    make_up_workdays: Mapped[list[date]] = mapped_column(ARRAY(Date))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    loaded_by: Mapped[str | None] = mapped_column(String(40))


class CalendarLoad(Base):
    """One load of a year's schedule (append-only; `loan_calendar_year` holds the latest)."""

    __tablename__ = "loan_calendar_load"
    __table_args__ = (Index("ix_loan_calendar_load_year_loaded_at_id", "year", "loaded_at", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger)
    holidays: Mapped[list[date]] = mapped_column(ARRAY(Date))
    make_up_workdays: Mapped[list[date]] = mapped_column(ARRAY(Date))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    loaded_by: Mapped[str | None] = mapped_column(String(40))


class Application(Base):
    """A loan application and its state, with what it was judged on at submission."""

    __tablename__ = "loan_application"
    # created_at/updated_at come back in the INSERT's RETURNING: no re-read after a submission.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012  (SQLAlchemy's declarative API)
    __table_args__ = (
        CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")", name="status"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("disbursed_total >= 0", name="disbursed"),
        CheckConstraint(
            "approved_amount IS NULL OR disbursed_total <= approved_amount",
            name="disbursed_within_approval",
        ),
        Index("ix_loan_application_bank_code_id", "bank_code", "id"),
        Index("ix_loan_application_bank_code_updated_at", "bank_code", "updated_at", "id"),
        Index("ix_loan_application_submitted_date", "submitted_date"),
        Index(
            "ix_loan_application_open_provisional",
            "deadline_provisional",
            postgresql_where=text("status = 'submitted'"),
        ),
        # The undecided applications whose deadline is still ahead (services/loans/stats.py).
        Index(
            "ix_loan_application_open_due",
            "decision_due_at",
            "submitted_date",
            postgresql_where=text("status = 'submitted'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    bank_code: Mapped[str] = mapped_column(ForeignKey("loan_bank.code"))
    product_code: Mapped[str] = mapped_column(ForeignKey("loan_product.code"))
    uscc: Mapped[str] = mapped_column(String(18))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    term_months: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(12))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    submitted_date: Mapped[date] = mapped_column(Date)  # Asia/Shanghai business date
    decision_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline_provisional: Mapped[bool] = mapped_column(Boolean)
    # What the application was judged on, frozen at submission.
    points_snapshot: Mapped[int] = mapped_column(Integer)
    rank_snapshot: Mapped[int] = mapped_column(Integer)
    rank_total_snapshot: Mapped[int] = mapped_column(Integer)
    model_version_snapshot: Mapped[str] = mapped_column(String(40))
    period_snapshot: Mapped[int] = mapped_column(SmallInteger)
    max_amount_snapshot: Mapped[Decimal] = mapped_column(MONEY)
    district: Mapped[str] = mapped_column(String(20))
    industry: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(10))
    guarantee_fee: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The decision.
    approved_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    annual_rate: Mapped[Decimal | None] = mapped_column(RATE)
    decided_term_months: Mapped[int | None] = mapped_column(SmallInteger)
    reason_codes: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default="{}")
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_working_days: Mapped[int | None] = mapped_column(SmallInteger)
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    # Money out and back.
    disbursed_total: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    disbursed_count: Mapped[int] = mapped_column(Integer, server_default="0")
    outstanding_principal: Mapped[Decimal | None] = mapped_column(MONEY)
    repayment_as_of: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Disbursement(Base):
    """Money paid out on an approved application."""

    __tablename__ = "loan_disbursement"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        Index("ix_loan_disbursement_application_id", "application_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("loan_application.id"))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    disbursed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reference: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApplicationEvent(Base):
    """One entry of an application's history: every state change, who and when."""

    __tablename__ = "loan_application_event"
    __table_args__ = (Index("ix_loan_application_event_application_id_id", "application_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("loan_application.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    type: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    actor: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[str | None] = mapped_column(String(128))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class IdempotencyKey(Base):
    """A client's Idempotency-Key and the response to replay (written in the transaction of
    the work it answers; "in flight" is an advisory lock, see services/loans/idempotency.py)."""

    __tablename__ = "loan_idempotency_key"
    __table_args__ = (Index("ix_loan_idempotency_key_expires_at", "expires_at"),)

    client_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    endpoint: Mapped[str] = mapped_column(Text)
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(SmallInteger)
    response_body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    response_headers: Mapped[dict[str, str]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
