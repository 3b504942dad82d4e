"""What webhooks cost and how fast they go (issue 17, design §12), each figure against a
baseline measured in the same run.

(a) Outbox cost: `POST /v1/loans/applications` (bench.loans' world and closed loop, the
    gateway in its own process) with no endpoint, then with one all-events endpoint per bank
    (worker off: nothing is sent), in interleaved rounds → latency, the server's CPU ms and
    SQL statements per submission, and the ratios with/without.
(b) Throughput: N pending deliveries (applications × 100 events, 5 endpoints: one per bank,
    written straight into the outbox), drained by `innocredit worker --drain` processes,
    1 then 2 at once, to an aiohttp receiver answering 204 (every 100th signature verified
    with standardwebhooks) → deliveries/s from the first arrival to the last.
(c) Commit → delivery: a steady stream of submissions and decisions (`--writers`
    connections, `--rate` writes/s in all) with one `innocredit worker` running, at the
    default poll of 0.5 s and then at 0.1 s (`--polls`) → the receiver's arrival time minus
    the time the 201/200 answer of the write that caused the event came back (one clock: the
    same process), p50/p99.

Checks (exit status 1 when one fails): every submission answered 201 and every write was
delivered exactly once, with a valid signature where checked.

Database: `DATABASE_URL` if set (a scratch database on that server, dropped at the end),
otherwise a throwaway embedded PostgreSQL.

    .venv/bin/python -m bench.webhooks [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import Engine
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from bench import loans
from bench._common import ROOT, free_port, percentile, table
from bench.gateway import make_settings
from bench.national import machine
from services.loans.webhooks.models import Subscription
from services.loans.webhooks.payloads import SUBSCRIBABLE
from services.loans.webhooks.secrets import new_secret, seal, shown
from shared import migrate
from shared.crypto import KeyEncryptor
from shared.db import make_engine, make_sessionmaker

WORKER = [sys.executable, "-c", "from services.cli import main; main()", "worker"]
TYPES = ("application.decided", "application.repayment_status_changed")


class Receiver:
    """An aiohttp endpoint answering 204; logs (arrival, webhook-id, type, application)."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets  # path → whsec_ secret
        self.arrivals: list[tuple[float, str, str, str | None]] = []
        self.checked = 0
        self.invalid = 0
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        at = time.perf_counter()
        msg_id = request.headers["webhook-id"]
        event = json.loads(body)
        app = ((event.get("data") or {}).get("application") or {}).get("id")
        if len(self.arrivals) % 100 == 0:
            self.checked += 1
            headers = {k.lower(): v for k, v in request.headers.items()}
            try:
                Webhook(self.secrets[request.match_info["path"]]).verify(body, headers)
            except WebhookVerificationError:
                self.invalid += 1
        self.arrivals.append((at, msg_id, event["type"], app))
        return web.Response(status=204)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{path}", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@dataclass
class Report:
    """Figures (label, value, unit, note) and checks (ok, message)."""

    rows: list[list[str]] = field(default_factory=list)
    checks: list[tuple[bool, str]] = field(default_factory=list)

    def add(self, label: str, value: str, note: str = "") -> None:
        self.rows.append([label, value, note])
        print(f"  {label}: {value} {note}", flush=True)


def subscribe(engine: Engine, owner: str, url: str, events: list[str]) -> str:
    """An enabled endpoint of `owner` written straight into the table; its secret."""
    raw = new_secret()
    with make_sessionmaker(engine).begin() as session:
        session.add(
            Subscription(
                owner=owner,
                name=f"bench-{uuid.uuid4().hex[:10]}",
                url=url,
                events=events,
                secret_sealed=seal(KeyEncryptor(make_settings("").key_encryption_key), raw),
                created_by="bench",
            )
        )
    return shown(raw)


def sql(engine: Engine, *statements: str) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def worker_env(url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "INNOCREDIT_KEY_ENCRYPTION_KEY": make_settings("").key_encryption_key,
        "INNOCREDIT_WEBHOOK_ALLOW_LOOPBACK": "true",
        "INNOCREDIT_LOG_LEVEL": "WARNING",
        **extra,
    }


# ---------------------------------------------------------------- (a) outbox cost

_ENABLED = "UPDATE loan_webhook_subscription SET enabled = true, disabled_at = NULL"
_DISABLED = "UPDATE loan_webhook_subscription SET enabled = false, disabled_at = now()"


