"""One quota per client, whatever the number of gateways: `services/gateway/quota.py` and
`gw_rate_take` (migration 0008) against the real database, through real gateways."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from services.gateway.app import Gateway
from services.gateway.quota import SharedQuota
from services.runtime import build_gateway
from shared.db import make_engine
from tests.factories import Creds, bearer, get_token
from tests.servers import make_settings, serve_app


@pytest.fixture(scope="module")
def two_gateways(database_url: str) -> Iterator[tuple[Gateway, Gateway]]:
    """Two gateway processes' worth of apps (each its own engine and quota) on one database;
    token requests limited to 5 a minute per client id."""
    settings = make_settings(database_url, rate_limit_per_minute=5)
    engines = [make_engine(database_url) for _ in range(2)]
    yield build_gateway(settings, engines[0]), build_gateway(settings, engines[1])
    for engine in engines:
        engine.dispose()


def _client_with_rate(make_client: Callable[..., Creds], per_minute: int) -> Creds:
    return make_client("bureau", name=f"quota {per_minute}/min", rate_limit_per_minute=per_minute)


def test_a_clients_quota_holds_across_two_gateways(
    two_gateways: tuple[Gateway, Gateway], make_client: Callable[..., Creds], api: TestClient
) -> None:
    creds = _client_with_rate(make_client, 6)
    token = get_token(api, creds)
    with TestClient(two_gateways[0]) as a, TestClient(two_gateways[1]) as b:
        statuses = [
            (a if n % 2 else b).get("/v1/scoring/whoami", headers=bearer(token)).status_code
            for n in range(10)
        ]
        assert statuses == [200] * 6 + [429] * 4  # 6 a minute in all, not 6 on each
        refused = b.get("/v1/scoring/whoami", headers=bearer(token))
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 10  # one token every 10 s
    assert refused.headers["content-type"] == "application/problem+json"


def test_token_requests_are_counted_across_gateways(
    two_gateways: tuple[Gateway, Gateway],
) -> None:
    form = {"grant_type": "client_credentials", "client_id": "ic_quota_probe", "client_secret": "x"}
    with TestClient(two_gateways[0]) as a, TestClient(two_gateways[1]) as b:
        statuses = [(a, b)[n % 2].post("/oauth/token", data=form).status_code for n in range(8)]
    assert statuses == [401] * 5 + [429] * 3


def test_concurrent_requests_through_two_live_gateways_take_exactly_the_quota(
    two_gateways: tuple[Gateway, Gateway], make_client: Callable[..., Creds], api: TestClient
) -> None:
    token = get_token(api, _client_with_rate(make_client, 20))
    with serve_app(two_gateways[0]) as url_a, serve_app(two_gateways[1]) as url_b:

        def call(n: int) -> int:
            url = (url_a, url_b)[n % 2]
            response = httpx.get(f"{url}/v1/scoring/whoami", headers=bearer(token), timeout=30)
            return response.status_code

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=24) as pool:
            statuses = list(pool.map(call, range(48)))
        elapsed = time.monotonic() - started
    # 20 a minute is one more every 3 s: on a loaded machine the 48 calls may outlast that.
    refilled = int(elapsed * 20 / 60)
    assert 20 <= statuses.count(200) <= 20 + refilled, (statuses.count(200), elapsed)
    assert statuses.count(200) + statuses.count(429) == 48


class _Takes:
    """The calls of `gw_rate_take` an engine makes: how many, and how many tokens each
    asked for."""

    def __init__(self, engine: Engine) -> None:
        self.wanted: list[int] = []
        self._engine = engine
        event.listen(engine, "before_cursor_execute", self._seen)

    @property
    def count(self) -> int:
        return len(self.wanted)

    def _seen(
        self, _conn: object, _cursor: object, statement: str, parameters: Any, *_: object
    ) -> None:
        if "gw_rate_take" in statement:
            self.wanted.append(int(parameters["wanted"]))

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)


@pytest.fixture
def takes(engine: Engine) -> Iterator[_Takes]:
    counter = _Takes(engine)
    yield counter
    counter.close()


def test_a_busy_client_takes_leases_that_grow_with_its_demand(
    engine: Engine, takes: _Takes
) -> None:
    quota = SharedQuota(engine, lease_seconds=0.1, clock=lambda: 0.0)  # no lease lapses
    key = f"lease-{time.time_ns()}"
    # 60,000 a minute is 1,000 a second: at most 100 tokens a lease. Each lease asks for twice
    # what the last one spent, plus one: 220 tokens in 7 calls for 200 requests.

    async def spend(n: int) -> list[int | None]:
        return [await quota.acquire(key, 60_000) for _ in range(n)]

    assert asyncio.run(spend(200)) == [None] * 200
    assert takes.wanted == [1, 3, 7, 15, 31, 63, 100]


def test_a_burst_waits_for_one_lease_instead_of_taking_one_each(
    engine: Engine, takes: _Takes
) -> None:
    quota = SharedQuota(engine, lease_seconds=0.1, clock=lambda: 0.0)
    key = f"burst-{time.time_ns()}"

    async def burst() -> list[int | None]:
        return await asyncio.gather(*(quota.acquire(key, 60_000) for _ in range(16)))

    assert asyncio.run(burst()) == [None] * 16
    assert takes.count == 4  # leases of 1, 3, 7, 15 (5 of them left), one at a time


def test_an_unspent_lease_lapses(engine: Engine, takes: _Takes) -> None:
    now = [0.0]
    quota = SharedQuota(engine, lease_seconds=0.1, clock=lambda: now[0])
    key = f"lapse-{time.time_ns()}"
    # 1,200 a minute is 20 a second: leases of at most 2 tokens.
    assert asyncio.run(quota.acquire(key, 1_200)) is None  # a lease of 1
    assert asyncio.run(quota.acquire(key, 1_200)) is None  # a lease of 2, one left
    assert takes.wanted == [1, 2]
    now[0] += 0.1  # its second token unspent, the lease lapses
    assert asyncio.run(quota.acquire(key, 1_200)) is None
    assert takes.wanted == [1, 2, 2]  # a new lease, not the lapsed one's token


def test_an_exhausted_bucket_says_when_on_every_gateway(engine: Engine) -> None:
    key = f"empty-{time.time_ns()}"
    one, other = (SharedQuota(engine, lease_seconds=0.5) for _ in range(2))
    assert [asyncio.run(one.acquire(key, 3)) for _ in range(3)] == [None] * 3
    assert 19 <= (asyncio.run(one.acquire(key, 3)) or 0) <= 20  # a token every 20 s
    assert 19 <= (asyncio.run(other.acquire(key, 3)) or 0) <= 20


def test_full_buckets_are_swept(engine: Engine) -> None:
    now = [0.0]
    quota = SharedQuota(engine, lease_seconds=0.01, clock=lambda: now[0])
    key = f"sweep-{time.time_ns()}"
    assert asyncio.run(quota.acquire(key, 60_000)) is None  # a lease of 1: 1 ms ahead
    assert asyncio.run(quota.acquire(f"{key}-slow", 1)) is None  # a minute ahead
    time.sleep(0.05)
    now[0] += SharedQuota.SWEEP_EVERY_SECONDS
    assert asyncio.run(quota.acquire(f"{key}-other", 1)) is None  # this call sweeps
    with engine.connect() as connection:
        kept = set(
            connection.execute(
                text("SELECT key FROM gw_rate_limit WHERE key LIKE :prefix"), {"prefix": key + "%"}
            ).scalars()
        )
    assert kept == {f"{key}-slow", f"{key}-other"}


def test_the_lease_is_a_setting_within_bounds(database_url: str, engine: Engine) -> None:
    gateway = build_gateway(make_settings(database_url, quota_lease_seconds=1.5), engine)
    assert gateway.core.state.quota.lease_seconds == 1.5
    default = build_gateway(make_settings(database_url), engine)
    assert default.core.state.quota.lease_seconds == 0.5
    for wrong in (0, -1, 5.5):
        with pytest.raises(ValueError, match="quota_lease_seconds"):
            make_settings(database_url, quota_lease_seconds=wrong)
