"""The statistics' daily rollup: `loan_stats_day`, kept exact by PostgreSQL itself.

One row per submission day, bank, product and dimension value holds every additive figure
of the statistics over the applications it counts. `dimension` is `none` (one row per day,
bank and product, with `value` ''; it serves the totals and the bank, product and month
groups) or `district`, `industry`, `stage` (`value` the application's). The rows are written
only by statement-level triggers on `loan_application` (migration 0009): each
INSERT, UPDATE or DELETE adds its new rows' figures and subtracts its old rows' in the
writing transaction, so whatever writes applications — a request, the demo loader, the
calendar reload, an operator's bulk UPDATE — keeps the rollup equal to a GROUP BY of the
table, and a rolled-back write leaves no trace. A row counting zero applications is deleted.

`awaiting_decision` counts the applications still `submitted`; how many of them are past
their deadline depends on now(), so `services.loans.stats` subtracts the few whose deadline is
still ahead, read live.

A median is not additive, so `loan_stats_decision_days` (migration 0011) keeps beside it the
histogram of decision working days by the same key: per value of `decision_working_days`, how
many decided applications took exactly that many — one row per value seen, no "over N"
bucket, so the median read from it is exact. Its own statement-level triggers keep it, fired
after this table's.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, Integer, Numeric, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base

DIMENSIONS = ("none", "district", "industry", "stage")


class _RollupKey:
    """The key both rollups share: a submission day, a bank's product, a dimension value."""

    day: Mapped[date] = mapped_column(Date, primary_key=True, sort_order=-5)  # submitted_date
    bank_code: Mapped[str] = mapped_column(String(32), primary_key=True, sort_order=-4)
    product_code: Mapped[str] = mapped_column(String(40), primary_key=True, sort_order=-3)
    dimension: Mapped[str] = mapped_column(String(10), primary_key=True, sort_order=-2)
    value: Mapped[str] = mapped_column(String(40), primary_key=True, sort_order=-1)


def _dimensions() -> CheckConstraint:
    return CheckConstraint(
        "dimension IN (" + ", ".join(f"'{d}'" for d in DIMENSIONS) + ")", name="dimension"
    )


class StatsDay(_RollupKey, Base):
    """The statistics of one day's applications of one bank's product, for one dimension
    value (read-only here: the triggers write it)."""

    __tablename__ = "loan_stats_day"
    __table_args__ = (_dimensions(),)

    applications: Mapped[int] = mapped_column(Integer)
    approved: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    withdrawn: Mapped[int] = mapped_column(Integer)
    decided: Mapped[int] = mapped_column(Integer)
    disbursed_count: Mapped[int] = mapped_column(Integer)
    disbursed_amount: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    days_sum: Mapped[int] = mapped_column(Integer)
    days_n: Mapped[int] = mapped_column(Integer)
    on_time_n: Mapped[int] = mapped_column(Integer)
    on_time_of: Mapped[int] = mapped_column(Integer)
    overdue_count: Mapped[int] = mapped_column(Integer)
    awaiting_decision: Mapped[int] = mapped_column(Integer)


class DecisionDays(_RollupKey, Base):
    """How many decided applications of one day, bank, product and dimension value took
    `working_days` working days to decision (read-only here: the triggers write it)."""

    __tablename__ = "loan_stats_decision_days"
    __table_args__ = (_dimensions(),)

    working_days: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    decided: Mapped[int] = mapped_column(Integer)
