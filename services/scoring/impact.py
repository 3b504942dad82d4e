"""What-if: a model's points for a period, ranked and compared with a baseline model's,
without touching `sc_points` or the ranking.

Both models score every enterprise of the period on the recompute's own code path (its facts
query, `derive`, `CompiledModel`) into a temporary table dropped at commit; when the baseline
is the period's ranking model and no indicator or enterprise of the period changed since
that ranking's recompute began, its stored points are the baseline instead of a second
computation. Both are ranked in SQL with the recompute's tie order (points, exact total,
USCC), and everything else is aggregated there: rank changes, the top 100 (the 泰信保 waiver
of the year after), mean points by group, products' eligibility (through the injected
`ProductShifts`), and the PSI of the points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Literal, cast

import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.scoring import facts, psi
from services.scoring.compiled_model import CompiledModel
from services.scoring.errors import NoIndicators, PointsOutOfRange
from services.scoring.model_versions import get_model
from services.scoring.models import PointsModel, Ranking
from services.scoring.pointsmodel import ModelDefinition
from services.scoring.ranking import ranking_of
from services.scoring.recompute import MAX_TOTAL
from shared.eligibility import PointsGroup, ProductShifts
from shared.vocab import WAIVER_TOP

MOVERS = 10
"""How many of the largest moves up and down the report lists."""

RANK_BUCKETS = ((0, 0), (1, 10), (11, 100), (101, 1000), (1001, None))
"""Rank changes are counted by size, |Δ| in each (from, to) range (to None: and beyond)."""

_STAGE_SQL = """
    CREATE TEMP TABLE IF NOT EXISTS {name} (
        uscc varchar(18) NOT NULL, points integer NOT NULL, total numeric(14, 4) NOT NULL
    ) ON COMMIT DROP
