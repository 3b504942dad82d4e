"""Scoring domain logic: enterprises, indicators, models, recompute, points, rankings.

Never commits: the caller's transaction (one per request or CLI command) does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

import orjson
import psycopg
import yaml
from pydantic import ValidationError
from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.scoring import pointsmodel
from services.scoring.errors import (
    EnterpriseNotFound,
    InvalidModel,
    ModelExists,
    ModelNotFound,
    ModelNotPublished,
    ModelPublished,
    NoIndicators,
    PointsNotFound,
    PointsOutOfRange,
)
from services.scoring.models import (
    Enterprise,
    IndicatorRow,
    Industry,
    Points,
    PointsModel,
    Ranking,
    RecomputeRun,
)
from services.scoring.pointsmodel import ModelDefinition
from services.scoring.schemas import EnterpriseIn, IndicatorIn
from shared import changefeed, vocab
from shared.errors import UnsupportedMediaType, validation_errors
from shared.money import format_money
from shared.vocab import STAGE_LABELS

MAX_TOTAL = Decimal("9999999999.9999")  # sc_points.total_exact is NUMERIC(14, 4)
_BATCH = 1000
_COMPUTE_BATCH = 5000


@dataclass(frozen=True, slots=True)
class Upserted:
    """Rows created and updated by a bulk upsert."""

    created: int
    updated: int


# ---------------------------------------------------------------- enterprises


def industry_codes(session: Session) -> set[str]:
    """The codes of the managed industry list."""
    return set(session.scalars(select(Industry.code)))


def list_industries(session: Session) -> Sequence[Industry]:
    """The managed industry list in display order."""
    return session.scalars(select(Industry).order_by(Industry.position, Industry.code)).all()


def put_industry(session: Session, code: str, name: str, position: int) -> Industry:
    """Add an industry to the list or rename it (codes are permanent: enterprises use them)."""
    stmt = insert(Industry).values(code=code, name=name, position=position)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Industry.code], set_={"name": name, "position": position}
        )
    )
    return session.scalars(
        select(Industry).where(Industry.code == code).execution_options(populate_existing=True)
    ).one()


def check_enterprises(
    session: Session, rows: Sequence[EnterpriseIn]
) -> dict[int, list[tuple[str, str]]]:
    """Row problems the row model cannot see: unknown industries, duplicate codes."""
    known = industry_codes(session)
    problems: dict[int, list[tuple[str, str]]] = {}
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        if row.industry not in known:
            problems.setdefault(index, []).append(
                (
                    "industry",
                    f"unknown industry {row.industry!r}; known: {', '.join(sorted(known))}",
                )
            )
        if row.uscc in seen:
            problems.setdefault(index, []).append(
                ("uscc", f"duplicate of row {seen[row.uscc] + 1}")
            )
        seen.setdefault(row.uscc, index)
    return problems


def upsert_enterprises(session: Session, rows: Sequence[EnterpriseIn]) -> Upserted:
    """Insert or update enterprises by USCC."""
    created = 0
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
        stmt = insert(Enterprise).values(
            [
                {
                    "uscc": r.uscc,
                    "name": r.name,
                    "district": r.district,
                    "industry_code": r.industry,
                    "stage": r.stage,
                    "categories": list(r.categories),
                    "founded_on": r.founded_on,
                }
                for r in batch
            ]
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=[Enterprise.uscc],
            set_={
                "name": stmt.excluded.name,
                "district": stmt.excluded.district,
                "industry_code": stmt.excluded.industry_code,
                "stage": stmt.excluded.stage,
                "categories": stmt.excluded.categories,
                "founded_on": stmt.excluded.founded_on,
                "updated_at": func.now(),
            },
        ).returning(text("xmax = 0"))
        created += sum(1 for (inserted,) in session.execute(upsert) if inserted)
    return Upserted(created=created, updated=len(rows) - created)


def get_enterprise(session: Session, uscc: str) -> tuple[Enterprise, str]:
    """Return an enterprise and its industry's name, or raise `EnterpriseNotFound`."""
    row = session.execute(
        select(Enterprise, Industry.name)
        .join(Industry, Industry.code == Enterprise.industry_code)
        .where(Enterprise.uscc == uscc)
    ).one_or_none()
    if row is None:
        raise EnterpriseNotFound(f"No enterprise with USCC {uscc} in the points database")
    return row[0], row[1]


