"""A gateway with four eyes on (`INNOCREDIT_FOUR_EYES=all`) over the suite's database, two
admin clients (maker and checker), and the ordinary, ungoverned factory to set the world up."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from services.runtime import build_gateway
from tests.factories import Creds
from tests.governance.governed import Governed
from tests.servers import make_settings, serve_app


@pytest.fixture(scope="module")
def gov(database_url: str, engine: Engine, make_client: Callable[..., Creds]) -> Iterator[Governed]:
    app = build_gateway(make_settings(database_url, four_eyes="all"), engine)
    with TestClient(app, base_url="http://testserver") as api, serve_app(app) as url:
        yield Governed(
            api,
            url,
            make_client("admin", name="maker"),
            make_client("admin", name="checker"),
            make_client,
        )
