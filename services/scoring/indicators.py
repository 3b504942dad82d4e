"""Enterprises' raw indicator data, one row per enterprise and period, upserted in bulk.

The derived indicators (R&D intensity, R&D staff ratio, revenue growth) are not stored: the
points model derives them (`pointsmodel.derive`) whenever it reads a period.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.scoring.models import Enterprise, IndicatorRow
from services.scoring.registry import BATCH, RowProblems, Upserted
from services.scoring.schemas import IndicatorIn
from shared import vocab


def check_indicators(session: Session, rows: Sequence[IndicatorIn]) -> RowProblems:
    """Row problems: enterprises not in the database, duplicate rows."""
    wanted = {r.uscc for r in rows}
    known = set(session.scalars(select(Enterprise.uscc).where(Enterprise.uscc.in_(wanted))))
    problems: RowProblems = {}
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        if row.uscc not in known:
            problems.setdefault(index, []).append(
                ("uscc", "no such enterprise: upload it with PUT /v1/admin/enterprises first")
            )
        if row.uscc in seen:
            problems.setdefault(index, []).append(
                ("uscc", f"duplicate of row {seen[row.uscc] + 1}")
            )
        seen.setdefault(row.uscc, index)
    return problems


def upsert_indicators(session: Session, period: int, rows: Sequence[IndicatorIn]) -> Upserted:
    """Insert or replace enterprises' raw indicators for `period`."""
    created = 0
    fields = vocab.RAW_INDICATORS
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        stmt = insert(IndicatorRow).values(
            [
                {"uscc": r.uscc, "period": period, **{f: getattr(r, f) for f in fields}}
                for r in batch
            ]
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=[IndicatorRow.uscc, IndicatorRow.period],
            set_={**{f: getattr(stmt.excluded, f) for f in fields}, "updated_at": func.now()},
        ).returning(text("xmax = 0"))
        created += sum(1 for (inserted,) in session.execute(upsert) if inserted)
    return Upserted(created=created, updated=len(rows) - created)
