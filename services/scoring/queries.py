"""What other services may read of scoring: current points, rank, a period's top N.

Nothing outside scoring touches its tables; loans and guarantee call these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
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


@dataclass(frozen=True, slots=True)
class ExportFacts:
    """What the credit-firm export publishes of an enterprise's latest ranked points."""

    enterprise: EnterpriseFacts
    points: PointsSnapshot
    below: int
    indicator_points: dict[str, str]


_EXPORT_SQL = text(
    """
    SELECT DISTINCT ON (p.uscc)
           p.uscc, p.period, p.model_version, p.points, p.rank, p.rank_total, p.below,
           e.name, e.district, e.industry_code, e.stage, e.categories,
           (SELECT jsonb_object_agg(b->>'indicator', b->>'points')
              FROM jsonb_array_elements(p.breakdown) AS b
             WHERE b->>'indicator' NOT LIKE 'bonus:%') AS indicator_points
    FROM sc_points p
    JOIN sc_ranking r ON r.period = p.period AND r.model_version = p.model_version
    JOIN sc_enterprise e ON e.uscc = p.uscc
    WHERE p.uscc = ANY(:usccs)
    ORDER BY p.uscc, p.period DESC
    """
)


def export_facts(session: Session, usccs: Sequence[str]) -> dict[str, ExportFacts]:
    """Latest ranked points (with per-indicator points) of each enterprise that has any.

    Plain SQL, one statement per batch: the export reads this for every consented enterprise.
    """
    out: dict[str, ExportFacts] = {}
    for r in session.execute(_EXPORT_SQL, {"usccs": list(usccs)}):
        out[r.uscc] = ExportFacts(
            enterprise=EnterpriseFacts(
                r.uscc, r.name, r.district, r.industry_code, r.stage, tuple(r.categories)
            ),
            points=PointsSnapshot(
                r.uscc, r.period, r.model_version, r.points, r.rank, r.rank_total
            ),
            below=r.below,
            indicator_points=dict(r.indicator_points or {}),
        )
    return out
