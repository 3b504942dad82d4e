"""Tables the guarantee service owns (prefix `gt_`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
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
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class FeeRate(Base):
    """A 泰信保 fee rate set for loans from `effective_year` on (history is kept)."""

    __tablename__ = "gt_fee_rate"
    __table_args__ = (
        CheckConstraint("rate >= 0 AND rate < 1", name="rate"),
        Index("ix_gt_fee_rate_effective_year_set_at", "effective_year", "set_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    effective_year: Mapped[int] = mapped_column(SmallInteger)
    rate: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    note: Mapped[str] = mapped_column(Text, server_default="")
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    set_by: Mapped[str | None] = mapped_column(String(40))


class Consent(Base):
    """An enterprise's consent to share its features with one credit-reporting firm."""

    __tablename__ = "gt_consent"
    __table_args__ = (
        CheckConstraint("expires_at IS NULL OR expires_at > granted_at", name="expiry"),
        Index("ix_gt_consent_firm_code_uscc", "firm_code", "uscc"),
        Index("ix_gt_consent_uscc", "uscc"),
        Index(
            "ix_gt_consent_expiry_pending",
            "expires_at",
            postgresql_where=text("revoked_at IS NULL AND NOT expiry_recorded"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18))
    firm_code: Mapped[str] = mapped_column(String(32))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    evidence_ref: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(40))
    expiry_recorded: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ExportPull(Base):
    """One feature-export pull: which firm, which cursor range, how many rows."""

    __tablename__ = "gt_export_pull"
    __table_args__ = (Index("ix_gt_export_pull_at_id", "at", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    client_id: Mapped[str] = mapped_column(String(40))
    firm_code: Mapped[str] = mapped_column(String(32))
    since_seq: Mapped[int] = mapped_column(BigInteger)
    until_seq: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(Integer)
    tombstones: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(100))
    request_id: Mapped[str | None] = mapped_column(String(128))
