"""The loans service app."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from services.loans.api import admin, router
from shared.app import create_service_app
from shared.auth.api import whoami_router
from shared.auth.jwt import TokenVerifier
from shared.settings import CoreSettings

NAME = "loans"
# Public paths this service answers; the gateway routes them here.
ROUTE_PREFIXES = ("/v1/loans", "/v1/admin/banks", "/v1/admin/products", "/v1/admin/calendar")


def create_app(
    settings: CoreSettings, *, engine: Engine, verifier: TokenVerifier, edge: bool = True
) -> FastAPI:
    """Create the loans app (`edge=False` when mounted inside the gateway's process)."""
    return create_service_app(
        title="InnoCredit loans",
        description=(
            "Banks, the nine 创新积分贷 products, applications, decisions against the "
            "two-working-day target, disbursements and statistics."
        ),
        settings=settings,
        engine=engine,
        verifier=verifier,
        routers=[whoami_router("/v1/loans"), router, admin],
        edge=edge,
    )