def outbox_cost(
    port: int, world: loans.World, engine: Engine, args: argparse.Namespace, report: Report
) -> None:
    """Part (a): interleaved rounds without and with an endpoint per bank."""
    print("== (a) outbox cost per submission", flush=True)
    closed = argparse.Namespace(
        submit_requests=args.submissions,
        whoami_requests=0,
        warmup=40,
        concurrency=args.concurrency,
    )
    runs: dict[bool, list[loans.Run]] = {False: [], True: []}
    for code, _ in loans.BANKS:
        subscribe(engine, code, f"https://{code.lower()}.example/hooks", [*SUBSCRIBABLE])
    endpoint = loans.submit_endpoint(port, world, args.seed)
    for round_no in range(1, args.rounds + 1):
        for subscribed in (False, True) if round_no % 2 else (True, False):
            sql(engine, _ENABLED if subscribed else _DISABLED)
            run = asyncio.run(loans.measure(port, endpoint, round_no, closed))
            runs[subscribed].append(run)
            print(
                f"  round {round_no} {'with' if subscribed else 'without':<7} "
                f"{run.rps:6.0f}/s p50 {run.ms(0.5):6.1f} ms  cpu {run.cpu_ms:5.2f} ms "
                f"SQL {run.sql:5.2f}",
                flush=True,
            )
    events = loans.scalar(engine, "SELECT count(*) FROM loan_webhook_event")
    wanted = sum(r.requests + r.warmed for r in runs[True])
    report.checks.append((events == wanted, f"(a) {events} events for {wanted} submissions"))
    for r in runs[False] + runs[True]:
        report.checks.append((r.statuses[201] == r.requests, f"(a) round {r.round}: all 201"))
    figures = {
        k: (
            statistics.median(r.ms(0.5) for r in v),
            statistics.median(r.cpu_ms for r in v),
            statistics.median(r.sql for r in v),
            statistics.median(r.rps for r in v),
        )
        for k, v in runs.items()
    }
    (p0, c0, s0, r0), (p1, c1, s1, r1) = figures[False], figures[True]
    note = f"(median of {args.rounds} rounds of {args.submissions}, {args.concurrency} connections)"
    report.add("(a) submissions/s without → with", f"{r0:.0f} → {r1:.0f}", f"× {r1 / r0:.2f}")
    report.add("(a) p50 ms without → with", f"{p0:.1f} → {p1:.1f}", f"× {p1 / p0:.2f} {note}")
    report.add("(a) server CPU ms/submission", f"{c0:.2f} → {c1:.2f}", f"× {c1 / c0:.2f}")
    report.add("(a) SQL statements/submission", f"{s0:.2f} → {s1:.2f}", f"+{s1 - s0:.2f}")
    sql(engine, "DELETE FROM loan_webhook_subscription", "DELETE FROM loan_webhook_event")


# ---------------------------------------------------------------- (b) throughput

_EVENTS = """
INSERT INTO loan_webhook_event (id, type, version, bank_code, ordering_key, occurred_at, body)
SELECT gen_random_uuid(), (CAST(:types AS text[]))[1 + j % 2], 1,
       (CAST(:banks AS text[]))[1 + a % 5], 'app:' || md5('bench' || a)::uuid, now(), :body
FROM generate_series(1, :events) j, generate_series(0, :apps - 1) a ORDER BY j, a
"""
_DELIVERIES = """
INSERT INTO loan_webhook_delivery (event_id, event_bank, event_type, event_seq, ordering_key,
    subscription_id, owner, next_attempt_at, give_up_at)
SELECT e.id, e.bank_code, e.type, e.seq, e.ordering_key, s.id, s.owner, now(),
       now() + interval '72 hours'
FROM loan_webhook_event e JOIN loan_webhook_subscription s ON s.owner = e.bank_code
"""
_RESET = (
    "DELETE FROM loan_webhook_attempt",
    "UPDATE loan_webhook_delivery SET state = 'pending', attempts = 0, next_attempt_at = now(), "
    "lease_until = NULL, lease_token = NULL, leased_by = NULL, last_status = NULL, "
    "last_error = NULL, delivered_at = NULL",
    "UPDATE loan_webhook_subscription SET last_success_at = NULL, failing_since = NULL",
)


def _body() -> str:
    """About 1.5 kB, as a decision's envelope is."""
    filler = {"application": {f"field_{i:02d}": "x" * 40 for i in range(24)}, "change": None}
    return json.dumps({"type": TYPES[0], "version": 1, "data": filler}, separators=(",", ":"))


