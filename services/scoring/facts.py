"""A period's facts, a batch at a time, for the readers that score or describe a whole period
besides the recompute (the what-if report, drift): the recompute's own `FACTS_SQL`, the same
keyset and batch size, and `pointsmodel.derive` on the same row positions, so they see each
enterprise exactly as a recompute would."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from services.scoring import pointsmodel
from services.scoring.recompute import COMPUTE_BATCH, FACTS_SQL
from shared import vocab

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
