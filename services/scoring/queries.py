"""What other services may read of scoring: current points, rank, a period's top N, and the
export facts view.

Nothing outside scoring touches its tables: loans and guarantee call these functions, and the
credit-firm export reads the view named here (`EXPORT_FACTS_VIEW`), which scoring owns.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from services.scoring.models import Enterprise, Points, Ranking


@dataclass(frozen=True, slots=True)
class PointsSnapshot:
    """An enterprise's standing in a period's ranking."""

    uscc: str
    period: int
    model_version: str
    points: int
    rank: int
    rank_total: int


@dataclass(frozen=True, slots=True)
class EnterpriseFacts:
    """The enterprise attributes other services group or filter by."""

    uscc: str
    name: str
    district: str
    industry: str
    stage: str
    categories: tuple[str, ...]


def enterprise(session: Session, uscc: str) -> EnterpriseFacts | None:
    """An enterprise's attributes, or None if it is not in the points database."""
    row = session.get(Enterprise, uscc)
    if row is None:
        return None
    return EnterpriseFacts(
        row.uscc, row.name, row.district, row.industry_code, row.stage, tuple(row.categories)
    )


def known_usccs(session: Session, usccs: set[str]) -> set[str]:
    """Which of `usccs` are in the points database."""
    # One array parameter: any number of codes (an IN list stops at 65,535 parameters).
    found = session.execute(
        text("SELECT uscc FROM sc_enterprise WHERE uscc = ANY(:usccs)"), {"usccs": list(usccs)}
    )
    return {row.uscc for row in found}


def ranking_period(session: Session, period: int) -> tuple[int, str] | None:
    """(period, model version) of a period's ranking, or None when it has none."""
    ranking = session.get(Ranking, period)
    return None if ranking is None else (ranking.period, ranking.model_version)


def current_points(session: Session, uscc: str, period: int | None = None) -> PointsSnapshot | None:
    """Points of `uscc` in `period`'s ranking (default: the latest ranked period)."""
    stmt = (
        select(Points)
        .join(
            Ranking,
            (Ranking.period == Points.period) & (Ranking.model_version == Points.model_version),
        )
        .where(Points.uscc == uscc)
    )
    stmt = (
        stmt.where(Points.period == period)
        if period is not None
        else stmt.order_by(Points.period.desc()).limit(1)
    )
    row = session.scalars(stmt).first()
    if row is None:
        return None
    return PointsSnapshot(
        row.uscc, row.period, row.model_version, row.points, row.rank, row.rank_total
    )


def top(session: Session, period: int, n: int) -> list[PointsSnapshot]:
    """The first `n` of `period`'s ranking (ranks are unique: ties are already broken)."""
    ranking = session.get(Ranking, period)
    if ranking is None:
        return []
    rows = session.scalars(
        select(Points)
        .where(
            Points.period == period, Points.model_version == ranking.model_version, Points.rank <= n
        )
        .order_by(Points.rank)
    )
    return [
        PointsSnapshot(r.uscc, r.period, r.model_version, r.points, r.rank, r.rank_total)
        for r in rows
    ]


EXPORT_FACTS_VIEW = "sc_export_facts"
"""A view (migration 0006): the latest ranked points of each enterprise, with the attributes
the credit-firm export publishes. Filter it by `uscc` (one row per enterprise; none when the
enterprise has no points in any period's ranking). The export builds its rows in the
database from it, so a row is never a Python object on the way out.

Columns: `uscc` and `EXPORT_FACT_COLUMNS` — period, model_version, points, rank, rank_total,
percentile (float8, as `ranking.percentile()` computes it), indicator_points (jsonb:
indicator → its points as a decimal string, bonuses left out), district, industry_code,
stage, categories (varchar[]).
"""

EXPORT_FACT_COLUMNS = (
    "period",
    "model_version",
    "points",
    "rank",
    "rank_total",
    "percentile",
    "indicator_points",
    "district",
    "industry_code",
    "stage",
    "categories",
)
