"""`x-access`: every operation declares who may call it, read from its route's gates.

No database: the documents are built from the apps alone, and the gates are called with
principals made here. The sweeps that hold the running API to the declaration are
tests/test_authorization.py (role × operation), tests/test_bola.py (objects by id) and
tests/test_fuzz.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from services.gateway.app import GATEWAY, database_key_set, make_verifier
from services.runtime import SERVICES
from shared.app import create_service_app
from shared.auth.deps import (
    ActingBank,
    Admin,
    BanksVisible,
    CurrentPrincipal,
    ExportReader,
    FirmsVisible,
    LoansReader,
    LoansWriter,
    ProgrammeWide,
    acting_bank,
    acting_firm,
    bank_visibility,
    firm_visibility,
    gate_of,
    get_principal,
    programme_wide,
    refused_as,
    require_scopes,
)
from shared.auth.principal import ROLE_SCOPES, ROLES, Principal
from shared.auth.tenancy import OneFirm
from shared.db import make_engine
from shared.errors import Forbidden, InsufficientScope
from shared.openapi import install_problem_document
from tests.fuzz import api_document
from tests.servers import make_settings

KEYS = {"public", "scopes", "roles", "tenant", "owner"}
PUBLIC = {"public": True, "scopes": [], "roles": list(ROLES), "tenant": None, "owner": None}


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_every_operation_of_the_gateway_document_declares_its_access() -> None:
    document = api_document()
    operations = list(_operations(document))
    assert len(operations) > 50
    for method, path, operation in operations:
        access = operation.get("x-access")
        assert isinstance(access, dict), f"{method} {path} declares no x-access"
        assert set(access) == KEYS, (method, path, access)
        assert access["roles"], (method, path)
        assert [r for r in ROLES if r in access["roles"]] == access["roles"], (method, path)
        assert access["tenant"] in ("bank", "firm", None), (method, path)
        assert access["owner"] in (access["tenant"], None), (method, path)
        assert access["public"] is not bool(operation.get("security")), (method, path)
    public = {(m, p) for m, p, op in operations if op["x-access"]["public"]}
    assert ("POST", "/oauth/token") in public
    assert ("GET", "/.well-known/jwks.json") in public
    assert ("GET", "/healthz") in public
    for method, path in public:
        assert document["paths"][path][method.lower()]["x-access"] == PUBLIC


# ---------------------------------------------------------------- the derivation


class NotOurs(Forbidden):
    default_detail = "Not ours"


Exporting = Annotated[OneFirm, Depends(refused_as(NotOurs, acting_firm))]


def admin_body(_: Admin) -> str:
    """A gate two dependencies down, as a body parser that needs an operator."""
    return "body"


AdminBody = Annotated[str, Depends(admin_body)]


def _example_app() -> FastAPI:
    """Routes that use each gate the way the services do."""
    app = FastAPI()

    @app.get("/open")
    def open_() -> None: ...

    @app.get("/me")
    def me(_: CurrentPrincipal) -> None: ...

    @app.get("/things")
    def things(_: LoansReader, seen: BanksVisible) -> None: ...

    @app.get("/things/{thing_id}")
    def thing(thing_id: str, _: LoansReader, seen: BanksVisible) -> None: ...

    @app.post("/things/{thing_id}")
    def change(thing_id: str, _: LoansWriter, bank: ActingBank) -> None: ...

    @app.get("/firms/{firm_id}/audit")
    def audit(firm_id: str, _: Admin, firms: FirmsVisible) -> None: ...

    @app.get("/programme/{year}")
    def programme(year: int, _: LoansReader, who: ProgrammeWide) -> None: ...

    @app.get("/export")
    def export(_: ExportReader, firm: Exporting) -> None: ...

    @app.put("/bodies/{name}")
    def body(name: str, parsed: AdminBody) -> None: ...

    operators = APIRouter(prefix="/ops", dependencies=[Depends(require_scopes("admin"))])

    @operators.get("/{code}")
    def op(code: str) -> None: ...

    app.include_router(operators)
    install_problem_document(app)
    return app


def _access(app: FastAPI, method: str, path: str) -> dict[str, Any]:
    access: dict[str, Any] = app.openapi()["paths"][path][method]["x-access"]
    return access


def test_access_is_derived_from_the_routes_gates() -> None:
    app = _example_app()
    reads = ["bank", "bureau", "admin"]

    def declared(scopes: list[str], roles: list[str], tenant: Any, owner: Any) -> dict[str, Any]:
        return {"public": False, "scopes": scopes, "roles": roles, "tenant": tenant, "owner": owner}

    assert _access(app, "get", "/open") == PUBLIC
    assert _access(app, "get", "/me") == declared([], list(ROLES), None, None)
    assert _access(app, "get", "/things") == declared(["loans:read"], reads, "bank", None)
    thing = _access(app, "get", "/things/{thing_id}")
    assert thing == declared(["loans:read"], reads, "bank", "bank")
    change = _access(app, "post", "/things/{thing_id}")
    assert change == declared(["loans:write"], ["bank"], "bank", "bank")
    # An id an operator alone may use names nobody's object as far as tenants go.
    audit = _access(app, "get", "/firms/{firm_id}/audit")
    assert audit == declared(["admin"], ["admin"], "firm", None)
    programme = _access(app, "get", "/programme/{year}")
    assert programme == declared(["loans:read"], ["bureau", "admin"], None, None)
    export = _access(app, "get", "/export")
    assert export == declared(["export:read"], ["credit_firm"], "firm", None)
    assert _access(app, "put", "/bodies/{name}") == declared(["admin"], ["admin"], None, None)
    assert _access(app, "get", "/ops/{code}") == declared(["admin"], ["admin"], None, None)


def test_a_route_restricted_to_banks_and_firms_at_once_is_refused() -> None:
    app = FastAPI()

    @app.get("/both")
    def both(seen: BanksVisible, firms: FirmsVisible) -> None: ...

    install_problem_document(app)
    with pytest.raises(ValueError, match="both"):
        app.openapi()


# ---------------------------------------------------------------- the gates enforce their rule


def _principal(role: str) -> Principal:
    return Principal(
        client_id=f"ic_{role}",
        role=role,  # type: ignore[arg-type]  # one of ROLES
        scopes=ROLE_SCOPES[role],
        bank_code="B1" if role == "bank" else None,
        firm_code="F1" if role == "credit_firm" else None,
    )


TENANT_GATES: list[Callable[[Principal], Coroutine[Any, Any, Any]]] = [
    bank_visibility,
    acting_bank,
    firm_visibility,
    acting_firm,
    programme_wide,
]


@pytest.mark.parametrize("dependency", TENANT_GATES, ids=lambda d: d.__name__)
def test_a_tenant_gate_admits_exactly_the_roles_it_declares(
    dependency: Callable[[Principal], Coroutine[Any, Any, Any]],
) -> None:
    gate = gate_of(dependency)
    assert gate is not None
    assert gate.roles is not None
    for role in ROLES:
        if role in gate.roles:
            asyncio.run(dependency(_principal(role)))
        else:
            with pytest.raises(Forbidden):
                asyncio.run(dependency(_principal(role)))


def test_a_scope_gate_admits_the_roles_that_hold_its_scopes() -> None:
    for scope in sorted(set().union(*ROLE_SCOPES.values())):
        check = require_scopes(scope)
        gate = gate_of(check)
        assert gate is not None
        assert gate.scopes == {scope}
        for role in ROLES:
            if scope in ROLE_SCOPES[role]:
                asyncio.run(check(_principal(role)))
            else:
                with pytest.raises(InsufficientScope):
                    asyncio.run(check(_principal(role)))


def test_a_refusal_of_its_own_keeps_the_gate() -> None:
    refusing = refused_as(NotOurs, acting_firm)
    assert gate_of(refusing) == gate_of(acting_firm)
    assert asyncio.run(refusing(_principal("credit_firm"))) == OneFirm("F1")
    with pytest.raises(NotOurs):
        asyncio.run(refusing(_principal("admin")))


# ---------------------------------------------------------------- nothing checks a role unseen


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _dependants(dependency)


def _api_routes(app: FastAPI) -> list[RouteContext]:
    return [r for r in iter_route_contexts(app.routes) if isinstance(r.original_route, APIRoute)]


def undeclared_gates(app: FastAPI) -> list[str]:
    """Dependencies that read the caller but are no gate: a role check there would be
    invisible to `x-access`."""
    found = []
    for route in _api_routes(app):
        for dependency in _dependants(route.dependant):
            reads_the_caller = any(d.call is get_principal for d in dependency.dependencies)
            if reads_the_caller and dependency.call and gate_of(dependency.call) is None:
                found.append(f"{route.path_format}: {dependency.call.__name__}")
    return found


@pytest.fixture(scope="module")
def apps() -> Iterator[list[FastAPI]]:
    settings = make_settings("postgresql://unused@127.0.0.1:1/unused")
    assert settings.database_url
    engine = make_engine(settings.database_url)  # never connected
    verifier = make_verifier(settings, database_key_set(settings, engine))
    specs = [GATEWAY, *SERVICES.values()]
    yield [
        create_service_app(spec, settings, engine=engine, verifier=verifier, edge=False)
        for spec in specs
    ]
    engine.dispose()


def test_every_dependency_that_reads_the_caller_is_a_gate(apps: list[FastAPI]) -> None:
    assert sum(len(_api_routes(app)) for app in apps) > 50
    for app in apps:
        assert undeclared_gates(app) == [], app.title


def only_banks(principal: CurrentPrincipal) -> str:
    """A role check that is no gate."""
    if principal.role != "bank":
        raise Forbidden("banks only")
    return principal.client_id


OnlyBanks = Annotated[str, Depends(only_banks)]


def test_a_role_check_of_its_own_is_found() -> None:
    app = FastAPI()

    @app.get("/mine")
    def mine(who: OnlyBanks) -> None: ...

    assert undeclared_gates(app) == ["/mine: only_banks"]
