"""Bursts: many requests at once from one client, served by a queue rather than shed.

Issue 13, A.2: fifty identical ``POST /v1/loans/applications`` with one Idempotency-Key got
201 x 2, 409 x 30 and 503 ``overloaded`` x 18, because a process admitted 32 requests in
flight and shed the rest at once. Admission now queues the excess (`shared.admission`). What
this measures, in one run:

Cases, each as a burst of `--sizes` (50 and 200) requests from one bank client:

* ``post``: identical ``POST /v1/loans/applications`` with one Idempotency-Key (a new key per
  burst): the bank retrying in parallel. Good answers: 201 (the original, and replays with
  ``Idempotent-Replayed: true``, all naming one application) or 409
  ``idempotency-in-progress`` (a duplicate while the first runs).
* ``get``: ``GET /v1/scoring/enterprises/{uscc}/points`` for random enterprises: branches
  looking enterprises up at nine in the morning. Good answer: 200.

A burst opens its connections first, then writes every request at once (``Connection:
close``), then reads the answers; a request's latency runs from the moment the burst was
written to its answer, so the last one's is the time the burst took to drain.

Servers, both the gateway in one-process mode as `bench/load.py` runs it (`python -m
bench.loans --serve`: the benches' settings, the rate limiter out of the way), on the same
database, started side by side:

* ``queue``: the admission defaults (`INNOCREDIT_MAX_IN_FLIGHT`, `INNOCREDIT_MAX_QUEUED`,
  `INNOCREDIT_MAX_QUEUE_WAIT_SECONDS`, or whatever the environment sets);
* ``shed``: the same with `INNOCREDIT_MAX_QUEUED=0`, the behaviour before issue 13: the
  baseline, in the same run.

And ``sequential``: the same requests one after another on one keep-alive connection to the
``queue`` server, for the time the work itself takes.

Each (case, size) runs `--rounds` (5) times per server, the servers' order alternating. The
servers are pinned to CPU `--server-cpu` (0), this process to `--load-cpu` (1); PostgreSQL is
not pinned. The machine's load average is printed at the start and the end: on a machine
that other work shares, latencies grow with it, the count of 503s should not.

Reported per (case, size, server): bursts, requests, answers by kind, p50/p99/max latency;
the ratios queue/shed and queue/sequential. Targets: 0 x 503 from the ``queue`` server
(MISSED otherwise); every ``post`` answer 201 or 409 and exactly one application per key,
every ``get`` answer 200 from the ``queue`` server (exit status 1 otherwise).

Database: `DATABASE_URL` if set (a scratch database on that server, dropped at the end),
otherwise a throwaway embedded PostgreSQL.

Run from the repository root:

    .venv/bin/python -m bench.burst [--sizes 50 200] [--rounds 5] [--enterprises 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from bench._common import percentile, table
from bench.load import pin_this_process, pinned
from bench.loans import (
    AMOUNT,
    OWN_PRODUCTS,
    SUBMIT,
    TERM_MONTHS,
    Connection,
    World,
    database,
    gateway_server,
    http_request,
    raw,
    set_up_world,
)
from shared import migrate
from shared.db import make_engine

CASES = ("post", "get")
SERVERS = ("queue", "shed")
SEQUENTIAL = "sequential"
GOOD = {"post": {201, 409}, "get": {200}}


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for the block (a server started in it inherits them)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ---------------------------------------------------------------- one burst


@dataclass(slots=True)
class Answer:
    """One request's answer: status, seconds from the burst's start, replayed, application."""

    status: int  # 0: no HTTP answer
    seconds: float
    replayed: bool = False
    application_id: str = ""


@dataclass(slots=True)
class Burst:
    """The answers of one burst (or one sequential series) and the key of a ``post`` one."""

    answers: list[Answer] = field(default_factory=list)
    key: str = ""


def build(
    case: str, size: int, port: int, world: World, rng: random.Random, key: str, *, close: bool
) -> list[bytes]:
    """`size` requests of `case` from the bank client (``Connection: close`` if `close`)."""
    auth = {"Authorization": f"Bearer {world.token}"}
    extra = {"Connection": "close"} if close else {}
    if case == "post":
        body = {
            "uscc": world.usccs[0],
            "product_code": OWN_PRODUCTS[0],
            "amount": AMOUNT,
            "term_months": TERM_MONTHS,
        }
        headers = {**auth, **extra, "Content-Type": "application/json", "Idempotency-Key": key}
        one = http_request("POST", SUBMIT, port, headers, json.dumps(body).encode())
        return [one] * size
    return [
        http_request(
            "GET",
            f"/v1/scoring/enterprises/{rng.choice(world.usccs)}/points",
            port,
            {**auth, **extra},
        )
        for _ in range(size)
    ]


async def _read(reader: asyncio.StreamReader) -> tuple[int, bool, str]:
    """Status, whether replayed, and the application id (a 201) of a response read to EOF."""
    data = await reader.read()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    replayed = any(line.lower() == "idempotent-replayed: true" for line in lines[1:])
    app_id = ""
    if status == 201:
        app_id = str(json.loads(body).get("id", ""))
    return status, replayed, app_id


async def burst(port: int, requests: Sequence[bytes]) -> list[Answer]:
    """Open a connection per request, write them all at once, read every answer."""
    opened = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in requests))
    loop = asyncio.get_running_loop()
    began = loop.time()

    async def one(
        pair: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes
    ) -> Answer:
        reader, writer = pair
        try:
            writer.write(request)
            await writer.drain()
            status, replayed, app_id = await asyncio.wait_for(_read(reader), 120)
        except (OSError, EOFError, ValueError, IndexError, TimeoutError):
            return Answer(0, loop.time() - began)
        finally:
            writer.close()
        return Answer(status, loop.time() - began, replayed, app_id)

    return list(await asyncio.gather(*(one(p, r) for p, r in zip(opened, requests, strict=True))))


async def sequential(port: int, requests: Sequence[bytes]) -> list[Answer]:
    """The same requests one after another on one keep-alive connection; each answer's time
    is its own request's."""
    conn = await Connection.open(port)
    loop = asyncio.get_running_loop()
    answers = []
    try:
        for request in requests:
            started = loop.time()
            status, body = await conn.send(request)
            app_id = str(json.loads(body).get("id", "")) if status == 201 else ""
            answers.append(Answer(status, loop.time() - started, False, app_id))
    finally:
        conn.close()
    return answers


