"""The guarantee service app."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from services.guarantee.api import admin, router
from shared.app import create_service_app
from shared.auth.api import whoami_router
from shared.auth.jwt import TokenVerifier
from shared.settings import CoreSettings

NAME = "guarantee"
# Public paths this service answers; the gateway routes them here.
ROUTE_PREFIXES = ("/v1/guarantee", "/v1/admin/consents", "/v1/admin/fee-rates")


def create_app(
    settings: CoreSettings, *, engine: Engine, verifier: TokenVerifier, edge: bool = True
) -> FastAPI:
    """Create the guarantee app (`edge=False` when mounted inside the gateway's process)."""
    return create_service_app(
        title="InnoCredit guarantee",
        description=(
            "泰信保 waiver status, guarantee fee quotes, consents and the credit-firm "
            "feature export."
        ),
        settings=settings,
        engine=engine,
        verifier=verifier,
        routers=[whoami_router("/v1/guarantee"), router, admin],
        edge=edge,
    )