async def _drain(url: str, processes: int, receiver: Receiver, total: int) -> tuple[float, float]:
    """Run `processes` workers with --drain until all exit; (wall s, first→last arrival s)."""
    receiver.arrivals.clear()
    started = time.perf_counter()
    workers = [
        await asyncio.create_subprocess_exec(
            *WORKER, "--drain", "--port", str(free_port()), cwd=ROOT, env=worker_env(url)
        )
        for _ in range(processes)
    ]
    codes = [await w.wait() for w in workers]
    wall = time.perf_counter() - started
    if any(codes):
        raise RuntimeError(f"a worker exited with {codes}")
    times = sorted(a[0] for a in receiver.arrivals)
    return wall, (times[-1] - times[0]) if len(times) > 1 else float("nan")


def throughput(url: str, engine: Engine, args: argparse.Namespace, report: Report) -> None:
    """Part (b): the same backlog drained by one worker, then by two."""
    apps = args.deliveries // 100
    print(f"== (b) throughput: {apps} applications × 100 events, 5 endpoints", flush=True)
    secrets: dict[str, str] = {}

    async def go() -> None:
        async with Receiver(secrets) as receiver:
            for code, _ in loans.BANKS:
                path = code.lower()
                secrets[path] = subscribe(engine, code, receiver.url(path), [*TYPES])
            banks = "{" + ",".join(c for c, _ in loans.BANKS) + "}"
            with engine.begin() as c:
                params = {"types": "{" + ",".join(TYPES) + "}", "banks": banks, "body": _body()}
                c.execute(text(_EVENTS), {**params, "events": 100, "apps": apps})
                c.execute(text(_DELIVERIES))
            total = int(loans.scalar(engine, "SELECT count(*) FROM loan_webhook_delivery"))
            loans.autocommit(engine, "VACUUM ANALYZE")
            for processes in (1, 2):
                sql(engine, *_RESET)
                wall, span = await _drain(url, processes, receiver, total)
                ids = {a[1] for a in receiver.arrivals}
                report.checks.append(
                    (
                        len(ids) == len(receiver.arrivals) == total,
                        f"(b) × {processes}: {len(receiver.arrivals)} arrivals, {len(ids)} ids "
                        f"of {total} deliveries",
                    )
                )
                report.add(
                    f"(b) deliveries/s, {processes} worker(s)",
                    f"{total / span:,.0f}",
                    f"({total:,} in {span:.1f} s first→last; {wall:.1f} s with start-up)",
                )
            report.checks.append(
                (
                    receiver.invalid == 0,
                    f"(b) {receiver.checked} signatures checked, {receiver.invalid} invalid",
                )
            )

    asyncio.run(go())
    sql(engine, "DELETE FROM loan_webhook_subscription", "DELETE FROM loan_webhook_event")


# ---------------------------------------------------------------- (c) commit → delivery


async def _ready(url: str, timeout: float = 120.0) -> None:
    """Wait until the worker's /readyz answers 200 (it has run a claim cycle)."""
    deadline = time.perf_counter() + timeout
    async with aiohttp.ClientSession() as http:
        while time.perf_counter() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as answer:
                    if answer.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the worker was not ready at {url} within {timeout:.0f} s")


async def _writes(port: int, world: loans.World, args: argparse.Namespace) -> dict[Any, float]:
    """Submit and decide at `args.rate` writes/s from `args.writers` connections for
    `args.seconds`; when each answer came back, by (application id, event type)."""
    answered: dict[tuple[str, str], float] = {}
    submit = loans.submit_endpoint(port, world, args.seed + 1)
    interval = args.writers / args.rate
    stop_at = time.perf_counter() + args.seconds

    async def writer(n: int) -> None:
        conn = await loans.Connection.open(port)
        await asyncio.sleep(interval * n / args.writers)
        try:
            while time.perf_counter() < stop_at:
                request, _ = submit.build()
                status, body = await conn.send(request)
                answered_at = time.perf_counter()
                if status != 201:
                    raise RuntimeError(f"submit: {status} {body[:200]!r}")
                app = json.loads(body)["id"]
                answered[(app, "application.submitted")] = answered_at
                await asyncio.sleep(max(0.0, interval - (time.perf_counter() - answered_at)))
                decision = json.dumps({"outcome": "rejected", "reason_codes": ["risk"]})
                headers = {
                    "Authorization": f"Bearer {world.token}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": uuid.uuid4().hex,
                }
                path = f"{loans.SUBMIT}/{app}/decision"
                sent = loans.http_request("POST", path, port, headers, decision.encode())
                status, body = await conn.send(sent)
                if status != 200:
                    raise RuntimeError(f"decide: {status} {body[:200]!r}")
                answered[(app, "application.decided")] = time.perf_counter()
                await asyncio.sleep(interval)
        finally:
            conn.close()

    await asyncio.gather(*(writer(n) for n in range(args.writers)))
    return answered