# ---------------------------------------------------------------- results


@dataclass(slots=True)
class Series:
    """Every burst of one (case, size, server)."""

    case: str
    size: int
    server: str
    bursts: list[Burst] = field(default_factory=list)

    @property
    def answers(self) -> list[Answer]:
        """All answers of all bursts."""
        return [a for b in self.bursts for a in b.answers]

    @property
    def statuses(self) -> Counter[int]:
        """Answers by status (0: none)."""
        return Counter(a.status for a in self.answers)

    def ms(self, q: float) -> float:
        """Latency percentile `q` (0..1), ms, over the answers."""
        return percentile(sorted(a.seconds for a in self.answers if a.status), q) * 1000

    @property
    def drain_ms(self) -> float:
        """Median over the bursts of the time to the last answer (sequential: the sum)."""
        if not self.bursts:
            return math.nan
        totals = sorted(
            (sum if self.server == SEQUENTIAL else max)(a.seconds for a in b.answers)
            for b in self.bursts
        )
        return percentile(totals, 0.5) * 1000

    @property
    def bad(self) -> int:
        """Answers other than the case's good ones."""
        return sum(n for status, n in self.statuses.items() if status not in GOOD[self.case])


def check_posts(engine: Engine, client_id: str, series: Sequence[Series]) -> list[str]:
    """Every ``post`` burst: its 201s name one application, and the database holds exactly
    one stored response for the key, naming that application."""
    problems = []
    with raw(engine, transaction=False) as conn:
        for s in series:
            if s.case != "post":
                continue
            for b in s.bursts:
                named = {a.application_id for a in b.answers if a.status == 201}
                rows = conn.execute(
                    "SELECT response_body->>'id' FROM loan_idempotency_key "
                    "WHERE client_id = %s AND key = %s",
                    (client_id, b.key),
                ).fetchall()
                stored = {str(r[0]) for r in rows}
                if len(rows) > 1 or len(named) > 1 or (named and named != stored):
                    problems.append(
                        f"{s.server} post x{s.size}: key {b.key}: 201s name {sorted(named)}, "
                        f"stored {sorted(stored)}"
                    )
    return problems


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.1f}"


def report(series: Sequence[Series]) -> None:
    """One table over every (case, size, server)."""
    headers = ["case", "size", "server", "bursts", "requests", "2xx", "409", "503", "other",
               "p50 ms", "p99 ms", "drain ms"]  # fmt: skip
    rows = []
    for s in series:
        st = s.statuses
        rows.append(
            [
                s.case,
                str(s.size),
                s.server,
                str(len(s.bursts)),
                f"{sum(st.values()):,}",
                str(st[200] + st[201]),
                str(st[409]),
                str(st[503]),
                str(sum(n for k, n in st.items() if k not in (200, 201, 409, 503))),
                _ms(s.ms(0.5)),
                _ms(s.ms(0.99)),
                _ms(s.drain_ms),
            ]
        )
    print()
    print("bursts (latency from the moment the burst was written; drain: median time to the")
    print("last answer of a burst; sequential: per request, drain = the series' total)")
    print(table(headers, rows))


