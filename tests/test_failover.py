"""Failover without loss (issue 14): the primary is killed under load, the synchronous
standby promoted, and the gateway — whose DATABASE_URL names both hosts with
`target_session_attrs=read-write` — recovers by itself. Errors only inside the window, and
only 503 problems with `Retry-After`; every acknowledged (201) application present exactly
once afterwards; retries with the same Idempotency-Key never duplicate."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bench.cluster import Tally, writer
from services.gateway import service as gateway_service
from services.gateway.schemas import ClientCreate
from services.runtime import build_gateway, engine_for
from shared import migrate
from shared.db import make_sessionmaker
from tests.cluster import Cluster, primary_and_replica
from tests.factories import A_INDICATORS, Creds, Factory, bearer, get_token
from tests.servers import make_settings, serve_app

CLIENTS = 4
RECOVERY_BUDGET_SECONDS = 15.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with primary_and_replica(synchronous=True) as made:
        made.primary.sql("CREATE DATABASE innocredit")
        migrate.upgrade(made.primary.url("innocredit"))
        yield made


def submitting(
    url: str, token: str, body: dict[str, object], stop: threading.Event
) -> tuple[Tally, threading.Thread]:
    """Start a bank loan system's thread (`bench.cluster.writer`: fresh keys, each retried
    until 201); anything it raises is recorded as its failure, not lost with the thread."""
    tally = Tally()

    def run() -> None:
        try:
            writer([url], token, body, stop, tally)
        except BaseException as exc:
            tally.failure = repr(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return tally, thread


def test_the_primary_dies_under_load_and_nothing_acknowledged_is_lost(cluster: Cluster) -> None:
    primary, standby = cluster.primary, cluster.replica
    both = f"postgresql://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/innocredit"
    settings = make_settings(
        f"{both}?target_session_attrs=read-write",
        db_pool_timeout_seconds=2,
        db_statement_timeout_ms=5_000,
    )
    engine = engine_for(settings)
    gateway = build_gateway(settings, engine)
    admin_db = make_sessionmaker(engine)

    def make_client(role: str = "admin", *, name: str = "failover", **kwargs: object) -> Creds:
        data = ClientCreate.model_validate({"name": name, "role": role, **kwargs})
        with admin_db.begin() as session:
            client, secret = gateway_service.create_client(session, data)
            return Creds(client.client_id, secret)

    with TestClient(gateway) as api, serve_app(gateway) as url:
        factory = Factory(api, get_token(api, make_client()), make_client)
        bank = factory.bank()
        product = factory.product(bank, min_points=0)
        (uscc,) = factory.ranked(2025, [A_INDICATORS])
        token = factory.bank_token(bank)
        body = {"uscc": uscc, "product_code": product, "amount": "100000.00", "term_months": 12}
        stop = threading.Event()
        started = [submitting(url, token, body, stop) for _ in range(CLIENTS)]
        clients, threads = [t for t, _ in started], [th for _, th in started]
        try:
            time.sleep(1.5)
            before = sum(len(c.acked) for c in clients)
            killed = time.monotonic()
            primary.stop("immediate")  # the primary dies mid-load
            standby.promote()
            # The service recovers by itself: new submissions succeed again.
            deadline = killed + RECOVERY_BUDGET_SECONDS
            while sum(len(c.acked) for c in clients) < before + 2 * CLIENTS:
                assert time.monotonic() < deadline, "no recovery within the budget"
                time.sleep(0.1)
            recovered = time.monotonic()
            time.sleep(1.5)  # then a while of errors-free load
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        assert [c.failure for c in clients] == [None] * CLIENTS
        errors = [e for c in clients for e in c.errors]
        acked = {key: app for c in clients for key, app in c.acked.items()}
        print(
            f"failover: window {recovered - killed:.2f} s, {len(errors)} errors "
            f"({sorted({(s, k) for _, s, k in errors})}), {len(acked)} acknowledged"
        )
        assert all(killed <= when <= recovered for when, _, _ in errors), errors
        assert {s for _, s, _ in errors} <= {0, 503, 409}
        # Every acknowledged application is there, once, and no other of this bank.
        stored = api.get(
            "/v1/loans/applications", headers=bearer(token), params={"limit": 500}
        ).json()
        ids = []
        page = stored
        while True:
            ids += [a["id"] for a in page["items"]]
            if page["next_cursor"] is None:
                break
            page = api.get(
                "/v1/loans/applications",
                headers=bearer(token),
                params={"limit": 500, "cursor": page["next_cursor"]},
            ).json()
        assert sorted(ids) == sorted(acked.values())
        assert len(set(acked.values())) == len(acked)
    engine.dispose()