"""

_STORED_SQL = text(
    """
    INSERT INTO sc_impact_base (uscc, points, total)
    SELECT uscc, points, total_exact FROM sc_points WHERE period = :period AND run_id = :run
    """
)

# Changed after the ranking's recompute began, on the database's clock on both sides
# (`updated_at` and `published_at` are `now()` of their transactions; a change made in the
# recompute's own transaction, as the demo loads a period, was seen by it). The period before
# counts too: its revenue is this period's growth.
_CHANGED_SQL = text(
    """
    SELECT EXISTS (SELECT 1 FROM sc_indicator i
                   WHERE i.period IN (:period, :period - 1) AND i.updated_at > :since)
        OR EXISTS (SELECT 1 FROM sc_indicator i JOIN sc_enterprise e USING (uscc)
                   WHERE i.period = :period AND e.updated_at > :since)
    """
)

_RANKED_SQL = text(
    """
    CREATE TEMP TABLE sc_impact ON COMMIT DROP AS
    SELECT d.uscc, b.points AS base_points, b.total AS base_total,
           d.points AS draft_points, d.total AS draft_total,
           row_number() OVER (ORDER BY b.points DESC, b.total DESC, d.uscc) AS base_rank,
           row_number() OVER (ORDER BY d.points DESC, d.total DESC, d.uscc) AS draft_rank
    FROM sc_impact_draft d JOIN sc_impact_base b USING (uscc)
    """
)

_SUMMARY_SQL = text(
    """
    SELECT count(*) AS n,
           count(*) FILTER (WHERE base_rank <> draft_rank) AS moved,
           count(*) FILTER (WHERE draft_points > base_points) AS points_up,
           count(*) FILTER (WHERE draft_points < base_points) AS points_down,
           avg(base_points) AS mean_before, avg(draft_points) AS mean_after,
           avg(draft_points - base_points) AS mean_change,
           min(draft_points - base_points) AS min_change,
           max(draft_points - base_points) AS max_change,
           percentile_disc(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP
               (ORDER BY abs(base_rank - draft_rank)) AS rank_quantiles,
           max(abs(base_rank - draft_rank)) AS rank_max
    FROM sc_impact
    """
)

_BUCKETS_SQL = text(
    """
    SELECT CASE WHEN d = 0 THEN 0 WHEN abs(d) <= 10 THEN 1 WHEN abs(d) <= 100 THEN 2
                WHEN abs(d) <= 1000 THEN 3 ELSE 4 END AS bucket,
           count(*) FILTER (WHERE d > 0) AS up, count(*) FILTER (WHERE d < 0) AS down,
           count(*) FILTER (WHERE d = 0) AS same
    FROM (SELECT base_rank - draft_rank AS d FROM sc_impact) moves
    GROUP BY 1
    """
)

_FIRM = """
    SELECT s.uscc, e.name, s.base_rank AS rank_before, s.draft_rank AS rank_after,
           s.base_points AS points_before, s.draft_points AS points_after
    FROM sc_impact s JOIN sc_enterprise e USING (uscc)
"""
_MOVERS_UP_SQL = text(
    _FIRM + " WHERE s.draft_rank < s.base_rank"
    " ORDER BY s.base_rank - s.draft_rank DESC, s.uscc LIMIT :n"
)
_MOVERS_DOWN_SQL = text(
    _FIRM + " WHERE s.draft_rank > s.base_rank"
    " ORDER BY s.draft_rank - s.base_rank DESC, s.uscc LIMIT :n"
)
_ENTERING_SQL = text(
    _FIRM + " WHERE s.draft_rank <= :top AND s.base_rank > :top ORDER BY s.draft_rank"
)
_LEAVING_SQL = text(
    _FIRM + " WHERE s.base_rank <= :top AND s.draft_rank > :top ORDER BY s.base_rank"
)

_GROUPS_SQL = text(
    """
    SELECT dimension, value, count(*) AS count,
           avg(base_points) AS mean_before, avg(draft_points) AS mean_after
    FROM (
        SELECT 'district' AS dimension, e.district AS value, s.base_points, s.draft_points
        FROM sc_impact s JOIN sc_enterprise e USING (uscc)
        UNION ALL
        SELECT 'industry', e.industry_code, s.base_points, s.draft_points
        FROM sc_impact s JOIN sc_enterprise e USING (uscc)
        UNION ALL
        SELECT 'stage', e.stage, s.base_points, s.draft_points
        FROM sc_impact s JOIN sc_enterprise e USING (uscc)
        UNION ALL
        SELECT 'category', c.category, s.base_points, s.draft_points
        FROM sc_impact s JOIN sc_enterprise e USING (uscc),
             unnest(e.categories) AS c(category)
    ) g
    GROUP BY dimension, value
    ORDER BY array_position(ARRAY['district', 'industry', 'stage', 'category'], dimension),
             value
    """
)

_PRODUCT_GROUPS_SQL = text(
    """
    SELECT e.categories, s.base_points, s.draft_points, count(*) AS n
    FROM sc_impact s JOIN sc_enterprise e USING (uscc)
    GROUP BY 1, 2, 3
    """
)

_POINTS_SQL = text("SELECT base_points, draft_points FROM sc_impact")


@dataclass(frozen=True, slots=True)
class Basis:
    """What an impact report compares: `version` against `baseline` on `period`'s facts."""

    period: int
    version: PointsModel
    baseline: PointsModel
    ranking: Ranking | None  # the period's ranking, None when it has none

    @property
    def stored(self) -> bool:
        """Whether the baseline may be the ranking's stored points (its model's)."""
        return self.ranking is not None and self.ranking.model_version == self.baseline.version


def basis(session: Session, version: str, period: int | None, baseline: str | None) -> Basis:
    """Resolve the models and the period: `period` defaults to the latest ranked one, and
    `baseline` to the model of its ranking (`ModelNotFound`, `PointsNotFound`)."""
    draft = get_model(session, version)
    ranking = ranking_of(session, None) if period is None else session.get(Ranking, period)
    if ranking is None and baseline is None:
        ranking_of(session, period)  # 404: the period has no ranking to take a baseline from
    if ranking is None:
        return Basis(cast(int, period), draft, get_model(session, cast(str, baseline)), None)
    base = get_model(session, baseline or ranking.model_version)
    return Basis(ranking.period, draft, base, ranking)


def impact(session: Session, of: Basis, shifts: ProductShifts, on: date) -> dict[str, Any]:
    """The what-if report (`monitoring_schemas.Impact`); products' eligibility on day `on`."""
    source = _stage(session, of)
    session.execute(_RANKED_SQL)
    s = session.execute(_SUMMARY_SQL).one()
    top = {"top": WAIVER_TOP}
    groups = [
        PointsGroup(frozenset(r.categories), r.base_points, r.draft_points, r.n)
        for r in session.execute(_PRODUCT_GROUPS_SQL)
    ]
    points = session.execute(_POINTS_SQL).all()
    stability = psi.compare([r.base_points for r in points], [r.draft_points for r in points])
    quantiles = s.rank_quantiles or [0, 0, 0]
    return {
        "period": of.period,
        "version": of.version.version,
        "version_status": of.version.status,
        "baseline": of.baseline.version,
        "baseline_source": source,
        "ranking_run_id": None if of.ranking is None else of.ranking.run_id,
        "enterprise_count": s.n,
        "rank_changes": {
            "moved": s.moved,
            "unchanged": s.n - s.moved,
            "buckets": _buckets(session),
            "quantiles": dict(zip(("p50", "p90", "p99"), quantiles, strict=True)),
            "max": s.rank_max or 0,
            "largest_up": _firms(session, _MOVERS_UP_SQL, {"n": MOVERS}),
            "largest_down": _firms(session, _MOVERS_DOWN_SQL, {"n": MOVERS}),
        },
        "points_change": {
            "up": s.points_up,
            "down": s.points_down,
            "unchanged": s.n - s.points_up - s.points_down,
            "mean_before": _mean(s.mean_before),
            "mean_after": _mean(s.mean_after),
            "mean_change": _mean(s.mean_change),
            "min_change": s.min_change or 0,
            "max_change": s.max_change or 0,
        },
        "top": {
            "size": WAIVER_TOP,
            "waiver_year": of.period + 1,
            "entering": _firms(session, _ENTERING_SQL, top),
            "leaving": _firms(session, _LEAVING_SQL, top),
        },
        "groups": [
            {
                "dimension": r.dimension,
                "value": r.value,
                "count": r.count,
                "mean_before": _mean(r.mean_before),
                "mean_after": _mean(r.mean_after),
            }
            for r in session.execute(_GROUPS_SQL)
        ],
        "products_on": on,
        "products": [asdict(shift) for shift in shifts(session, on, groups)],
        "psi": asdict(stability),
    }


def _mean(value: Any) -> float:
    return 0.0 if value is None else round(float(value), 2)


def _buckets(session: Session) -> list[dict[str, Any]]:
    counted = {r.bucket: r for r in session.execute(_BUCKETS_SQL)}
    out = []
    for i, (low, high) in enumerate(RANK_BUCKETS):
        row = counted.get(i)
        out.append(
            {
                "from": low,
                "to": high,
                "up": row.up if row else 0,
                "down": row.down if row else 0,
                "unchanged": row.same if row else 0,
            }
        )
    return out


def _firms(session: Session, sql: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in session.execute(sql, params)]


def _stage(session: Session, of: Basis) -> Literal["stored", "computed"]:
    """Score the period into `sc_impact_draft` and `sc_impact_base`; where the baseline came
    from."""
    for name in ("sc_impact_draft", "sc_impact_base"):
        session.execute(text(_STAGE_SQL.format(name=name)))
        session.execute(text(f"TRUNCATE {name}"))
    session.execute(text("DROP TABLE IF EXISTS sc_impact"))
    ranking = of.ranking
    stored = (
        of.stored
        and ranking is not None
        and not session.scalar(_CHANGED_SQL, {"period": of.period, "since": ranking.published_at})
    )
    models = [_compiled(of.version)]
    if not stored and of.baseline.version != of.version.version:
        models.append(_compiled(of.baseline))
    _score(session, of.period, models, copy_base=not stored and len(models) == 1)
    if stored and ranking is not None:
        session.execute(_STORED_SQL, {"period": of.period, "run": ranking.run_id})
    session.execute(text("ANALYZE sc_impact_draft"))
    session.execute(text("ANALYZE sc_impact_base"))
    return "stored" if stored else "computed"


def _compiled(row: PointsModel) -> CompiledModel:
    return CompiledModel(ModelDefinition.model_validate(row.definition))


def _score(
    session: Session, period: int, models: Sequence[CompiledModel], *, copy_base: bool
) -> None:
    """COPY each enterprise's points under `models[0]` into the draft stage and, under
    `models[1]` (or the same ones, `copy_base`), into the base stage."""
    dbapi = cast(psycopg.Connection[Any], session.connection().connection.dbapi_connection)
    targets = ["sc_impact_draft"] + (["sc_impact_base"] if len(models) > 1 or copy_base else [])
    found = False
    for rows in facts.batches(session, period):
        found = True
        scored: list[list[tuple[str, int, Any]]] = [[] for _ in targets]
        for row in rows:
            values, notes = facts.derived(row)
            stage, industry, categories = (
                row[facts.STAGE],
                row[facts.INDUSTRY],
                row[facts.CATEGORIES],
            )
            for i, compiled in enumerate(models):
                result = compiled.score(stage, industry, categories, values, notes)
                if result.total > MAX_TOTAL:
                    raise PointsOutOfRange(
                        f"Model {compiled.model.version} gives {row[facts.USCC]} {result.total} "
                        f"points; at most {MAX_TOTAL} fit."
                    )
                scored[i].append((row[facts.USCC], result.points, result.total))
        if copy_base:
            scored[1] = scored[0]
        for name, batch in zip(targets, scored, strict=True):
            with (
                dbapi.cursor() as cursor,
                cursor.copy(f"COPY {name} (uscc, points, total) FROM STDIN") as copy,
            ):
                for item in batch:
                    copy.write_row(item)
    if not found:
        raise NoIndicators(f"No indicator data for period {period}: load it first")