def latency(
    url: str,
    port: int,
    world: loans.World,
    engine: Engine,
    args: argparse.Namespace,
    report: Report,
) -> None:
    """Part (c): writes at a steady rate, one worker running; arrival − answer."""
    secrets: dict[str, str] = {}

    async def go(poll: float) -> None:
        print(f"== (c) commit → delivery, {args.rate} writes/s for {args.seconds} s, poll {poll} s")
        async with Receiver(secrets) as receiver:
            events = ["application.submitted", "application.decided"]
            secrets["tzb"] = subscribe(engine, loans.SUBMITTING_BANK, receiver.url("tzb"), events)
            health = free_port()
            worker = await asyncio.create_subprocess_exec(
                *WORKER,
                "--port",
                str(health),
                cwd=ROOT,
                env=worker_env(url, INNOCREDIT_WEBHOOK_POLL_SECONDS=str(poll)),
            )
            try:
                await _ready(f"http://127.0.0.1:{health}/readyz")  # start-up, not measured
                answered = await _writes(port, world, args)
                deadline = time.perf_counter() + 30
                while len(receiver.arrivals) < len(answered) and time.perf_counter() < deadline:
                    await asyncio.sleep(0.1)
            finally:
                worker.send_signal(signal.SIGTERM)
                await worker.wait()
            seen = {(a[3], a[2]): a[0] for a in receiver.arrivals}
            lags = sorted(seen[k] - t for k, t in answered.items() if k in seen)
            report.checks.append(
                (
                    len(lags) == len(answered) == len(receiver.arrivals),
                    f"(c) poll {poll} s: {len(receiver.arrivals)} arrivals, {len(answered)} writes",
                )
            )
            if lags:
                report.add(
                    f"(c) commit → delivery p50 / p99 / max, poll {poll} s",
                    f"{percentile(lags, 0.5) * 1000:.0f} / {percentile(lags, 0.99) * 1000:.0f} / "
                    f"{lags[-1] * 1000:.0f} ms",
                    f"({len(lags)} events, {args.writers} writers)",
                )

    for poll in args.polls:
        asyncio.run(go(poll))
        sql(engine, "DELETE FROM loan_webhook_subscription")


def run(args: argparse.Namespace) -> int:
    """Set up one world, measure (a), (b), (c) on it; print the figures and the checks."""
    print(machine("start"), flush=True)
    report = Report()
    with loans.database() as (url, origin):
        print(f"database: {origin}", flush=True)
        migrate.upgrade(url, "head")
        engine = make_engine(url)
        try:
            with loans.gateway_server(url) as (base, port):
                world = loans.set_up_world(base, engine, args.enterprises, args.seed)
                print(f"world: {args.enterprises:,} enterprises set up in {world.seconds:.1f} s")
                if "a" in args.parts:
                    outbox_cost(port, world, engine, args, report)
                if "b" in args.parts:
                    throughput(url, engine, args, report)
                if "c" in args.parts:
                    latency(url, port, world, engine, args, report)
        finally:
            engine.dispose()
    print(machine("end"))
    print(table(["measurement", "figure", "note"], report.rows))
    failed = [message for ok, message in report.checks if not ok]
    print(f"checks: {len(report.checks) - len(failed)} passed, {len(failed)} FAILED")
    for message in failed:
        print(f"  [FAIL] {message}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes (a minute or two)")
    parser.add_argument("--parts", default="abc", help="which of (a), (b), (c) to run")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument(
        "--polls", default="0.5,0.1", help="(c): the worker's poll intervals to compare, s"
    )
    args = parser.parse_args(argv)
    args.polls = [float(p) for p in args.polls.split(",")]
    quick = args.quick
    args.enterprises = 300 if quick else 1000
    args.submissions = 100 if quick else 400
    args.deliveries = 2_000 if quick else 20_000
    args.rate, args.writers = (10.0, 4) if quick else (20.0, 8)
    args.seconds = 10.0 if quick else 40.0
    if quick:
        args.rounds = min(args.rounds, 2)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
