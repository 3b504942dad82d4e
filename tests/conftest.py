"""Fixtures: one real PostgreSQL, a database migrated to head, the gateway and API clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.gateway import service as gateway_service
from services.gateway.schemas import ClientCreate
from services.runtime import build_gateway
from shared import migrate
from shared.db import make_engine, make_sessionmaker
from shared.settings import CoreSettings
from tests import pg
from tests.demo_db import DemoDatabase, loaded_demo
from tests.factories import Creds, Factory, get_token
from tests.periods import PeriodPool, scoring_data_in
from tests.servers import make_settings, serve_app


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-screenshots",
        action="store_true",
        help="also write the README's screenshot (docs/dashboard.png) from the browser test",
    )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    with pg.server_url() as url:
        yield url


@pytest.fixture(scope="session")
def new_database(pg_server: str) -> Iterator[Callable[[], str]]:
    """A factory of empty databases, all dropped at the end of the session."""
    made: list[str] = []

    def make() -> str:
        url = pg.create_database(pg_server)
        made.append(url)
        return url

    yield make
    for url in made:
        pg.drop_database(pg_server, url)


@pytest.fixture(scope="session")
def database_url(new_database: Callable[[], str]) -> str:
    """A database migrated to head, shared by the session (tests use their own rows)."""
    url = new_database()
    migrate.upgrade(url, "head")
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> CoreSettings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
def engine(settings: CoreSettings) -> Iterator[Engine]:
    assert settings.database_url
    eng = make_engine(settings.database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def db(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture(scope="session")
def gateway_app(settings: CoreSettings, engine: Engine):  # type: ignore[no-untyped-def]
    return build_gateway(settings, engine)


@pytest.fixture(scope="session")
def api(gateway_app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(gateway_app, base_url="http://testserver") as client:
        yield client


@pytest.fixture(scope="session")
def make_client(db: sessionmaker[Session]) -> Callable[..., Creds]:
    """Create an API client directly in the database and return its credentials."""

    def make(role: str = "admin", *, name: str = "test client", **kwargs: object) -> Creds:
        data = ClientCreate.model_validate({"name": name, "role": role, **kwargs})
        with db.begin() as session:
            client, secret = gateway_service.create_client(session, data)
            return Creds(client.client_id, secret)

    return make


@pytest.fixture(scope="session")
def admin_token(api: TestClient, make_client: Callable[..., Creds]) -> str:
    return get_token(api, make_client("admin", name="test admin"))


@pytest.fixture(scope="session")
def bank_token(api: TestClient, make_client: Callable[..., Creds]) -> str:
    return get_token(api, make_client("bank", name="泰州农商行", bank_code="TZRCB"))


@pytest.fixture(scope="session")
def demo_database(new_database: Callable[[], str]) -> Iterator[DemoDatabase]:
    """The demo, loaded once for the session (tests/demo_db.py)."""
    with loaded_demo(new_database()) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def live_url(gateway_app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The one-process gateway on a real uvicorn server (for tests of real concurrency)."""
    with serve_app(gateway_app) as url:
        yield url


@pytest.fixture(scope="session")
def periods(db: sessionmaker[Session]) -> PeriodPool:
    """The process's pool of ranking periods (one database per pytest process). Session-scoped,
    so module and session fixtures that build one shared ranking take their period from it."""
    return PeriodPool(in_use=scoring_data_in(db))


@pytest.fixture
def period(periods: PeriodPool) -> int:
    """A ranking period no other test uses."""
    return periods.fresh()


@pytest.fixture(scope="session")
def factory(api: TestClient, admin_token: str, make_client: Callable[..., Creds]) -> Factory:
    """Builds banks, products, ranked enterprises and applications through the API."""
    return Factory(api, admin_token, make_client)
