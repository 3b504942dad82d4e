"""What other services may read of scoring: current points, rank, a period's top N — now or as
they were at an instant — and the export facts view.

Nothing outside scoring touches its tables: loans and guarantee call these functions, and the
credit-firm export reads the view named here (`EXPORT_FACTS_VIEW`), which scoring owns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services.scoring import registry
from services.scoring.models import Enterprise, Points, Ranking, RecomputeRun


@dataclass(frozen=True, slots=True)
class PointsSnapshot:
    """An enterprise's standing in a period's ranking (`run_id`: the recompute run it is of)."""

    uscc: str
    period: int
    model_version: str
    points: int
    rank: int
    rank_total: int
    run_id: int | None = None


@dataclass(frozen=True, slots=True)
class EnterpriseFacts:
    """The enterprise attributes other services group or filter by."""

    uscc: str
    name: str
    district: str
    industry: str
    stage: str
    categories: tuple[str, ...]


def enterprise(session: Session, uscc: str, at: datetime | None = None) -> EnterpriseFacts | None:
    """An enterprise's attributes (as they were at `at`; None: now), or None if it is not in
    the points database."""
    if at is not None:
        version = registry.enterprise_at(session, uscc, at)
        if version is None:
            return None
        return EnterpriseFacts(
            version.uscc,
            version.name,
            version.district,
            version.industry_code,
            version.stage,
            tuple(version.categories),
        )
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


@dataclass(frozen=True, slots=True)
class RankingRun:
    """The recompute run that is (or was) a period's ranking."""

    period: int
    model_version: str
    run_id: int


def ranking_run(session: Session, period: int, at: datetime | None = None) -> RankingRun | None:
    """The run of `period`'s ranking now, or at the instant `at`; None when it had none."""
    if at is None:
        ranking = session.get(Ranking, period)
        if ranking is None:
            return None
        return RankingRun(ranking.period, ranking.model_version, ranking.run_id)
    run = session.scalars(
        select(RecomputeRun)
        .where(RecomputeRun.period == period, RecomputeRun.finished_at <= at)
        .order_by(RecomputeRun.id.desc())
        .limit(1)
    ).first()
    return None if run is None else RankingRun(run.period, run.model_version, run.id)


@dataclass(frozen=True, slots=True)
class FinishedRun:
    """A recompute run as a watcher of rankings sees it: each became its period's ranking
    when it committed (a period's runs commit in id order, under the recompute's lock)."""

    id: int
    period: int
    finished_at: datetime


def ranking_runs(session: Session, seen: Mapping[int, int]) -> list[FinishedRun]:
    """The runs a watcher that has processed run `seen[period]` of each period has not seen:
    those of a period in `seen` after its run there, and every run of any other period, in id
    order. Every run's points are kept, so none is missed however many ran in between."""
    # A period's first run comes after every run the watcher has seen (ids only grow).
    rows = session.execute(
        select(RecomputeRun.id, RecomputeRun.period, RecomputeRun.finished_at)
        .where(RecomputeRun.id > min(seen.values(), default=0))
        .order_by(RecomputeRun.id)
    )
    return [
        FinishedRun(run_id, period, finished_at)
        for run_id, period, finished_at in rows
        if run_id > seen.get(period, 0)
    ]


def run_top(session: Session, run_id: int, n: int) -> list[str]:
    """The USCCs ranked 1 to `n` by the run `run_id`, best first."""
    return list(
        session.scalars(
            select(Points.uscc)
            .where(Points.run_id == run_id, Points.rank <= n)
            .order_by(Points.rank)
        )
    )


def ranking_period(
    session: Session, period: int, at: datetime | None = None
) -> tuple[int, str] | None:
    """(period, model version) of a period's ranking (at `at`), or None when it has none."""
    found = ranking_run(session, period, at)
    return None if found is None else (found.period, found.model_version)


def history_start(session: Session) -> datetime | None:
    """When the programme's first ranking was published (its first run finished); None before."""
    return session.scalar(select(func.min(RecomputeRun.finished_at)))


# Points of the run that was the ranking of their period at `:at`.
_IN_FORCE_AT = (
    "run_id = (SELECT r.id FROM sc_recompute_run r WHERE r.period = sc_points.period "
    "AND r.finished_at <= :at ORDER BY r.id DESC LIMIT 1)"
)


def current_points(
    session: Session, uscc: str, period: int | None = None, at: datetime | None = None
) -> PointsSnapshot | None:
    """Points of `uscc` in `period`'s ranking (default: the latest period in whose ranking it
    has points), now or at the instant `at`."""
    stmt = select(Points).where(Points.uscc == uscc)
    if at is not None:
        stmt = stmt.where(text(_IN_FORCE_AT).bindparams(at=at))
    elif period is not None:  # the ranking's run as a value: the points' whole key
        stmt = stmt.where(
            Points.run_id
            == select(Ranking.run_id).where(Ranking.period == period).scalar_subquery()
        )
    else:
        stmt = stmt.join(Ranking, Ranking.run_id == Points.run_id)
    stmt = (
        stmt.where(Points.period == period)
        if period is not None
        else stmt.order_by(Points.period.desc()).limit(1)
    )
    row = session.scalars(stmt).first()
    if row is None:
        return None
    return _snapshot(row)


def _snapshot(row: Points) -> PointsSnapshot:
    return PointsSnapshot(
        row.uscc, row.period, row.model_version, row.points, row.rank, row.rank_total, row.run_id
    )


def top(session: Session, period: int, n: int, at: datetime | None = None) -> list[PointsSnapshot]:
    """The first `n` of `period`'s ranking, now or at `at` (ranks are unique: ties are already
    broken)."""
    ranking = ranking_run(session, period, at)
    if ranking is None:
        return []
    rows = session.scalars(
        select(Points)
        .where(Points.run_id == ranking.run_id, Points.rank <= n)
        .order_by(Points.rank)
    )
    return [_snapshot(r) for r in rows]


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
