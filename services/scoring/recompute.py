"""The recompute pipeline: a period's points for every enterprise in one pass, made the
period's ranking atomically, and the history of those runs.

Facts are read a batch at a time, computed in Python by the model compiled for the run
(`compiled_model`: the same bytes as `pointsmodel.compute`, the exact Decimal reference),
COPYed into an unlogged stage and written to `sc_points` once, ranked on the way, under the
run's id: earlier runs' points stay (a past ranking is answered again with them, `?as_of=`).
Never commits: the caller's transaction does, so a failure anywhere leaves the previous ranking.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

import psycopg
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.scoring import facts, pointsmodel
from services.scoring.compiled_model import CompiledModel
from services.scoring.errors import ModelNotPublished, NoIndicators, PointsOutOfRange
from services.scoring.model_versions import get_model, latest_published
from services.scoring.models import Ranking, RecomputeRun
from services.scoring.pointsmodel import ModelDefinition
from shared import changefeed, clock, vocab

MAX_TOTAL = Decimal("9999999999.9999")  # sc_points.total_exact is NUMERIC(14, 4)
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
    SELECT :period, :model, s.uscc, s.points, s.total_exact, r.rank, r.rank_total, r.below,
           s.breakdown, :run_id, :computed_at
    FROM sc_points_stage s
    JOIN (SELECT uscc,
                 row_number() OVER (ORDER BY points DESC, total_exact DESC, uscc) AS rank,
                 count(*) OVER () AS rank_total,
                 rank() OVER (ORDER BY points) - 1 AS below
          FROM sc_points_stage) r USING (uscc)
    """
)
# The ranks are computed on the narrow columns and joined back to the breakdowns: sorting
# the whole rows (about 1.5 kB of JSON each) spilled hundreds of megabytes to disk twice.


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


def recompute(
    session: Session, period: int, *, model_version: str | None, requested_by: str | None
) -> RecomputeRun:
    """Compute every enterprise's points for `period` in one pass and make them the ranking.

    Atomic: the new run's points become the period's ranking inside the caller's transaction,
    so a failure anywhere leaves the previous ranking; earlier runs' points are kept.
    Serialised per period by an advisory lock, so a period's runs commit in id order.
    """
    started = clock.now()
    timer = time.perf_counter()
    model_row = get_model(session, model_version) if model_version else latest_published(session)
    if model_row.status != "published":
        raise ModelNotPublished(f"Model {model_row.version} is a draft; publish it first")
    model = ModelDefinition.model_validate(model_row.definition)
    # A recompute is an operator's long job (minutes at national scale: README, "National
    # scale"): the server's per-statement and lock-wait limits, meant for requests, do not
    # apply to it, and a second recompute of the period waits for the first instead of
    # failing at the lock timeout. SET LOCAL: only for this transaction.
    session.execute(text("SET LOCAL statement_timeout = 0"))
    session.execute(text("SET LOCAL lock_timeout = 0"))
    # Its sorts (the ranks over every firm's points) in memory, not spilled to disk: 500,000
    # narrow rows need about 40 MB; the server's default is 4 MB.
    session.execute(text("SET LOCAL work_mem = '64MB'"))
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
    session.execute(_STAGE_SQL)
    session.execute(text("TRUNCATE sc_points_stage"))
    usccs = _stage_points(session, period, model)
    if not usccs:
        raise NoIndicators(f"No indicator data for period {period}: load it first")
    session.execute(
        _RANKED_INSERT_SQL,
        {"period": period, "model": model.version, "run_id": run.id, "computed_at": started},
    )
    # The planner's statistics of sc_points, in this transaction: a new period's rows would
    # otherwise be unknown to it until autovacuum's next analyze, and meanwhile it planned a
    # points lookup (both key columns given) as a scan of the run's rank index, every row of
    # the run filtered by USCC — 7 ms at 8,000 firms, the 500,000-firm lookups saturated a
    # process at 170 a second (README, "National scale"). Only the columns queries filter or
    # order by: the breakdown JSON is what makes the table wide, and its statistics help no
    # plan (the row count is updated either way).
    session.execute(text("ANALYZE sc_points (run_id, period, uscc, rank, points)"))
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
    run.finished_at = clock.now()
    run.duration_ms = int((time.perf_counter() - timer) * 1000)
    session.flush()
    return run


def _stage_points(session: Session, period: int, model: ModelDefinition) -> list[str]:
    """Read facts a batch at a time, compute each enterprise, COPY the batch into the stage.

    Batches (keyset on USCC) keep memory flat whatever the period's size; reads and COPYs
    alternate on the transaction's one connection. Returns the USCCs computed.
    """
    connection = session.connection()
    dbapi = cast(psycopg.Connection[Any], connection.connection.dbapi_connection)
    compiled = CompiledModel(model)
    usccs: list[str] = []
    for rows in facts.batches(session, period):
        with (
            dbapi.cursor() as cursor,
            cursor.copy(
                "COPY sc_points_stage (uscc, points, total_exact, breakdown) FROM STDIN"
            ) as copy,
        ):
            for row in rows:
                values, notes = facts.derived(row)
                result = compiled.score(
                    row[facts.STAGE], row[facts.INDUSTRY], row[facts.CATEGORIES], values, notes
                )
                if result.total > MAX_TOTAL:
                    raise PointsOutOfRange(
                        f"Model {model.version} gives {row[0]} {result.total} points; at "
                        f"most {MAX_TOTAL} fit. Nothing was changed."
                    )
                copy.write_row((row[0], result.points, result.total, result.breakdown.decode()))
                usccs.append(row[0])
    return usccs


def list_runs(
    session: Session, *, period: int | None, after: int | None = None, limit: int
) -> Sequence[RecomputeRun]:
    """Up to `limit + 1` recompute runs, newest first, before run id `after`."""
    stmt = select(RecomputeRun).order_by(RecomputeRun.id.desc()).limit(limit + 1)
    if period is not None:
        stmt = stmt.where(RecomputeRun.period == period)
    if after is not None:
        stmt = stmt.where(RecomputeRun.id < after)
    return session.scalars(stmt).all()