def summary(series: Sequence[Series], integrity: Sequence[str]) -> bool:
    """Targets, ratios and checks; whether nothing is broken."""
    by = {(s.case, s.size, s.server): s for s in series}
    print()
    print("summary")
    ok = True
    for (case, size, server), s in by.items():
        if server != "queue":
            continue
        shed, seq = by[(case, size, "shed")], by[(case, size, SEQUENTIAL)]
        served = sum(1 for a in s.answers if a.status in GOOD[case])
        verdict = "[met]   " if s.statuses[503] == 0 else "[MISSED]"
        print(
            f"  {verdict}{case} x{size}: {s.statuses[503]} x 503 with the queue (target 0; "
            f"{shed.statuses[503]} x 503 shedding at once); {served}/{len(s.answers)} good answers"
        )
        print(
            f"  [info]  {case} x{size}: queue/shed p50 {s.ms(0.5) / shed.ms(0.5):.2f}x, p99 "
            f"{s.ms(0.99) / shed.ms(0.99):.2f}x; the burst drains in {s.drain_ms:,.0f} ms, "
            f"{s.drain_ms / seq.drain_ms:.2f}x the {seq.drain_ms:,.0f} ms of the same requests "
            "one after another"
        )
        if s.bad:
            ok = False
            print(f"  [FAIL]  {case} x{size}: {s.bad} answers other than {sorted(GOOD[case])}")
    for line in integrity:
        print(f"  [FAIL]  {line}")
    if not integrity:
        print("  [ok]    every post burst: its 201s name one application, stored once for the key")
    return ok and not integrity


# ---------------------------------------------------------------- main


def _load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} / {five:.2f}"


def run(args: argparse.Namespace) -> int:
    """Set up, start both servers, run the bursts interleaved, report; the exit status."""
    began = time.perf_counter()
    with ExitStack() as stack:
        url, origin = stack.enter_context(database())
        print(
            f"database: {origin}; {os.cpu_count()} CPUs; load average {_load_average()} "
            "at the start"
        )
        migrate.upgrade(url, "head")
        engine = make_engine(url)
        stack.callback(engine.dispose)
        ports: dict[str, int] = {}
        with pinned({args.server_cpu}):
            base, ports["queue"] = stack.enter_context(gateway_server(url))
            with environment(INNOCREDIT_MAX_QUEUED="0"):
                _, ports["shed"] = stack.enter_context(gateway_server(url))
        pin_this_process({args.load_cpu})
        world = set_up_world(base, engine, args.enterprises, args.seed)
        print(
            f"servers on CPU {args.server_cpu} (queue at :{ports['queue']}, shed at "
            f":{ports['shed']}), load generator on CPU {args.load_cpu}; world set up in "
            f"{world.seconds:.1f} s"
        )
        rng = random.Random(args.seed)
        for server in SERVERS:  # connections, caches, prepared statements
            for case in CASES:
                warm = build(case, 20, ports[server], world, rng, "warm-" + uuid.uuid4().hex,
                             close=False)  # fmt: skip
                asyncio.run(sequential(ports[server], warm))
        series = {
            (case, size, server): Series(case, size, server)
            for case in CASES
            for size in args.sizes
            for server in (*SERVERS, SEQUENTIAL)
        }
        for n in range(args.rounds):
            order = SERVERS if n % 2 == 0 else SERVERS[::-1]
            for case in CASES:
                for size in args.sizes:
                    for server in (*order, SEQUENTIAL):
                        key = "burst-" + uuid.uuid4().hex if case == "post" else ""
                        port = ports["queue" if server == SEQUENTIAL else server]
                        requests = build(
                            case, size, port, world, rng, key, close=server != SEQUENTIAL
                        )
                        runner = sequential if server == SEQUENTIAL else burst
                        answers = asyncio.run(runner(port, requests))
                        series[(case, size, server)].bursts.append(Burst(answers, key))
                        time.sleep(args.pause)
            print(f"  round {n + 1} done (load average {_load_average()})")
        report(list(series.values()))
        integrity = check_posts(engine, world.client_id, list(series.values()))
        ok = summary(list(series.values()), integrity)
    print(
        f"total time {time.perf_counter() - began:.1f} s; load average {_load_average()} at the end"
    )
    return 0 if ok else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.burst",
        description="Bursts of concurrent requests from one client: queued, shed, sequential.",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200], help="burst sizes")
    parser.add_argument("--rounds", type=int, default=5, help="bursts per (case, size, server)")
    parser.add_argument("--enterprises", type=int, default=200, help="enterprises with points")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between bursts")
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU of the servers")
    parser.add_argument("--load-cpu", type=int, default=1, help="CPU of the load generator")
    parser.add_argument("--seed", type=int, default=20260101, help="random seed")
    args = parser.parse_args(argv)
    if args.rounds < 1 or any(size < 1 for size in args.sizes) or args.enterprises < 10:
        parser.error("--rounds and --sizes at least 1, --enterprises at least 10")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
