"""A period's ranking: which points it is, an enterprise's standing in it, the ranking pages
(overall or re-ranked within a filter) and the distribution of its points — now, or as they
were at an instant (`at`: the run that was the ranking then, the enterprises' attributes then).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services.scoring.errors import PointsNotFound
from services.scoring.models import Points, Ranking, RecomputeRun
from services.scoring.registry import VERSION_IN_FORCE, get_enterprise
from shared.as_of import Versions
from shared.timestamps import format_instant


def ranking_of(session: Session, period: int | None, at: datetime | None = None) -> Ranking:
    """The ranking of `period` (default: the latest period with one) now, or at the instant
    `at`: the period's latest run finished by then (runs of a period commit in id order, under
    the recompute's lock). `PointsNotFound` when there is none."""
    if at is not None:
        return _ranking_at(session, period, at)
    stmt = select(Ranking)
    stmt = (
        stmt.where(Ranking.period == period)
        if period is not None
        else stmt.order_by(Ranking.period.desc()).limit(1)
    )
    ranking = session.scalars(stmt).first()
    if ranking is None:
        detail = (
            f"No points have been computed for period {period}; an operator runs "
            f"POST /v1/admin/points/{period}/recompute"
            if period is not None
            else "No points have been computed for any period yet"
        )
        raise PointsNotFound(detail)
    return ranking


def _ranking_at(session: Session, period: int | None, at: datetime) -> Ranking:
    stmt = select(RecomputeRun).where(RecomputeRun.finished_at <= at)
    stmt = (
        stmt.where(RecomputeRun.period == period).order_by(RecomputeRun.id.desc())
        if period is not None
        else stmt.order_by(RecomputeRun.period.desc(), RecomputeRun.id.desc())
    )
    run = session.scalars(stmt.limit(1)).first()
    if run is None:
        of = f"period {period}" if period is not None else "any period"
        raise PointsNotFound(f"No points had been computed for {of} at {format_instant(at)}")
    # Not added to the session: a value, the ranking as it stood then.
    return Ranking(
        period=run.period,
        model_version=run.model_version,
        run_id=run.id,
        published_at=run.finished_at,
    )


def versions_of(ranking: Ranking) -> Versions:
    """What an answer read from a ranking was made with: its run and model."""
    return Versions(ranking_run=ranking.run_id, model_version=ranking.model_version)


def points_of(
    session: Session, uscc: str, period: int | None, at: datetime | None = None
) -> tuple[Points, Ranking]:
    """An enterprise's points in a period's ranking (default: the latest period with one), now
    or at the instant `at`.

    One statement when they are there — the lookup every bank and credit firm makes, so its
    round trips count (README, "National scale"): the ranking's row, then the points' key
    (run, USCC). Only a miss asks why, for the 404's words: no such enterprise, no ranking for
    the period, or no points in it."""
    if at is not None:
        ranking = ranking_of(session, period, at)
        points = session.get(Points, (ranking.run_id, uscc))
        if points is not None:
            return points, ranking
        get_enterprise(session, uscc)  # 404: no such enterprise
        raise PointsNotFound(
            f"{uscc} had no points for period {ranking.period} at {format_instant(at)}"
        )
    wanted = period if period is not None else select(func.max(Ranking.period)).scalar_subquery()
    # The ranking's run as a value: the points are then read by their whole key.
    run = select(Ranking.run_id).where(Ranking.period == wanted).scalar_subquery()
    found = session.execute(
        select(Points, Ranking)
        .join(Ranking, Ranking.run_id == Points.run_id)
        .where(Points.run_id == run, Points.uscc == uscc, Ranking.period == wanted)
    ).first()
    if found is not None:
        return found[0], found[1]
    get_enterprise(session, uscc)  # 404: no such enterprise
    ranking = ranking_of(session, period)  # 404: no ranking for the period
    raise PointsNotFound(
        f"{uscc} has no points for period {ranking.period}: it had no indicator data "
        "when the period was last computed"
    )


def enterprises_at(at: datetime | None) -> str:
    """The SQL that joins the enterprise `e` of the points `p`: the current row, or (`at`
    given, bound as `:at`) the version in force at that instant (`VERSION_IN_FORCE`)."""
    if at is None:
        return "JOIN sc_enterprise e ON e.uscc = p.uscc"
    return f"""
        JOIN LATERAL (
            SELECT v.name, v.district, v.industry_code, v.stage, v.categories
            FROM sc_enterprise_version v
            WHERE v.uscc = p.uscc
            ORDER BY {VERSION_IN_FORCE}
            LIMIT 1
        ) e ON true
    """  # noqa: S608 (built from module constants only)


def previous_run(at: datetime | None) -> str:
    """The SQL for the run of the ranking of period `:period - 1`, now or at `:at`."""
    if at is None:
        return "(SELECT run_id FROM sc_ranking WHERE period = :period - 1)"
    return (
        "(SELECT id FROM sc_recompute_run WHERE period = :period - 1 AND finished_at <= :at "
        "ORDER BY id DESC LIMIT 1)"
    )


