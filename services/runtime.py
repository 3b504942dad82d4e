"""Composition root: build the gateway and the services for one process or for split mode."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from services.gateway import client_changes
from services.gateway.app import Backend, Gateway, create_gateway, database_key_set, make_verifier
from services.gateway.changes import ChangeKinds
from services.gateway.proxy import ServiceProxy
from services.guarantee import app as guarantee_app
from services.guarantee import changes as guarantee_changes
from services.loans import app as loans_app
from services.loans import changes as loans_changes
from services.loans.eligibility import product_ladders, product_shifts
from services.loans.products import bank_exists, bank_name
from services.scoring import app as scoring_app
from services.scoring import changes as scoring_changes
from shared.app import ServiceSpec, create_service_app
from shared.auth.jwt import KeySet
from shared.db import make_engine
from shared.http import jwks_loader
from shared.settings import CoreSettings, get_settings

SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec for spec in (scoring_app.SERVICE, loans_app.SERVICE, guarantee_app.SERVICE)
}

CHANGE_KINDS: ChangeKinds = {
    kind.name: kind
    for kind in (
        *scoring_changes.KINDS,
        *loans_changes.KINDS,
        *guarantee_changes.KINDS,
        *client_changes.KINDS,
    )
}
"""Every governed action (four eyes), for the gateway to run when one is approved."""


def engine_for(settings: CoreSettings, *, read: bool = False) -> Engine:
    """The process's engine for the configured database (`read`: for its read replica,
    `INNOCREDIT_READ_DATABASE_URL`, which the caller has checked is set)."""
    url = settings.read_database_url if read else settings.database_url
    if not url:
        raise RuntimeError("DATABASE_URL is not set (innocredit serve sets it for its children)")
    return make_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        lock_timeout_ms=settings.db_lock_timeout_ms,
        pooler=settings.db_pooler == "transaction",
    )


def read_engine_for(settings: CoreSettings) -> Engine | None:
    """The read replica's engine, when `INNOCREDIT_READ_DATABASE_URL` is set."""
    return engine_for(settings, read=True) if settings.read_database_url else None


def build_gateway(
    settings: CoreSettings, engine: Engine, read_engine: Engine | None = None
) -> Gateway:
    """The gateway: services mounted in-process, or proxied when their URLs are configured."""
    key_set = database_key_set(settings, engine)
    if settings.split_mode:
        urls = {
            "scoring": settings.scoring_url,
            "loans": settings.loans_url,
            "guarantee": settings.guarantee_url,
        }
        missing = [name for name, url in urls.items() if not url]
        if missing:
            raise RuntimeError(f"split mode needs INNOCREDIT_{missing[0].upper()}_URL as well")
        proxies = [
            ServiceProxy(name, str(url), timeout_seconds=settings.proxy_timeout_seconds)
            for name, url in urls.items()
        ]
        backends = [Backend(p.name, SERVICES[p.name].route_prefixes, p) for p in proxies]
        return create_gateway(
            settings,
            engine=engine,
            key_set=key_set,
            backends=backends,
            bank_exists=bank_exists,
            change_kinds=CHANGE_KINDS,
            proxies=proxies,
        )
    verifier = make_verifier(settings, key_set)
    backends = [
        Backend(
            spec.name,
            spec.route_prefixes,
            _inject(
                create_service_app(
                    spec,
                    settings,
                    engine=engine,
                    verifier=verifier,
                    edge=False,
                    read_engine=read_engine,
                )
            ),
        )
        for spec in SERVICES.values()
    ]
    return create_gateway(
        settings,
        engine=engine,
        key_set=key_set,
        backends=backends,
        bank_exists=bank_exists,
        change_kinds=CHANGE_KINDS,
    )


def build_service(
    name: str, settings: CoreSettings, engine: Engine, read_engine: Engine | None = None
) -> FastAPI:
    """One service on its own: it verifies tokens against the gateway's JWKS."""
    url = settings.jwks_url or "http://127.0.0.1:8000/.well-known/jwks.json"
    keys = KeySet(
        jwks_loader(url),
        max_age_seconds=settings.key_cache_seconds,
        unknown_kid_cooldown_seconds=settings.unknown_kid_cooldown_seconds,
    )
    verifier = make_verifier(settings, keys)
    return _inject(
        create_service_app(
            SERVICES[name], settings, engine=engine, verifier=verifier, read_engine=read_engine
        )
    )


def _inject(app: FastAPI) -> FastAPI:
    """Give a service app what it may not import but needs: scoring's what-if report asks
    loans which products a change of points moves, and the paths to a target ask for the
    products' limit tiers (`shared.eligibility`); a 诊断书 a bank asked for prints the bank's
    name (`services.scoring.documents.BankName`)."""
    app.state.product_shifts = product_shifts
    app.state.product_ladders = product_ladders
    app.state.bank_name = bank_name
    return app


# Factories for `uvicorn --factory` (what `innocredit serve` and deploy/ run).


def gateway_from_env() -> Gateway:
    """The gateway, configured from the environment."""
    settings = get_settings()
    return build_gateway(settings, engine_for(settings), read_engine_for(settings))


def scoring_from_env() -> FastAPI:
    """The scoring service on its own, configured from the environment."""
    settings = get_settings()
    return build_service("scoring", settings, engine_for(settings), read_engine_for(settings))


def loans_from_env() -> FastAPI:
    """The loans service on its own, configured from the environment."""
    settings = get_settings()
    return build_service("loans", settings, engine_for(settings), read_engine_for(settings))


def guarantee_from_env() -> FastAPI:
    """The guarantee service on its own, configured from the environment."""
    settings = get_settings()
    return build_service("guarantee", settings, engine_for(settings), read_engine_for(settings))
