"""Heavy reads on a real streaming replica (issue 14): a primary and a hot standby made by
`pg_basebackup -R` on loopback. With the replica's replay paused, statistics are the
replica's (a step behind) while the application list is the primary's; the export still
gives every change exactly once — its pull waits for the replica to replay its high-water
mark, then reads on the primary."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from services.gateway import service as gateway_service
from services.gateway.schemas import ClientCreate
from services.runtime import build_gateway, engine_for
from shared import migrate
from shared.db import make_sessionmaker
from tests.cluster import Cluster, primary_and_replica
from tests.factories import A_INDICATORS, Creds, Factory, bearer, get_token
from tests.servers import make_settings

PERIOD = 2025  # the cluster's database is this module's alone
WINDOW = {"from": "2020-01-01", "to": "2030-12-31"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with primary_and_replica() as made:
        made.primary.sql("CREATE DATABASE innocredit")
        migrate.upgrade(made.primary.url("innocredit"))
        yield made


def _caught_up(cluster: Cluster) -> None:
    """Wait until the replica has replayed everything the primary has written so far."""
    lsn = cluster.primary.sql("SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + 30
    while not cluster.replica.sql(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"):
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def api(cluster: Cluster) -> Iterator[TestClient]:
    settings = make_settings(
        cluster.primary.url("innocredit"),
        read_database_url=cluster.replica.url("innocredit"),
        replica_wait_seconds=0.5,
    )
    engine, read_engine = engine_for(settings), engine_for(settings, read=True)
    with TestClient(build_gateway(settings, engine, read_engine)) as client:
        yield client
    engine.dispose()
    read_engine.dispose()


@pytest.fixture(scope="module")
def factory(cluster: Cluster, api: TestClient) -> Factory:
    db: sessionmaker[Session] = make_sessionmaker(
        engine_for(make_settings(cluster.primary.url("innocredit")))
    )

    def make_client(role: str = "admin", *, name: str = "replica test", **kwargs: object) -> Creds:
        data = ClientCreate.model_validate({"name": name, "role": role, **kwargs})
        with db.begin() as session:
            client, secret = gateway_service.create_client(session, data)
            return Creds(client.client_id, secret)

    return Factory(api, get_token(api, make_client("admin")), make_client)


@pytest.fixture
def paused(cluster: Cluster) -> Iterator[Callable[[], None]]:
    """Pause the replica's replay (after catching up); resumed at the end, whatever happens."""

    def pause() -> None:
        _caught_up(cluster)
        cluster.replica.sql("SELECT pg_wal_replay_pause()")

    yield pause
    cluster.replica.sql("SELECT pg_wal_replay_resume()")


def test_statistics_come_from_the_replica_and_the_list_from_the_primary(
    api: TestClient, factory: Factory, cluster: Cluster, paused: Callable[[], None]
) -> None:
    bank = factory.bank()
    product = factory.product(bank, min_points=0)
    usccs = factory.ranked(PERIOD, [A_INDICATORS] * 2)
    factory.application(bank, product, usccs[0])
    token = bearer(factory.bank_token(bank))

    def counted() -> int:
        figures = api.get("/v1/loans/stats", headers=token, params=WINDOW).json()
        return int(figures["total"]["applications"])

    def listed() -> int:
        return len(api.get("/v1/loans/applications", headers=token).json()["items"])

    paused()
    assert (counted(), listed()) == (1, 1)
    factory.application(bank, product, usccs[1])
    assert (counted(), listed()) == (1, 2)  # the replica is a step behind; the list is not
    cluster.replica.sql("SELECT pg_wal_replay_resume()")
    _caught_up(cluster)
    assert counted() == 2


def test_the_export_gives_every_change_once_whatever_the_replica_has_replayed(
    api: TestClient, factory: Factory, cluster: Cluster, paused: Callable[[], None]
) -> None:
    firm = "RPF" + datetime.now(UTC).strftime("%H%M%S%f")
    usccs = factory.ranked(PERIOD, [A_INDICATORS] * 3)
    granted = (datetime.now(UTC) - timedelta(days=1)).isoformat()

    def consent(uscc: str) -> None:
        body = {"uscc": uscc, "firm_code": firm, "evidence_ref": "授权书", "granted_at": granted}
        assert api.post("/v1/admin/consents", headers=factory.admin, json=body).status_code == 201

    token = bearer(factory.token("credit_firm", firm_code=firm))

    def pull(since: str | None) -> tuple[list[str], str, float]:
        started = time.monotonic()
        params = {"since": since} if since else {}
        got = api.get("/v1/guarantee/features", headers=token, params=params)
        assert got.status_code == 200, got.text
        lines = [line for line in got.text.splitlines() if '"uscc"' in line]
        found = [u for u in usccs if any(u in line for line in lines)]
        return found, got.headers["x-next-cursor"], time.monotonic() - started

    consent(usccs[0])
    _caught_up(cluster)
    rows, cursor, _ = pull(None)  # on the replica: it has replayed the mark
    assert rows == [usccs[0]]
    paused()
    consent(usccs[1])  # committed on the primary, not yet on the replica
    rows, cursor, took = pull(cursor)
    assert rows == [usccs[1]]  # not missed: read on the primary after the wait
    assert took >= 0.5
    cluster.replica.sql("SELECT pg_wal_replay_resume()")
    consent(usccs[2])
    rows, cursor, _ = pull(cursor)
    assert rows == [usccs[2]]  # and nothing twice
    rows, _, _ = pull(cursor)
    assert rows == []
