"""Schemathesis fuzzing of every operation in the gateway's OpenAPI document, once per role.

The gateway serves one document covering its own endpoints and the three services
(`test_the_gateway_document_covers_every_service` proves it). Each role's token fuzzes every
operation with all of Schemathesis's checks on, plus ours: every 4xx is a problem document
whose `status` is the HTTP status. The fuzz database first gets a small world through the
API (`tests.fuzz.seed_world`: the bank's product, ranked enterprises, consents to the
firm, applications in each state), whose ids and codes go into two in three positive
cases, so the writes and the feature export get past their 404s (and a test checks that
each of those operations answered 2xx). A fixed seed and derandomized generation make a
run repeatable. The fast profile runs in every `pytest`; `INNOCREDIT_FUZZ_PROFILE=long`
runs the same suite with many more examples and the coverage phase (see README, "Fuzzing").
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from schemathesis import Case

from services.gateway.app import Gateway, database_key_set, make_verifier
from services.runtime import SERVICES, build_gateway
from shared import migrate
from shared.app import create_service_app
from shared.auth.principal import ROLES
from shared.db import make_engine
from tests.factories import Creds, get_token
from tests.fuzz import (
    BANK_CODE,
    FIRM_CODE,
    FIXES,
    Seeded,
    Target,
    World,
    api_document,
    declared_access,
    load_schema,
    operation_labels,
    problem_details,
    role_token,
    seed_world,
)
from tests.servers import make_settings

# Loaded at import, as Schemathesis's pytest plugin wants; building the document needs no
# database. `fuzz_gateway` binds the gateway under test, and a test checks that it serves
# this very document; `fuzz_world` binds the world whose ids the cases are given.
TARGET = Target()
SEEDED = Seeded()
schema = load_schema(TARGET, SEEDED)


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

    codes = {"bank": {"bank_code": BANK_CODE}, "credit_firm": {"firm_code": FIRM_CODE}}
    clients = {}
    with fuzz_gateway.core.state.sessionmaker.begin() as session:
        for role in ROLES:
            data = ClientCreate.model_validate(
                {"name": f"fuzz {role}", "role": role, **codes.get(role, {})}
            )
            client, secret = gateway_service.create_client(session, data)
            clients[role] = Creds(client.client_id, secret)
    return Tokens(fuzz_api, clients)


@pytest.fixture(scope="module")
def fuzz_world(fuzz_api: TestClient, fuzz_tokens: Tokens) -> Iterator[World]:
    """The world made through the API, bound for the cases to draw its ids from."""
    SEEDED.world = seed_world(fuzz_api, fuzz_tokens.__getitem__)
    yield SEEDED.world
    SEEDED.world = None


def test_the_gateway_document_covers_every_service() -> None:
    """Every operation and component of each service's own document is in the gateway's."""
    settings = make_settings("postgresql://unused@127.0.0.1:1/unused")
    assert settings.database_url
    engine = make_engine(settings.database_url)  # never connected: documents only
    merged = api_document()
    verifier = make_verifier(settings, database_key_set(settings, engine))
    for name, spec in SERVICES.items():
        app = create_service_app(spec, settings, engine=engine, verifier=verifier, edge=False)
        own = app.openapi()
        for path, item in own["paths"].items():
            for method, operation in item.items():
                assert merged["paths"][path][method] == operation, (name, method, path)
        for kind, entries in own.get("components", {}).items():
            for key, value in entries.items():
                assert merged["components"][kind][key] == value, (name, kind, key)
    engine.dispose()


def test_the_fuzzed_document_is_the_one_the_gateway_serves(fuzz_api: TestClient) -> None:
    assert fuzz_api.get("/openapi.json").json() == api_document()


def test_every_fix_is_an_operation_of_the_document() -> None:
    """A renamed path or method must not quietly leave its operation without the world."""
    assert sorted(set(FIXES) - set(_operations())) == []


# What test_fuzz saw in this process: (operation, role) pairs run, statuses per operation.
RAN: set[tuple[str, str]] = set()
STATUSES: dict[str, set[int]] = defaultdict(set)


@schema.parametrize()
@pytest.mark.parametrize("role", ROLES)
def test_fuzz(case: Case[Any], role: str, fuzz_world: World, fuzz_tokens: Tokens) -> None:
    RAN.add((case.operation.label, role))
    checks = [problem_details, declared_access(role)]
    with role_token(case, fuzz_tokens[role]):
        response = case.call_and_validate(additional_checks=checks)
    STATUSES[case.operation.label].add(response.status_code)
    fuzz_world.learn(case.operation.label, response.status_code, response.json)


def test_the_world_gets_every_operation_it_fixes_a_2xx() -> None:
    """Each operation the world's ids go into answered 2xx at least once in test_fuzz (which
    runs before this test): a world no longer matching the API fails here, not silently."""
    everything = {(label, role) for label in _operations() for role in ROLES}
    if not everything <= RAN:
        pytest.skip("needs the whole of test_fuzz run in this process (not with -k or xdist)")
    never = [label for label in FIXES if not any(200 <= s < 300 for s in STATUSES[label])]
    assert never == []


def _operations() -> list[str]:
    return operation_labels()