def percentile(below: int, rank_total: int) -> float:
    """Share of the ranked enterprises with fewer points, in percent (2 decimals, half-up, as
    PostgreSQL's `round(numeric, 2)` gives it to the export); equal points share it."""
    if not rank_total:
        return 0.0
    return float((Decimal(100 * below) / rank_total).quantize(Decimal("0.01"), ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class RankingFilter:
    """Restrict a ranking to a district, an industry and/or a category."""

    district: str | None = None
    industry: str | None = None
    category: str | None = None

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any((self.district, self.industry, self.category))


# A page's standing in the period before (`period - 1`): its ranking's overall rank and points,
# joined to the page's rows only, each by the points' primary key (run, USCC).
_PREVIOUS = """
    SELECT page.*, prev.rank AS previous_rank, prev.points AS previous_points
    FROM ({page}) AS page
    LEFT JOIN sc_points prev ON prev.run_id = {previous} AND prev.uscc = page.uscc
    ORDER BY page.rank
"""

# The stored overall rank is the ranking: read it straight off the index (run, rank).
_OVERALL_SQL = _PREVIOUS.format(
    previous="{previous}",
    page="""
    SELECT p.uscc, e.name, e.district, e.industry_code, e.stage, e.categories,
           p.points, p.total_exact, p.rank AS overall_rank, p.rank, p.rank_total,
           p.below
    FROM sc_points p {enterprises}
    WHERE p.run_id = :run AND p.rank > :after
    ORDER BY p.rank LIMIT :limit
    """,
)

_FILTERED_SQL = _PREVIOUS.format(
    previous="{previous}",
    page="""
    SELECT * FROM (
        SELECT p.uscc, e.name, e.district, e.industry_code, e.stage, e.categories, p.points,
               p.total_exact, p.rank AS overall_rank,
               row_number() OVER (ORDER BY p.points DESC, p.total_exact DESC, p.uscc) AS rank,
               count(*) OVER () AS rank_total,
               rank() OVER (ORDER BY p.points) - 1 AS below
        FROM sc_points p {enterprises}
        WHERE p.run_id = :run {filters}
    ) ranked
    WHERE rank > :after
    ORDER BY rank
    LIMIT :limit
    """,
)


def _filtered(where: RankingFilter) -> tuple[str, dict[str, Any]]:
    """The SQL conditions of a filter on the enterprise `e`, and their bound values."""
    filters, params = [], {}
    if where.district:
        filters.append("AND e.district = :district")
        params["district"] = where.district
    if where.industry:
        filters.append("AND e.industry_code = :industry")
        params["industry"] = where.industry
    if where.category:
        filters.append("AND e.categories @> ARRAY[CAST(:category AS varchar)]")
        params["category"] = where.category
    return " ".join(filters), params


def ranking_rows(
    session: Session,
    ranking: Ranking,
    where: RankingFilter,
    *,
    after: int,
    limit: int,
    at: datetime | None = None,
) -> list[Any]:
    """Up to `limit + 1` ranking rows after rank `after`, ranked within the filter, each with
    its overall rank and points in the ranking of the period before (None when unranked
    there); the enterprises' attributes and the period before's ranking as they were at `at`
    (None: now)."""
    filters, bound = _filtered(where)
    params: dict[str, Any] = {
        "period": ranking.period,
        "run": ranking.run_id,
        "after": after,
        "limit": limit + 1,
        **bound,
    }
    if at is not None:
        params["at"] = at
    template = _FILTERED_SQL if where.active else _OVERALL_SQL
    # Fixed fragments only; every value is bound.
    sql = template.format(
        enterprises=enterprises_at(at), previous=previous_run(at), filters=filters
    )
    return list(session.execute(text(sql), params))


# The points of the period's ranking, of the enterprises a filter keeps (fixed fragments;
# the enterprises are joined only for a filter).
_POINTS = """
    FROM sc_points p {join}
    WHERE p.run_id = :run {filters}
"""

_STATS_SQL = (
    """
    SELECT count(*) AS n, min(points) AS lo, max(points) AS hi, avg(points) AS mean,
           percentile_cont(ARRAY[0.1, 0.25, 0.5, 0.75, 0.9, 0.99])
               WITHIN GROUP (ORDER BY points) AS q
"""
    + _POINTS
)

_BINS_SQL = (
    """
    SELECT LEAST(width_bucket(points, :lo, :hi_open, :bins), :bins) AS b, count(*)
"""
    + _POINTS
    + " GROUP BY b"
)

QUANTILES = ("p10", "p25", "p50", "p75", "p90", "p99")


def distribution(
    session: Session,
    ranking: Ranking,
    bins: int,
    where: RankingFilter,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Histogram (equal-width bins from min to max) and quantiles of the points of a period's
    ranking, over the enterprises `where` keeps (no bins, quantiles, min, max or mean when it
    keeps none), filtered on their attributes as they were at `at` (None: now)."""
    filters, bound = _filtered(where)
    params: dict[str, Any] = {"run": ranking.run_id, **bound}
    if at is not None and where.active:
        params["at"] = at
    join = enterprises_at(at) if where.active else ""
    stats = session.execute(text(_STATS_SQL.format(join=join, filters=filters)), params).one()
    of = {
        "period": ranking.period,
        "model_version": ranking.model_version,
        "district": where.district,
        "industry": where.industry,
        "category": where.category,
        "count": stats.n,
        "versions": versions_of(ranking),
    }
    if not stats.n:
        return {**of, "min": None, "max": None, "mean": None, "quantiles": {}, "histogram": []}
    lo, hi = int(stats.lo), int(stats.hi)
    width = Decimal(max(hi - lo, 1)) / bins
    counts: dict[int, int] = dict(
        session.execute(
            text(_BINS_SQL.format(join=join, filters=filters)),
            {**params, "lo": lo, "hi_open": lo + width * bins, "bins": bins},
        ).all()
    )
    histogram = [
        {
            "lower": float(lo + width * i),
            "upper": float(lo + width * (i + 1)),
            "count": int(counts.get(i + 1, 0)),
        }
        for i in range(bins)
    ]
    return {
        **of,
        "min": lo,
        "max": hi,
        "mean": round(float(stats.mean), 2),
        "quantiles": {name: round(float(v), 2) for name, v in zip(QUANTILES, stats.q, strict=True)},
        "histogram": histogram,
    }
