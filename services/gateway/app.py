"""Compose the gateway: its endpoints, the edge, and the services (in-process or proxied)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway.api import admin, oauth
from services.gateway.changes import ChangeKinds
from services.gateway.changes_api import admin_changes
from services.gateway.dashboard import mount_assets, page
from services.gateway.directory import ClientDirectory
from services.gateway.discovery import discovery
from services.gateway.edge import Edge, Route
from services.gateway.proxy import ServiceProxy
from services.gateway.queries import key_loader
from services.gateway.quota import SharedQuota
from services.gateway.service import BankExists
from services.gateway.signin import dashboard
from services.gateway.users_api import admin_users
from shared.admission import AdmissionGate
from shared.app import ServiceSpec, create_service_app
from shared.auth.jwt import KeySet, TokenVerifier
from shared.crypto import KeyEncryptor
from shared.db import make_sessionmaker
from shared.middleware import edge_middleware, wrapped
from shared.openapi_ids import unique_operation_ids
from shared.settings import CoreSettings

# The gateway's own app answers every path no service claims (route_prefixes stay empty).
GATEWAY = ServiceSpec(
    name="gateway",
    title="InnoCredit gateway",
    description="OAuth 2.0 tokens, JWKS, API clients, signing keys, the audit trail, and the "
    "dashboard's users and sign-in.",
    routers=(oauth, discovery, admin, admin_users, admin_changes, dashboard, page),
    tags={
        "discovery": "Finding your way without a token: the authorization server's metadata "
        "(RFC 8414) and the problem types errors name (`/problems/{slug}`).",
        "admin: clients and keys": "Operators: API clients and their secrets, signing keys, "
        "the audit trail (scope `admin`).",
        "admin: users": "Operators: the people who sign in to the dashboard, their passwords "
        "and lockouts (scope `admin`).",
        "admin: changes": "Four eyes: the pending, approved and rejected changes of the rules "
        "(models, rankings, calendar, banks, products, fee rates, admin clients), read by the "
        "bureau and operators, approved or rejected by another operator than the maker.",
    },
)


@dataclass(frozen=True, slots=True)
class Backend:
    """A service the gateway routes to: its public path prefixes and the ASGI app serving them."""

    name: str
    prefixes: Sequence[str]
    app: ASGIApp


class Gateway:
    """The gateway as one ASGI app; `core` is its own FastAPI app (token, JWKS, admin) and
    `admission` the process's gate (its counters show what is in flight and waiting)."""

    def __init__(
        self,
        app: ASGIApp,
        core: FastAPI,
        proxies: Sequence[ServiceProxy],
        admission: AdmissionGate,
    ) -> None:
        self._app = app
        self.core = core
        self.proxies = proxies
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def make_verifier(settings: CoreSettings, keys: KeySet) -> TokenVerifier:
    """A verifier for this deployment's issuer and audience."""
    return TokenVerifier(keys, issuer=settings.issuer, audience=settings.audience)


def database_key_set(settings: CoreSettings, engine: Engine) -> KeySet:
    """The key set read from the gateway's signing-key table (gateway and in-process services)."""
    return KeySet(
        key_loader(make_sessionmaker(engine), token_ttl_seconds=settings.token_ttl_seconds),
        max_age_seconds=settings.key_cache_seconds,
        unknown_kid_cooldown_seconds=settings.unknown_kid_cooldown_seconds,
    )


def create_gateway(
    settings: CoreSettings,
    *,
    engine: Engine,
    key_set: KeySet,
    backends: Sequence[Backend],
    bank_exists: BankExists,
    change_kinds: ChangeKinds,
    proxies: Sequence[ServiceProxy] = (),
) -> Gateway:
    """Build the gateway in front of `backends` (in-process apps or `ServiceProxy`s);
    `bank_exists` checks a new bank client's `bank_code`; `change_kinds` are what an approval
    runs (every service's governed actions: the gateway approves, in split mode too)."""
    verifier = make_verifier(settings, key_set)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        for proxy in proxies:
            await proxy.aclose()

    core = create_service_app(GATEWAY, settings, engine=engine, verifier=verifier, edge=False)
    core.router.lifespan_context = lifespan
    mount_assets(core)
    core.state.key_set = key_set
    core.state.key_encryptor = KeyEncryptor(settings.key_encryption_key)
    core.state.bank_exists = bank_exists
    core.state.change_kinds = change_kinds
    directory = ClientDirectory(
        core.state.sessionmaker,
        ttl_seconds=settings.client_cache_seconds,
        session_idle_seconds=settings.session_idle_seconds,
    )
    core.state.client_directory = directory
    # One per process: the API's clients and the token endpoint.
    quota = SharedQuota(engine, lease_seconds=settings.quota_lease_seconds)
    core.state.quota = quota
    _merge_openapi(core, [b.app for b in backends if isinstance(b.app, FastAPI)])

    edge = Edge(
        core=core,
        routes=[Route(prefix, b.app) for b in backends for prefix in b.prefixes],
        verifier=verifier,
        directory=directory,
        limiter=quota,
        default_rate_per_minute=settings.rate_limit_per_minute,
        sessionmaker=core.state.sessionmaker,
    )
    # A split gateway admits and queues as many requests as the services it fronts together:
    # its own limit is then never the narrower one (in one process, all is one service's).
    admission = AdmissionGate.for_settings(settings, services=max(1, len(proxies)))
    middleware = edge_middleware(settings, admission=admission, routes_for=edge.routes_for)
    return Gateway(wrapped(edge, middleware), core, proxies, admission)


def _merge_openapi(core: FastAPI, apps: Sequence[FastAPI]) -> None:
    """Serve one OpenAPI document at the gateway covering the in-process services too."""
    own = core.openapi  # the gateway's own endpoints, problems described (shared.openapi)

    def openapi() -> dict[str, Any]:
        if core.openapi_schema is not None:
            return core.openapi_schema
        schema = own()
        components: dict[str, Any] = schema.setdefault("components", {})
        for app in apps:
            other = app.openapi()
            for path, item in other.get("paths", {}).items():
                if path not in {"/healthz", "/readyz"}:
                    schema["paths"].setdefault(path, item)
            schema.setdefault("webhooks", {}).update(other.get("webhooks", {}))
            for kind, entries in other.get("components", {}).items():
                _merge_components(components.setdefault(kind, {}), entries)
            named = {tag["name"] for tag in schema.setdefault("tags", [])}
            schema["tags"] += [tag for tag in other.get("tags", []) if tag["name"] not in named]
        core.openapi_schema = unique_operation_ids(schema)
        return schema

    core.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def _merge_components(into: dict[str, Any], entries: Mapping[str, Any]) -> None:
    for name, value in entries.items():
        into.setdefault(name, value)