# ---------------------------------------------------------------- indicators


def check_indicators(
    session: Session, rows: Sequence[IndicatorIn]
) -> dict[int, list[tuple[str, str]]]:
    """Row problems: enterprises not in the database, duplicate rows."""
    wanted = {r.uscc for r in rows}
    known = set(session.scalars(select(Enterprise.uscc).where(Enterprise.uscc.in_(wanted))))
    problems: dict[int, list[tuple[str, str]]] = {}
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
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
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


# ---------------------------------------------------------------- models


def parse_model(data: Any) -> ModelDefinition:
    """Validate a model definition; problems are `InvalidModel` with every error listed."""
    try:
        return ModelDefinition.model_validate(data)
    except ValidationError as exc:
        raise InvalidModel(
            f"{exc.error_count()} problem(s) in the model definition",
            errors=[
                {**e, "loc": ["body", *e["loc"]]}
                for e in validation_errors(exc.errors(include_input=False))
            ],
        ) from None


YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


def model_from_bytes(body: bytes, media_type: str | None) -> ModelDefinition:
    """Parse a model definition sent as JSON or YAML."""
    media = (media_type or "").split(";")[0].strip().lower()
    if media in YAML_TYPES:
        loader: Any = yaml.safe_load
    elif media == "application/json" or media.endswith("+json"):
        loader = json.loads
    else:
        raise UnsupportedMediaType("Send the model as application/json or application/yaml")
    try:
        data = loader(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise InvalidModel(
            f"The model is not valid JSON/YAML: {exc}", errors=[{"loc": ["body"], "msg": str(exc)}]
        ) from None
    return parse_model(data)


def create_draft(session: Session, definition: ModelDefinition) -> PointsModel:
    """Store a new draft model version."""
    if session.get(PointsModel, definition.version) is not None:
        raise ModelExists(f"Model version {definition.version} already exists")
    model = PointsModel(
        version=definition.version, status="draft", definition=definition.model_dump(mode="json")
    )
    session.add(model)
    session.flush()
    session.refresh(model)
    return model


def replace_draft(session: Session, version: str, definition: ModelDefinition) -> PointsModel:
    """Replace a draft's definition (a published version cannot change)."""
    if definition.version != version:
        raise InvalidModel(
            "The body's version must equal the path's version",
            errors=[{"loc": ["body", "version"], "msg": "does not match the path"}],
        )
    model = get_model(session, version, for_update=True)
    if model.status == "published":
        raise ModelPublished(f"Model {version} is published; create a new version instead")
    model.definition = definition.model_dump(mode="json")
    session.flush()
    return model


def publish_model(session: Session, version: str) -> PointsModel:
    """Publish a draft: from now on it is immutable and may compute points."""
    model = get_model(session, version, for_update=True)
    if model.status == "published":
        raise ModelPublished(f"Model {version} is already published")
    model.status = "published"
    model.published_at = datetime.now(UTC)
    session.flush()
    return model


def get_model(session: Session, version: str, *, for_update: bool = False) -> PointsModel:
    """Return a model version or raise `ModelNotFound`."""
    stmt = select(PointsModel).where(PointsModel.version == version)
    if for_update:
        stmt = stmt.with_for_update()
    model = session.scalars(stmt).one_or_none()
    if model is None:
        raise ModelNotFound(f"No points model {version!r}")
    return model


def list_models(session: Session) -> Sequence[PointsModel]:
    """Every model version, newest first."""
    return session.scalars(
        select(PointsModel).order_by(PointsModel.created_at.desc(), PointsModel.version)
    ).all()


def latest_published(session: Session) -> PointsModel:
    """The most recently published model version."""
    model = session.scalars(
        select(PointsModel)
        .where(PointsModel.status == "published")
        .order_by(PointsModel.published_at.desc(), PointsModel.version.desc())
        .limit(1)
    ).first()
    if model is None:
        raise ModelNotFound("No published points model")
    return model


# ---------------------------------------------------------------- recompute


_FACTS_SQL = text(
    """
    SELECT i.uscc, e.stage, e.industry_code, e.categories,
           i.invention_patents, i.utility_models, i.software_copyrights, i.rd_expense,
           i.revenue, i.rd_staff, i.total_staff, i.equity_financing, i.awards_provincial,
           i.awards_national, i.jbgs_funds_paid, prev.revenue AS previous_revenue
    FROM sc_indicator i
    JOIN sc_enterprise e ON e.uscc = i.uscc
    LEFT JOIN sc_indicator prev ON prev.uscc = i.uscc AND prev.period = i.period - 1
    WHERE i.period = :period AND i.uscc > :after
    ORDER BY i.uscc
    LIMIT :batch
    """
)

# Points are computed into an unlogged, index-free staging table, then written to sc_points
# once, ranked on the way: no second write of every row to set its rank.
_STAGE_SQL = text(
    """
    CREATE TEMP TABLE IF NOT EXISTS sc_points_stage (
        uscc varchar(18) NOT NULL, points integer NOT NULL, total_exact numeric(14, 4) NOT NULL,
        breakdown jsonb NOT NULL
    ) ON COMMIT DROP
    """
)

_RANKED_INSERT_SQL = text(
    """
    INSERT INTO sc_points (period, model_version, uscc, points, total_exact, rank, rank_total,
                           below, breakdown, run_id, computed_at)
    SELECT :period, :model, uscc, points, total_exact,
           row_number() OVER (ORDER BY points DESC, total_exact DESC, uscc),
           count(*) OVER (),
           rank() OVER (ORDER BY points) - 1,
           breakdown, :run_id, :computed_at
    FROM sc_points_stage
    """
)


def facts_of(row: Any) -> pointsmodel.Facts:
    """Turn one row of indicators + enterprise attributes into the model's facts."""
    raw = {name: _decimal(getattr(row, name)) for name in vocab.RAW_INDICATORS}
    previous = row.previous_revenue
    values, notes = pointsmodel.derive(raw, None if previous is None else Decimal(previous))
    return pointsmodel.Facts(
        stage=row.stage,
        industry=row.industry_code,
        categories=frozenset(row.categories),
        values=values,
        notes=notes,
    )


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def breakdown_json(items: Sequence[pointsmodel.Item]) -> list[dict[str, str | None]]:
    """The stored form of a breakdown: strings, derived ratios to 6 decimals."""
    return [
        {
            "indicator": i.indicator,
            "value": None if i.value is None else _show(i.indicator, i.value),
            "points": f"{i.points}",
            "cap": f"{i.cap}",
            "note": i.note,
        }
        for i in items
    ]


def _show(indicator: str, value: Decimal) -> str:
    # Money as yuan with two decimals, counts as integers, derived ratios to 6 decimals.
    if indicator in MONEY_FACTS:
        return format_money(value)
    return format(value.quantize(Decimal("0.000001")).normalize(), "f")


def recompute(
    session: Session, period: int, *, model_version: str | None, requested_by: str | None
) -> RecomputeRun:
    """Compute every enterprise's points for `period` in one pass and make them the ranking.

    Atomic: the period's points under this model are replaced inside the caller's transaction,
    so a failure anywhere leaves the previous points. Serialised per period by an advisory lock.
    """
    started = datetime.now(UTC)
    clock = time.perf_counter()
    model_row = get_model(session, model_version) if model_version else latest_published(session)
    if model_row.status != "published":
        raise ModelNotPublished(f"Model {model_row.version} is a draft; publish it first")
    model = ModelDefinition.model_validate(model_row.definition)
    # A recompute is an operator's long job (about 35 s at 200,000 enterprises, most of it in
    # one COPY): the server's per-statement and lock-wait limits, meant for requests, do not
    # apply to it, and a second recompute of the period waits for the first instead of
    # failing at the lock timeout. SET LOCAL: only for this transaction.
    session.execute(text("SET LOCAL statement_timeout = 0"))
    session.execute(text("SET LOCAL lock_timeout = 0"))
    session.execute(text("SELECT pg_advisory_xact_lock(7263002, :period)"), {"period": period})
    run = RecomputeRun(
        period=period,
        model_version=model.version,
        requested_by=requested_by,
        started_at=started,
        finished_at=started,
        duration_ms=0,
        enterprise_count=0,
    )
    session.add(run)
    session.flush()
    session.execute(
        delete(Points).where(Points.period == period, Points.model_version == model.version)
    )
    session.execute(_STAGE_SQL)
    session.execute(text("TRUNCATE sc_points_stage"))
    usccs = _stage_points(session, period, model)
    if not usccs:
        raise NoIndicators(f"No indicator data for period {period}: load it first")
    session.execute(
        _RANKED_INSERT_SQL,
        {"period": period, "model": model.version, "run_id": run.id, "computed_at": started},
    )
    count = len(usccs)
    # Tell the credit-firm export, in this same transaction, whose features changed.
    changefeed.points_changed(session, usccs)
    ranking = insert(Ranking).values(
        period=period, model_version=model.version, run_id=run.id, published_at=func.now()
    )
    session.execute(
        ranking.on_conflict_do_update(
            index_elements=[Ranking.period],
            set_={"model_version": model.version, "run_id": run.id, "published_at": func.now()},
        )
    )
    run.enterprise_count = count
    run.finished_at = datetime.now(UTC)
    run.duration_ms = int((time.perf_counter() - clock) * 1000)
    session.flush()
    return run


def _stage_points(session: Session, period: int, model: ModelDefinition) -> list[str]:
    """Read facts a batch at a time, compute each enterprise, COPY the batch into the stage.

    Batches (keyset on USCC) keep memory flat whatever the period's size; reads and COPYs
    alternate on the transaction's one connection. Returns the USCCs computed.
    """
    connection = session.connection()
    dbapi = cast(psycopg.Connection[Any], connection.connection.dbapi_connection)
    usccs: list[str] = []
    after = ""
    while True:
        rows = connection.execute(
            _FACTS_SQL, {"period": period, "after": after, "batch": _COMPUTE_BATCH}
        ).all()
        if not rows:
            return usccs
        with (
            dbapi.cursor() as cursor,
            cursor.copy(
                "COPY sc_points_stage (uscc, points, total_exact, breakdown) FROM STDIN"
            ) as copy,
        ):
            for row in rows:
                result = pointsmodel.compute(model, facts_of(row))
                if result.total > MAX_TOTAL:
                    raise PointsOutOfRange(
                        f"Model {model.version} gives {row.uscc} {result.total} points; at "
                        f"most {MAX_TOTAL} fit. Nothing was changed."
                    )
                copy.write_row(
                    (
                        row.uscc,
                        result.points,
                        result.total,
                        orjson.dumps(breakdown_json(result.items)).decode(),
                    )
                )
                usccs.append(row.uscc)
        after = rows[-1].uscc


def list_runs(session: Session, *, period: int | None, limit: int) -> Sequence[RecomputeRun]:
    """Recent recompute runs, newest first."""
    stmt = select(RecomputeRun).order_by(RecomputeRun.id.desc()).limit(limit)
    if period is not None:
        stmt = stmt.where(RecomputeRun.period == period)
    return session.scalars(stmt).all()


# ---------------------------------------------------------------- points and rankings


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
    """An enterprise's points in a period's ranking."""
    get_enterprise(session, uscc)
    ranking = ranking_of(session, period)
    row = session.get(Points, (ranking.period, ranking.model_version, uscc))
    if row is None:
        raise PointsNotFound(
            f"{uscc} has no points for period {ranking.period}: it had no indicator data "
            "when the period was last computed"
        )
    return row, ranking


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


_RANKING_SQL = """
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


def ranking_rows(
    session: Session, ranking: Ranking, where: RankingFilter, *, after: int, limit: int
) -> list[Any]:
    """Up to `limit + 1` ranking rows after rank `after`, ranked within the filter."""
    filters = []
    params: dict[str, Any] = {
        "period": ranking.period,
        "model": ranking.model_version,
        "after": after,
        "limit": limit + 1,
    }
    if where.district:
        filters.append("AND e.district = :district")
        params["district"] = where.district
    if where.industry:
        filters.append("AND e.industry_code = :industry")
        params["industry"] = where.industry
    if where.category:
        filters.append("AND e.categories @> ARRAY[CAST(:category AS varchar)]")
        params["category"] = where.category
    if not where.active:
        # The stored overall rank is the ranking: read it straight off the index.
        sql = """
            SELECT p.uscc, e.name, e.district, e.industry_code, e.stage, e.categories,
                   p.points, p.total_exact, p.rank AS overall_rank, p.rank, p.rank_total,
                   p.below
            FROM sc_points p JOIN sc_enterprise e ON e.uscc = p.uscc
            WHERE p.period = :period AND p.model_version = :model AND p.rank > :after
            ORDER BY p.rank LIMIT :limit
        """
        return list(session.execute(text(sql), params))
    sql = _RANKING_SQL.format(filters=" ".join(filters))  # fixed fragments, values bound
    return list(session.execute(text(sql), params))


def distribution(session: Session, ranking: Ranking, bins: int) -> dict[str, Any]:
    """Histogram (equal-width bins from min to max) and quantiles of a period's points."""
    params = {"period": ranking.period, "model": ranking.model_version}
    stats = session.execute(
        text(
            """
        SELECT count(*) AS n, min(points) AS lo, max(points) AS hi, avg(points) AS mean,
               percentile_cont(ARRAY[0.1, 0.25, 0.5, 0.75, 0.9, 0.99])
                   WITHIN GROUP (ORDER BY points) AS q
        FROM sc_points WHERE period = :period AND model_version = :model
        """
        ),
        params,
    ).one()
    lo, hi = int(stats.lo), int(stats.hi)
    width = Decimal(max(hi - lo, 1)) / bins
    counts: dict[int, int] = dict(
        session.execute(
            text(
                """
        SELECT LEAST(width_bucket(points, :lo, :hi_open, :bins), :bins) AS b, count(*)
        FROM sc_points WHERE period = :period AND model_version = :model GROUP BY b
        """
            ),
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
    names = ("p10", "p25", "p50", "p75", "p90", "p99")
    return {
        "period": ranking.period,
        "model_version": ranking.model_version,
        "count": stats.n,
        "min": lo,
        "max": hi,
        "mean": round(float(stats.mean), 2),
        "quantiles": {name: round(float(v), 2) for name, v in zip(names, stats.q, strict=True)},
        "histogram": histogram,
    }


MONEY_FACTS = frozenset({"rd_expense", "revenue", "equity_financing", "jbgs_funds_paid"})


def diagnosis_facts(
    session: Session, enterprise: Enterprise, points: Points, ranking: Ranking
) -> dict[str, Any]:
    """Everything a diagnosis rule may test about an enterprise in a period."""
    current = session.get(IndicatorRow, (enterprise.uscc, ranking.period))
    previous = session.get(IndicatorRow, (enterprise.uscc, ranking.period - 1))
    raw: dict[str, Decimal | None] = {
        name: (None if current is None else Decimal(getattr(current, name)))
        for name in vocab.RAW_INDICATORS
    }
    values, _ = pointsmodel.derive(raw, None if previous is None else previous.revenue)
    return {
        **values,
        "uscc": enterprise.uscc,
        "points": points.points,
        "rank": points.rank,
        "rank_total": points.rank_total,
        "period": ranking.period,
        "next_year": ranking.period + 1,
        "stage": enterprise.stage,
        "stage_label": STAGE_LABELS[enterprise.stage],
        "industry": enterprise.industry_code,
        "district": enterprise.district,
        "categories": list(enterprise.categories),
    }
