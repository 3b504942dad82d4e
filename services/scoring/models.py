"""Tables the scoring service owns (prefix `sc_`)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base
from shared.vocab import CATEGORIES, DISTRICTS, STAGES

MONEY = Numeric(15, 2)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Industry(Base):
    """An industry of the city's "1+4" system (a managed list)."""

    __tablename__ = "sc_industry"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(SmallInteger, server_default="0")


class Enterprise(Base):
    """A technology enterprise in the points database."""

    __tablename__ = "sc_enterprise"
    __table_args__ = (
        CheckConstraint(_in("district", DISTRICTS), name="district"),
        CheckConstraint(_in("stage", STAGES), name="stage"),
        CheckConstraint(
            f"categories <@ ARRAY[{', '.join(repr(c) for c in CATEGORIES)}]::varchar[]",
            name="categories",
        ),
        Index("ix_sc_enterprise_district", "district"),
        Index("ix_sc_enterprise_industry_code", "industry_code"),
        Index("ix_sc_enterprise_categories", "categories", postgresql_using="gin"),
    )

    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(20))
    industry_code: Mapped[str] = mapped_column(ForeignKey("sc_industry.code"))
    stage: Mapped[str] = mapped_column(String(10))
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(20)), server_default="{}")
    founded_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EnterpriseVersion(Base):
    """What an enterprise was called and where it stood from `valid_from` on (append-only):
    the fields a ranking page, the diagnosis and the export show, so a past page is shown
    again with the names it had."""

    __tablename__ = "sc_enterprise_version"
    __table_args__ = (
        Index("ix_sc_enterprise_version_uscc_valid_from_id", "uscc", "valid_from", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    uscc: Mapped[str] = mapped_column(ForeignKey("sc_enterprise.uscc"))
    name: Mapped[str] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(20))
    industry_code: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(10))
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IndicatorRow(Base):
    """An enterprise's raw indicator data for one period (a year)."""

    __tablename__ = "sc_indicator"
    __table_args__ = (
        CheckConstraint("period BETWEEN 2000 AND 2100", name="period"),
        CheckConstraint(
            "invention_patents >= 0 AND utility_models >= 0 AND software_copyrights >= 0 "
            "AND rd_staff >= 0 AND total_staff >= 0 AND rd_staff <= total_staff "
            "AND awards_provincial >= 0 AND awards_national >= 0",
            name="counts",
        ),
        CheckConstraint(
            "rd_expense >= 0 AND revenue >= 0 AND equity_financing >= 0 AND jbgs_funds_paid >= 0",
            name="amounts",
        ),
        Index("ix_sc_indicator_period", "period"),
    )

    uscc: Mapped[str] = mapped_column(ForeignKey("sc_enterprise.uscc"), primary_key=True)
    period: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    invention_patents: Mapped[int] = mapped_column(Integer)
    utility_models: Mapped[int] = mapped_column(Integer)
    software_copyrights: Mapped[int] = mapped_column(Integer)
    rd_expense: Mapped[Decimal] = mapped_column(MONEY)
    revenue: Mapped[Decimal] = mapped_column(MONEY)
    rd_staff: Mapped[int] = mapped_column(Integer)
    total_staff: Mapped[int] = mapped_column(Integer)
    equity_financing: Mapped[Decimal] = mapped_column(MONEY)
    awards_provincial: Mapped[int] = mapped_column(Integer)
    awards_national: Mapped[int] = mapped_column(Integer)
    jbgs_funds_paid: Mapped[Decimal] = mapped_column(MONEY)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PointsModel(Base):
    """A version of the points model: a draft, or published and immutable."""

    __tablename__ = "sc_model"
    __table_args__ = (CheckConstraint("status IN ('draft', 'published')", name="status"),)

    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(10))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RecomputeRun(Base):
    """One recompute of a period's points: who, when, which model, how many, how long.

    A period's ranking at an instant is its latest run finished by then (runs of a period
    commit in id order, under the recompute's lock)."""

    __tablename__ = "sc_recompute_run"
    __table_args__ = (Index("ix_sc_recompute_run_period_id", "period", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    period: Mapped[int] = mapped_column(SmallInteger)
    model_version: Mapped[str] = mapped_column(ForeignKey("sc_model.version"))
    requested_by: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int] = mapped_column(Integer)
    enterprise_count: Mapped[int] = mapped_column(Integer)


class Points(Base):
    """An enterprise's points in one recompute run of a period, with its overall rank.

    Every run's points are kept (migration 0013): a run that is no longer the ranking still
    answers for the time it was (`?as_of=`)."""

    __tablename__ = "sc_points"
    __table_args__ = (
        Index("ix_sc_points_run_id_rank", "run_id", "rank"),
        Index("ix_sc_points_uscc", "uscc"),
    )

    run_id: Mapped[int] = mapped_column(ForeignKey("sc_recompute_run.id"), primary_key=True)
    uscc: Mapped[str] = mapped_column(ForeignKey("sc_enterprise.uscc"), primary_key=True)
    period: Mapped[int] = mapped_column(SmallInteger)
    model_version: Mapped[str] = mapped_column(ForeignKey("sc_model.version"))
    points: Mapped[int] = mapped_column(Integer)
    total_exact: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    rank: Mapped[int] = mapped_column(Integer)
    rank_total: Mapped[int] = mapped_column(Integer)
    # Enterprises of the ranking with strictly fewer points (ties share a percentile).
    below: Mapped[int] = mapped_column(Integer)
    breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Ranking(Base):
    """Which model's points are a period's ranking: the latest recompute of that period."""

    __tablename__ = "sc_ranking"

    period: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    model_version: Mapped[str] = mapped_column(ForeignKey("sc_model.version"))
    run_id: Mapped[int] = mapped_column(ForeignKey("sc_recompute_run.id"))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DiagnosisDocument(Base):
    """A 诊断书 issued as a PDF: the verification code printed on it, the exact points it
    shows (run and enterprise), the SHA-256 of its bytes, and who asked, as printed on it.

    The row is the record of the request: a GET that issues a document writes nothing else.
    `GET /v1/scoring/diagnosis-documents/{code}` answers from it, to anyone."""

    __tablename__ = "sc_diagnosis_document"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9A-HJKMNP-TV-Z]{16}$'", name="code"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256"),
        CheckConstraint("size_bytes > 0", name="size_bytes"),
        CheckConstraint(_in("issued_role", ("bank", "bureau", "admin", "cli")), name="issued_role"),
        ForeignKeyConstraint(["run_id", "uscc"], ["sc_points.run_id", "sc_points.uscc"]),
        Index("ix_sc_diagnosis_document_uscc_issued_at", "uscc", "issued_at"),
    )

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger)
    uscc: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(200))
    period: Mapped[int] = mapped_column(SmallInteger)
    model_version: Mapped[str] = mapped_column(ForeignKey("sc_model.version"))
    as_of: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    layout_version: Mapped[str] = mapped_column(String(20))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    issued_by: Mapped[str] = mapped_column(String(40))
    issued_role: Mapped[str] = mapped_column(String(12))
    issued_bank_code: Mapped[str | None] = mapped_column(String(32))
    issued_to: Mapped[str] = mapped_column(String(120))
