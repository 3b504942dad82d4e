"""A period's ranking: which points it is, an enterprise's standing in it, the ranking pages
(overall or re-ranked within a filter) and the distribution of its points."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services.scoring.errors import PointsNotFound
from services.scoring.models import Points, Ranking
from services.scoring.registry import get_enterprise


def ranking_of(session: Session, period: int | None) -> Ranking:
    """The ranking of `period` (default: the latest period with one), or `PointsNotFound`."""
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


def points_of(session: Session, uscc: str, period: int | None) -> tuple[Points, Ranking]:
    """An enterprise's points in a period's ranking (default: the latest period with one).

    One statement when they are there — the lookup every bank and credit firm makes, so its
    round trips count (README, "National scale"); only a miss asks why, for the 404's words:
    no such enterprise, no ranking for the period, or no points in it."""
    wanted = period if period is not None else select(func.max(Ranking.period)).scalar_subquery()
    found = session.execute(
        select(Points, Ranking)
        .join(
            Ranking,
            (Ranking.period == Points.period) & (Ranking.model_version == Points.model_version),
        )
        .where(Points.uscc == uscc, Ranking.period == wanted)
    ).first()
    if found is not None:
        return found[0], found[1]
    get_enterprise(session, uscc)  # 404: no such enterprise
    ranking = ranking_of(session, period)  # 404: no ranking for the period
    raise PointsNotFound(
        f"{uscc} has no points for period {ranking.period}: it had no indicator data "
        "when the period was last computed"
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
# joined to the page's rows only, each by the points' primary key.
_PREVIOUS = """
    SELECT page.*, prev.rank AS previous_rank, prev.points AS previous_points
    FROM ({page}) AS page
    LEFT JOIN sc_ranking pr ON pr.period = :period - 1
    LEFT JOIN sc_points prev ON prev.period = pr.period
        AND prev.model_version = pr.model_version AND prev.uscc = page.uscc
    ORDER BY page.rank
"""

# The stored overall rank is the ranking: read it straight off the index.
_OVERALL_SQL = text(
    _PREVIOUS.format(
        page="""
        SELECT p.uscc, e.name, e.district, e.industry_code, e.stage, e.categories,
               p.points, p.total_exact, p.rank AS overall_rank, p.rank, p.rank_total,
               p.below
        FROM sc_points p JOIN sc_enterprise e ON e.uscc = p.uscc
        WHERE p.period = :period AND p.model_version = :model AND p.rank > :after
        ORDER BY p.rank LIMIT :limit
        """
    )
)

_FILTERED_SQL = _PREVIOUS.format(
    page="""
    SELECT * FROM (
        SELECT p.uscc, e.name, e.district, e.industry_code, e.stage, e.categories, p.points,
               p.total_exact, p.rank AS overall_rank,
               row_number() OVER (ORDER BY p.points DESC, p.total_exact DESC, p.uscc) AS rank,
               count(*) OVER () AS rank_total,
               rank() OVER (ORDER BY p.points) - 1 AS below
        FROM sc_points p JOIN sc_enterprise e ON e.uscc = p.uscc
        WHERE p.period = :period AND p.model_version = :model {filters}
    ) ranked
    WHERE rank > :after
    ORDER BY rank
    LIMIT :limit
    """
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
    session: Session, ranking: Ranking, where: RankingFilter, *, after: int, limit: int
) -> list[Any]:
    """Up to `limit + 1` ranking rows after rank `after`, ranked within the filter, each with
    its overall rank and points in the ranking of the period before (None when unranked
    there)."""
    filters, bound = _filtered(where)
    params: dict[str, Any] = {
        "period": ranking.period,
        "model": ranking.model_version,
        "after": after,
        "limit": limit + 1,
        **bound,
    }
    if not where.active:
        return list(session.execute(_OVERALL_SQL, params))
    sql = _FILTERED_SQL.format(filters=filters)  # fixed fragments, values bound
    return list(session.execute(text(sql), params))


# The points of the period's ranking, of the enterprises a filter keeps (fixed fragments;
# the enterprises are joined only for a filter).
_POINTS = """
    FROM sc_points p {join}
    WHERE p.period = :period AND p.model_version = :model {filters}
"""
_ENTERPRISE = "JOIN sc_enterprise e ON e.uscc = p.uscc"

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
    session: Session, ranking: Ranking, bins: int, where: RankingFilter
) -> dict[str, Any]:
    """Histogram (equal-width bins from min to max) and quantiles of the points of a period's
    ranking, over the enterprises `where` keeps (no bins, quantiles, min, max or mean when it
    keeps none)."""
    filters, bound = _filtered(where)
    params = {"period": ranking.period, "model": ranking.model_version, **bound}
    join = _ENTERPRISE if where.active else ""
    stats = session.execute(text(_STATS_SQL.format(join=join, filters=filters)), params).one()
    of = {
        "period": ranking.period,
        "model_version": ranking.model_version,
        "district": where.district,
        "industry": where.industry,
        "category": where.category,
        "count": stats.n,
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
