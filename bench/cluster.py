"""Several machines' worth of processes on loopback, and a failover under mixed load.

What it starts, all on this machine and all stopped at the end: a PostgreSQL primary and a
synchronous streaming replica (`tests/cluster.py`: `initdb`, `pg_basebackup -R`), PgBouncer
in transaction mode in front of the primary (`tests/pgbouncer.py`), the three services split
(one uvicorn each, `services.runtime:*_from_env`, through PgBouncer with
`INNOCREDIT_DB_POOLER=transaction`, heavy reads on the replica with
`INNOCREDIT_READ_DATABASE_URL`) and **two gateways** in front of them.

What it drives, through both gateways alternately: bank clients submitting applications
(a fresh `Idempotency-Key` each, retried with the same key until `201`), readers of points
and statistics, and one client with a quota of `--quota` a minute calling as fast as it can.
After a third of the run the primary is killed (`pg_ctl stop -m immediate`), the replica
promoted and PgBouncer re-pointed at it (what CloudNativePG's `-rw` Service does).

What it reports and checks (exit status 1 when a check fails): the failover window (from the
kill to the first new acknowledged submission) and every error — all inside it, all `503`
problems, none after; every acknowledged application present exactly once on the new
primary; the quota held across both gateways (accepted ≤ quota + what refilled + one per
gateway); the replica serving the heavy reads (its connections from the services).

    .venv/bin/python -m bench.cluster [--seconds 12] [--writers 4] [--readers 2] [--quota 120]

`tests/test_cluster.py` runs it in a short form (`--seconds 6`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import httpx

from bench._common import ROOT, free_port, stop, table, wait_ready
from services.gateway import service as gateway_service
from services.gateway.bootstrap import bootstrap
from services.gateway.schemas import ClientCreate
from shared import migrate
from shared.crypto import KeyEncryptor
from shared.db import make_engine, make_sessionmaker
from shared.http_protocol import HTTP_PROTOCOL
from shared.settings import DEV_KEY_ENCRYPTION_KEY
from tests import pgbouncer
from tests.cluster import Cluster, primary_and_replica
from tests.factories import A_INDICATORS, enterprise, indicators, new_key, new_uscc, product_body

PERIOD = 2025


@contextmanager
def uvicorn(factory: str, port: int, env: dict[str, str]) -> Iterator[str]:
    """One `uvicorn --factory` process on 127.0.0.1:`port`; yield its base URL when ready."""
    command = [
        sys.executable, "-m", "uvicorn", f"services.runtime:{factory}", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--http", HTTP_PROTOCOL,
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/healthz", process)
        yield base
    finally:
        stop(process)


@dataclass
class Tally:
    """What one load thread saw."""

    acked: dict[str, str] = field(default_factory=dict)  # Idempotency-Key → application id
    ok: int = 0
    ok_at: list[float] = field(default_factory=list)  # when each success came (the quota's)
    errors: list[tuple[float, int, str]] = field(default_factory=list)  # when, status, type
    failure: str | None = None  # an answer that must never come (a 500, a wrong body)

    def error(self, status: int, kind: str) -> None:
        self.errors.append((time.monotonic(), status, kind))


def _kind(response: httpx.Response) -> str:
    try:
        return str(response.json().get("type", ""))
    except ValueError:
        return response.text[:80]


def writer(gateways: list[str], token: str, body: dict[str, object], stop_at: threading.Event,
           tally: Tally) -> None:  # fmt: skip
    """Submit applications, each retried with its key until 201, gateways alternating."""
    clients = [httpx.Client(base_url=g, timeout=30) for g in gateways]
    n = 0
    try:
        while not stop_at.is_set():
            key = new_key()
            while True:
                n += 1
                http = clients[n % len(clients)]
                headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
                try:
                    r = http.post("/v1/loans/applications", headers=headers, json=body)
                except httpx.TransportError as exc:
                    tally.error(0, type(exc).__name__)
                    time.sleep(0.05)
                    continue
                if r.status_code == 201:
                    tally.acked[key] = r.json()["id"]
                    tally.ok += 1
                    break
                if r.status_code not in (409, 503) or (
                    r.status_code == 503 and "retry-after" not in r.headers
                ):
                    tally.failure = f"{r.status_code} {r.text[:300]}"
                    return
                tally.error(r.status_code, _kind(r))
                time.sleep(0.05)
    finally:
        for http in clients:
            http.close()


def getter(
    gateways: list[str],
    token: str,
    paths: list[tuple[str, dict[str, str]]],
    stop_at: threading.Event,
    tally: Tally,
    *,
    refusals: frozenset[int],
) -> None:
    """GET `paths` in turn, gateways alternating, until `stop_at`: a 200 counts (with when it
    came), a status in `refusals` is tallied (a 503 only with Retry-After), anything else is a
    failure that ends the thread."""
    clients = [httpx.Client(base_url=g, timeout=30) for g in gateways]
    headers = {"Authorization": f"Bearer {token}"}
    n = 0
    try:
        while not stop_at.is_set():
            n += 1
            path, params = paths[n % len(paths)]
            try:
                r = clients[n % len(clients)].get(path, params=params, headers=headers)
            except httpx.TransportError as exc:
                tally.error(0, type(exc).__name__)
                continue
            if r.status_code == 200:
                tally.ok += 1
                tally.ok_at.append(time.monotonic())
            elif r.status_code in refusals and (r.status_code != 503 or "retry-after" in r.headers):
                tally.error(r.status_code, _kind(r))
                if r.status_code == 503:
                    time.sleep(0.05)
            else:
                tally.failure = f"{path}: {r.status_code} {r.text[:300]}"
                return
    finally:
        for http in clients:
            http.close()


def reads(uscc: str) -> list[tuple[str, dict[str, str]]]:
    """What the readers GET: points lookups and statistics (on the replica)."""
    return [
        (f"/v1/scoring/enterprises/{uscc}/points", {}),
        ("/v1/loans/stats", {"from": "2020-01-01", "to": "2030-12-31", "group_by": "bank"}),
    ]


WHOAMI: list[tuple[str, dict[str, str]]] = [("/v1/scoring/whoami", {})]
"""What the client over its quota GETs, as fast as it can."""


def _setup(gateway: str, admin: str) -> tuple[str, str, str, str]:
    """Through the gateway: a bank, its product, ranked enterprises; return (bank code,
    product code, a USCC with points, a bank token)."""
    h = {"Authorization": f"Bearer {admin}"}
    with httpx.Client(base_url=gateway, timeout=60) as api:
        bank, product = "CLBANK", "CL-LOAN"
        api.put(f"/v1/admin/banks/{bank}", headers=h, json={"name": "集群银行"}).raise_for_status()
        body = product_body(bank, min_points=0)
        api.put(f"/v1/admin/products/{product}", headers=h, json=body).raise_for_status()
        usccs = [new_uscc() for _ in range(3)]
        api.put("/v1/admin/enterprises", headers=h, json=[enterprise(u) for u in usccs])
        rows = [indicators(u, **A_INDICATORS) for u in usccs]
        api.put(f"/v1/admin/indicators/{PERIOD}", headers=h, json=rows).raise_for_status()
        run = api.post(f"/v1/admin/points/{PERIOD}/recompute", headers=h, json={})
        run.raise_for_status()
    return bank, product, usccs[0], ""


def _token(gateway: str, client_id: str, secret: str) -> str:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    r = httpx.post(f"{gateway}/oauth/token", data=form, timeout=30)
    r.raise_for_status()
    return str(r.json()["access_token"])


def run(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        cluster: Cluster = stack.enter_context(primary_and_replica(synchronous=True))
        cluster.primary.sql("CREATE DATABASE innocredit")
        primary_url, replica_url = (
            cluster.primary.url("innocredit"),
            cluster.replica.url("innocredit"),
        )
        migrate.upgrade(primary_url)
        engine = make_engine(primary_url, pool_size=1, max_overflow=0)
        with make_sessionmaker(engine).begin() as session:
            created = bootstrap(session, KeyEncryptor(DEV_KEY_ENCRYPTION_KEY))
            if created is None:
                raise RuntimeError("a fresh database had an admin client already")
            limited, limited_secret = gateway_service.create_client(
                session,
                ClientCreate(name="over quota", role="bureau", rate_limit_per_minute=args.quota),
            )
        engine.dispose()
        pool = stack.enter_context(pgbouncer.pooler(primary_url, server_connections=8))
        g1, g2 = free_port(), free_port()
        env = {
            **os.environ,
            "DATABASE_URL": pool.url,
            "INNOCREDIT_DB_POOLER": "transaction",
            "INNOCREDIT_MIGRATION_DATABASE_URL": primary_url,
            "INNOCREDIT_READ_DATABASE_URL": replica_url,
            "INNOCREDIT_DB_POOL_SIZE": "4",
            "INNOCREDIT_DB_POOL_TIMEOUT_SECONDS": "2",
            "INNOCREDIT_RATE_LIMIT_PER_MINUTE": "1000000",
            "INNOCREDIT_LOG_LEVEL": "ERROR",
            "INNOCREDIT_FOUR_EYES": "none",  # its banks and products are written at once
            "INNOCREDIT_JWKS_URL": f"http://127.0.0.1:{g1}/.well-known/jwks.json",
        }
        services = {}
        for name in ("scoring", "loans", "guarantee"):
            port = free_port()
            services[name] = stack.enter_context(uvicorn(f"{name}_from_env", port, env))
        gateway_env = {**env, **{f"INNOCREDIT_{n.upper()}_URL": u for n, u in services.items()}}
        gateways = [
            stack.enter_context(uvicorn("gateway_from_env", port, gateway_env)) for port in (g1, g2)
        ]
        admin = _token(gateways[0], *created)
        bank, product, uscc, _ = _setup(gateways[0], admin)
        with httpx.Client(base_url=gateways[1], timeout=30) as api:
            made = api.post(
                "/v1/admin/clients",
                headers={"Authorization": f"Bearer {admin}"},
                json={"name": "集群银行 loan system", "role": "bank", "bank_code": bank},
            )
            made.raise_for_status()
        bank_token = _token(gateways[1], made.json()["client_id"], made.json()["client_secret"])
        limited_token = _token(gateways[0], limited.client_id, limited_secret)
        body = {"uscc": uscc, "product_code": product, "amount": "100000.00", "term_months": 12}

        stop_at = threading.Event()
        writers = [Tally() for _ in range(args.writers)]
        readers = [Tally() for _ in range(args.readers)]
        quota = Tally()
        threads = [
            *(threading.Thread(target=writer, args=(gateways, bank_token, body, stop_at, t))
              for t in writers),
            *(threading.Thread(target=getter, args=(gateways, bank_token, reads(uscc), stop_at, t),
                               kwargs={"refusals": frozenset({503})})
              for t in readers),
            threading.Thread(target=getter, args=(gateways, limited_token, WHOAMI, stop_at, quota),
                             kwargs={"refusals": frozenset({429, 503})}),
        ]  # fmt: skip
        started = time.monotonic()
        for thread in threads:
            thread.start()
        try:
            time.sleep(args.seconds / 3)
            replica_backends = cluster.replica.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'innocredit' "
                "AND backend_type = 'client backend'"
            )
            acked_before = sum(len(t.acked) for t in writers)
            killed = time.monotonic()
            cluster.primary.stop("immediate")
            cluster.replica.promote()
            pool.repoint("127.0.0.1", cluster.replica.port)
            recovered: float | None = None
            while time.monotonic() < started + args.seconds:
                if recovered is None and sum(len(t.acked) for t in writers) > acked_before:
                    recovered = time.monotonic()
                time.sleep(0.02)
        finally:
            stop_at.set()
            for thread in threads:
                thread.join(timeout=60)
        elapsed = time.monotonic() - started

        acked = {k: v for t in writers for k, v in t.acked.items()}
        stored = cluster.replica.sql(
            "SELECT count(*) FROM loan_application WHERE bank_code = 'CLBANK'", "innocredit"
        )
        distinct = len(set(acked.values()))
        errors = [e for t in (*writers, *readers) for e in t.errors]
        # The window: from the kill to the last error (or to the first new acknowledgement,
        # whichever is later); after it, the rest of the run must pass without one.
        last_error = max((when for when, _, _ in errors), default=killed)
        window_end = max(last_error, recovered or float("inf"))
        window = window_end - killed
        before_kill = [e for e in errors if e[0] < killed]
        calm = started + elapsed - window_end
        quota_errors = Counter(s for _, s, _ in quota.errors)
        # The buckets are UNLOGGED: the promoted replica starts them full, so the quota holds
        # in each phase, before the kill and after it.
        phases = [
            (sum(w < killed for w in quota.ok_at), killed - started),
            (sum(w >= killed for w in quota.ok_at), started + elapsed - killed),
        ]
        allowed = [args.quota + args.quota * span / 60 + len(gateways) for _, span in phases]
        failures = [t.failure for t in (*writers, *readers, quota) if t.failure]

        print(
            table(
                ["figure", "value"],
                [
                    ["run", f"{elapsed:.1f} s, {args.writers} writers, {args.readers} readers"],
                    ["acknowledged submissions", f"{len(acked):,}"],
                    ["stored on the new primary", f"{stored:,} (distinct ids {distinct:,})"],
                    ["reads served", f"{sum(t.ok for t in readers):,}"],
                    ["failover window", f"{window:.2f} s (kill → last error)"],
                    [
                        "errors",
                        ", ".join(
                            f"{k}×{v}" for k, v in Counter((s, k) for _, s, k in errors).items()
                        )
                        or "0",
                    ],
                    ["errors before the kill", str(len(before_kill))],
                    ["error-free after the window", f"{calm:.1f} s"],
                    [
                        "quota client",
                        f"{quota.ok} accepted of {quota.ok + quota_errors[429]}: "
                        f"{phases[0][0]} before the kill (≤ {allowed[0]:.0f} allowed), "
                        f"{phases[1][0]} after (≤ {allowed[1]:.0f}; {args.quota}/min, the "
                        "buckets start full on the promoted replica)",
                    ],
                    ["services' connections to the replica", str(replica_backends)],
                ],
            )
        )
        checks = {
            "no 500s or malformed answers": not failures,
            "recovered": recovered is not None,
            "errors only after the kill, all 503 (or refused connections)": not before_kill
            and {s for _, s, _ in errors} <= {0, 503},
            "then error-free for a third of the run": calm >= args.seconds / 3,
            "every acknowledged application stored exactly once": stored == len(acked) == distinct,
            "the quota held across both gateways": all(
                n <= most for (n, _), most in zip(phases, allowed, strict=True)
            ),
            "the replica served the heavy reads": int(str(replica_backends)) > 0,
        }
        for name, ok in checks.items():
            print(f"  [{'ok' if ok else 'FAIL'}] {name}")
        for failure in failures:
            print(f"  failure: {failure}")
        return 0 if all(checks.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="length of the run")
    parser.add_argument("--writers", type=int, default=4, help="submitting bank threads")
    parser.add_argument("--readers", type=int, default=2, help="reading threads")
    parser.add_argument("--quota", type=int, default=120, help="the limited client's quota/min")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
