"""Everything works through PgBouncer in transaction mode (issue 14): a real PgBouncer with
fewer server connections than the gateway's pool, so a client's consecutive transactions
run on different server connections — where a session `SET`, a prepared statement or a
session-level advisory lock would break."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from services.runtime import build_gateway, engine_for
from shared import migrate
from shared.db import make_engine
from shared.settings import CoreSettings
from tests import pgbouncer
from tests.factories import A_INDICATORS, Creds, Factory, bearer, get_token, new_key
from tests.periods import PeriodPool
from tests.processes import INNOCREDIT
from tests.servers import make_settings, serve_app


@pytest.fixture(scope="module")
def pooled_url(database_url: str) -> Iterator[str]:
    with pgbouncer.transaction_pooler(database_url, server_connections=4) as url:
        yield url


@pytest.fixture(scope="module")
def pooled_settings(pooled_url: str) -> CoreSettings:
    return make_settings(pooled_url, db_pooler="transaction", db_pool_size=8)


@pytest.fixture(scope="module")
def pooled_engine(pooled_settings: CoreSettings) -> Iterator[Engine]:
    engine = engine_for(pooled_settings)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def pooled_api(pooled_settings: CoreSettings, pooled_engine: Engine) -> Iterator[TestClient]:
    with TestClient(build_gateway(pooled_settings, pooled_engine)) as client:
        yield client


@pytest.fixture(scope="module")
def pooled(pooled_api: TestClient, make_client: Callable[..., Creds]) -> Factory:
    admin = get_token(pooled_api, make_client("admin", name="pooled admin"))
    return Factory(pooled_api, admin, make_client)


def _advisory_locks(database_url: str) -> int:
    with psycopg.connect(
        make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    ) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
    return int(row[0]) if row else 0


def test_each_transaction_sets_its_own_time_zone_and_timeouts(pooled_engine: Engine) -> None:
    with pooled_engine.connect() as connection:
        driver = connection.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        assert driver.prepare_threshold is None
        for _ in range(10):  # several transactions, on whichever server connection
            with connection.begin():
                shown = connection.execute(
                    text("SELECT current_setting('TimeZone'), current_setting('statement_timeout')")
                ).one()
                assert tuple(shown) == ("UTC", "30s")
    with pooled_engine.connect() as connection:  # outside a transaction nothing is left set
        connection.execution_options(isolation_level="AUTOCOMMIT")
        assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "0"


def test_a_statement_run_often_survives_moving_to_another_server_connection(
    pooled_engine: Engine,
) -> None:
    """With psycopg's default (prepare a statement on its 6th run), the 7th run below fails:
    the statement was prepared on the server connection the other client now holds."""
    query = text("SELECT count(*) + :n FROM gw_signing_key WHERE false")
    with pooled_engine.connect() as a, pooled_engine.connect() as b:
        for _ in range(6):  # a's server connection, idle again after each transaction
            with a.begin():
                a.execute(query, {"n": 1}).scalar_one()
        with b.begin():
            b.execute(text("SELECT 1")).scalar_one()  # b takes that idle server connection
            for _ in range(3):
                with a.begin():  # so a runs on another one
                    assert a.execute(query, {"n": 7}).scalar_one() == 7


def test_a_bank_and_a_credit_firm_work_through_the_pooler(
    pooled: Factory, periods: PeriodPool, database_url: str
) -> None:
    period = periods.fresh()
    bank = pooled.bank()
    product = pooled.product(bank, min_points=0)
    firm = f"PB{os.urandom(3).hex().upper()}"
    usccs = pooled.ranked(period, [A_INDICATORS] * 3)
    api, token = pooled.api, pooled.bank_token(bank)
    for _ in range(12):  # the same statements again and again: nothing prepared to go missing
        points = api.get(f"/v1/scoring/enterprises/{usccs[0]}/points", headers=bearer(token))
        assert points.status_code == 200, points.text
    made = pooled.application(bank, product, usccs[0], state="disbursed")
    assert made.status == "disbursed"
    key = new_key()
    body = {"uscc": usccs[1], "product_code": product, "amount": "500000.00", "term_months": 12}
    first = api.post(
        "/v1/loans/applications", headers={**bearer(token), "Idempotency-Key": key}, json=body
    )
    replay = api.post(
        "/v1/loans/applications", headers={**bearer(token), "Idempotency-Key": key}, json=body
    )
    assert (first.status_code, replay.status_code) == (201, 201), replay.text
    assert replay.headers["idempotent-replayed"] == "true"
    stats = api.get(
        "/v1/loans/stats",
        headers={**bearer(token), "Accept": "text/csv"},
        params={"from": "2020-01-01", "to": "2030-12-31", "group_by": "bank"},
    )
    assert stats.status_code == 200, stats.text
    assert api.get("/v1/scoring/rankings", headers=pooled.admin, params={"period": period}).json()[
        "items"
    ]
    for uscc in usccs:
        consent = {
            "uscc": uscc,
            "firm_code": firm,
            "evidence_ref": "授权书 P-1",
            "granted_at": "2026-01-01T00:00:00+08:00",
        }
        assert api.post("/v1/admin/consents", headers=pooled.admin, json=consent).status_code == 201
    firm_token = pooled.token("credit_firm", firm_code=firm)
    pulled = api.get("/v1/guarantee/features", headers=bearer(firm_token))
    assert pulled.status_code == 200, pulled.text
    rows = [line for line in pulled.text.splitlines() if '"uscc"' in line]
    assert {u for u in usccs if u in "".join(rows)} == set(usccs)
    again = api.get(
        "/v1/guarantee/features",
        headers=bearer(firm_token),
        params={"since": pulled.headers["x-next-cursor"]},
    )
    assert [line for line in again.text.splitlines() if '"uscc"' in line] == []
    assert _advisory_locks(database_url) == 0  # nothing left on a server connection


def test_a_race_through_the_pooler_still_makes_one_application(
    pooled: Factory, pooled_settings: CoreSettings, pooled_engine: Engine, periods: PeriodPool
) -> None:
    bank = pooled.bank()
    product = pooled.product(bank, min_points=0)
    (uscc,) = pooled.ranked(periods.fresh(), [A_INDICATORS])
    token = pooled.bank_token(bank)
    key = new_key()
    body = {"uscc": uscc, "product_code": product, "amount": "500000.00", "term_months": 12}
    with serve_app(build_gateway(pooled_settings, pooled_engine)) as url:

        def post(_: int) -> int:
            headers = {**bearer(token), "Idempotency-Key": key}
            return httpx.post(
                f"{url}/v1/loans/applications", headers=headers, json=body, timeout=30
            ).status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(post, range(20)))
    assert set(statuses) <= {201, 409}, statuses
    listed = pooled.api.get(
        "/v1/loans/applications", headers=bearer(token), params={"limit": 500}
    ).json()["items"]
    assert [a["uscc"] for a in listed].count(uscc) == 1


def test_migrations_run_on_the_direct_url_never_through_the_pooler(
    new_database: Callable[[], str], pooled_url: str
) -> None:
    direct = new_database()
    # DATABASE_URL names a database the pooler cannot reach: only the direct URL can work.
    unreachable = (
        make_url(pooled_url).set(database="no_such_database").render_as_string(hide_password=False)
    )
    env = {
        **os.environ,
        "DATABASE_URL": unreachable,
        "INNOCREDIT_DB_POOLER": "transaction",
        "INNOCREDIT_MIGRATION_DATABASE_URL": direct,
    }
    done = subprocess.run(
        [*INNOCREDIT, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    engine = make_engine(direct, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as connection:
            assert migrate.at_head(connection)
    finally:
        engine.dispose()
