"""A period's facts, a batch at a time, for every reader that scores or describes a whole
period — the recompute, the what-if report, drift: one `FACTS_SQL`, one keyset and batch
size, and `pointsmodel.derive` on the same row positions, so each sees every enterprise
exactly as a recompute does."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.orm import Session

from services.scoring import pointsmodel
from shared import vocab

COMPUTE_BATCH = 5000

FACTS_SQL = text(
    """
    SELECT i.uscc, e.stage, e.industry_code, e.categories,
           i.invention_patents, i.utility_models, i.software_copyrights, i.rd_expense,
           i.revenue, i.rd_staff, i.total_staff, i.equity_financing, i.awards_provincial,
           i.awards_national, i.jbgs_funds_paid, prev.revenue AS previous_revenue
    FROM sc_indicator i
    JOIN sc_enterprise e ON e.uscc = i.uscc
    LEFT JOIN sc_indicator prev
      ON prev.uscc = i.uscc AND prev.period = i.period - 1 AND prev.uscc > :after
    WHERE i.period = :period AND i.uscc > :after AND e.uscc > :after
    ORDER BY i.uscc
    LIMIT :batch
    """
)
# The keyset bound is repeated on every joined table: the planner does not carry it across
# the join, and without it a merge join reads the enterprises and the previous period from
# their first key, so each batch cost in proportion to how far it was (quadratic in all).

# Positions in a row of FACTS_SQL.
USCC, STAGE, INDUSTRY, CATEGORIES = 0, 1, 2, 3
_RAW = slice(4, 15)
_PREVIOUS_REVENUE = 15


def batches(session: Session, period: int) -> Iterator[Sequence[Row[Any]]]:
    """The period's rows of `FACTS_SQL` (enterprises with indicator data), by USCC, a batch
    of `COMPUTE_BATCH` at a time: memory stays flat whatever the period's size."""
    connection = session.connection()
    after = ""
    while True:
        rows = connection.execute(
            FACTS_SQL, {"period": period, "after": after, "batch": COMPUTE_BATCH}
        ).all()
        if not rows:
            return
        yield rows
        after = rows[-1][USCC]


def derived(row: Row[Any]) -> tuple[dict[str, Decimal | None], dict[str, str]]:
    """The model's 14 indicator values of a row (raw and derived) and why any is missing."""
    raw = dict(zip(vocab.RAW_INDICATORS, row[_RAW], strict=True))
    return pointsmodel.derive(raw, row[_PREVIOUS_REVENUE])
