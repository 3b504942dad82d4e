"""What other services may read of scoring: current points, rank, a period's top N.

Nothing outside scoring touches its tables; loans and guarantee call these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
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
    return set(session.scalars(select(Enterprise.uscc).where(Enterprise.uscc.in_(usccs))))


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


def export_facts(session: Session, usccs: Sequence[str]) -> dict[str, ExportFacts]:
    """Latest ranked points (with per-indicator points) of each enterprise that has any."""
    latest = (
        select(Points)
        .join(
            Ranking,
            (Ranking.period == Points.period) & (Ranking.model_version == Points.model_version),
        )
        .where(Points.uscc.in_(list(usccs)))
        .order_by(Points.uscc, Points.period.desc())
        .ext(distinct_on(Points.uscc))
    )
    points = {p.uscc: p for p in session.scalars(latest)}
    enterprises = {
        e.uscc: e
        for e in session.scalars(select(Enterprise).where(Enterprise.uscc.in_(list(points))))
    }
    out: dict[str, ExportFacts] = {}
    for uscc, p in points.items():
        e = enterprises[uscc]
        out[uscc] = ExportFacts(
            enterprise=EnterpriseFacts(
                e.uscc, e.name, e.district, e.industry_code, e.stage, tuple(e.categories)
            ),
            points=PointsSnapshot(
                p.uscc, p.period, p.model_version, p.points, p.rank, p.rank_total
            ),
            below=p.below,
            indicator_points={
                i["indicator"]: i["points"]
                for i in p.breakdown
                if not i["indicator"].startswith("bonus:")
            },
        )
    return out
