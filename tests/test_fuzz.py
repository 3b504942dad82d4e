"""Schemathesis fuzzing of every operation in the gateway's OpenAPI document, once per role.

The gateway serves one document covering its own endpoints and the three services
(`test_the_gateway_document_covers_every_service` proves it). Each role's token fuzzes every
operation with all of Schemathesis's checks on, plus ours: every 4xx is a problem document
whose `status` is the HTTP status. A fixed seed and derandomized generation make a run
repeatable. The fast profile runs in every `pytest`; `INNOCREDIT_FUZZ_PROFILE=long` runs the
same suite with many more examples and the coverage phase (see README, "Fuzzing").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from schemathesis import Case

from services.gateway.app import Gateway, database_key_set, make_verifier
from services.runtime import SERVICES, build_gateway
from shared import migrate
from shared.db import make_engine
from tests.conftest import Creds, get_token, make_settings
from tests.fuzz import ROLES, Target, api_document, load_schema, problem_details, use_token

# Loaded at import, as Schemathesis's pytest plugin wants; building the document needs no
# database. `fuzz_gateway` binds the gateway under test, and a test checks that it serves
# this very document.
TARGET = Target()
schema = load_schema(TARGET)


@pytest.fixture(scope="module")
def fuzz_gateway(new_database: Callable[[], str]) -> Iterator[Gateway]:
    """A gateway on a database of its own: the fuzzer's writes must not reach other tests."""
    url = new_database()
    migrate.upgrade(url, "head")
    engine = make_engine(url)
    gateway = build_gateway(make_settings(url), engine)
    TARGET.app = gateway
    yield gateway
    TARGET.app = None
    engine.dispose()


@pytest.fixture(scope="module")
def fuzz_api(fuzz_gateway: Gateway) -> Iterator[TestClient]:
    with TestClient(fuzz_gateway, base_url="http://testserver") as client:
        yield client


class Tokens:
    """One client per role in the fuzz database; a token is minted again before it expires."""

    REFRESH_AFTER_SECONDS = 600  # tokens live 15 min; a long run outlives one

    def __init__(self, api: TestClient, clients: dict[str, Creds]) -> None:
        self._api = api
        self._clients = clients
        self._minted: dict[str, tuple[float, str]] = {}

    def __getitem__(self, role: str) -> str:
        minted = self._minted.get(role)
        if minted is None or time.monotonic() - minted[0] > self.REFRESH_AFTER_SECONDS:
            minted = (time.monotonic(), get_token(self._api, self._clients[role]))
            self._minted[role] = minted
        return minted[1]


@pytest.fixture(scope="module")
def fuzz_tokens(fuzz_gateway: Gateway, fuzz_api: TestClient) -> Tokens:
    from services.gateway import service as gateway_service
    from services.gateway.schemas import ClientCreate

    codes = {"bank": {"bank_code": "FUZZ"}, "credit_firm": {"firm_code": "FUZZ"}}
    clients = {}
    with fuzz_gateway.core.state.sessionmaker.begin() as session:
        for role in ROLES:
            data = ClientCreate.model_validate(
                {"name": f"fuzz {role}", "role": role, **codes.get(role, {})}
            )
            client, secret = gateway_service.create_client(session, data)
            clients[role] = Creds(client.client_id, secret)
    return Tokens(fuzz_api, clients)


def test_the_gateway_document_covers_every_service() -> None:
    """Every operation and component of each service's own document is in the gateway's."""
    settings = make_settings("postgresql://unused@127.0.0.1:1/unused")
    assert settings.database_url
    engine = make_engine(settings.database_url)  # never connected: documents only
    merged = api_document()
    verifier = make_verifier(settings, database_key_set(settings, engine))
    for name, (factory, _) in SERVICES.items():
        own = factory(settings, engine=engine, verifier=verifier, edge=False).openapi()
        for path, item in own["paths"].items():
            for method, operation in item.items():
                assert merged["paths"][path][method] == operation, (name, method, path)
        for kind, entries in own.get("components", {}).items():
            for key, value in entries.items():
                assert merged["components"][kind][key] == value, (name, kind, key)
    engine.dispose()


def test_the_fuzzed_document_is_the_one_the_gateway_serves(fuzz_api: TestClient) -> None:
    assert fuzz_api.get("/openapi.json").json() == api_document()


@schema.parametrize()
@pytest.mark.parametrize("role", ROLES)
def test_fuzz(case: Case[Any], role: str, fuzz_gateway: Gateway, fuzz_tokens: Tokens) -> None:
    use_token(case, fuzz_tokens[role])
    case.call_and_validate(additional_checks=[problem_details])
