"""The scoring service app."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from services.scoring.api import admin, router
from shared.app import create_service_app
from shared.auth.api import whoami_router
from shared.auth.jwt import TokenVerifier
from shared.settings import CoreSettings

NAME = "scoring"
# Public paths this service answers; the gateway routes them here.
ROUTE_PREFIXES = (
    "/v1/scoring",
    "/v1/admin/enterprises",
    "/v1/admin/industries",
    "/v1/admin/indicators",
    "/v1/admin/models",
    "/v1/admin/points",
)


def create_app(
    settings: CoreSettings, *, engine: Engine, verifier: TokenVerifier, edge: bool = True
) -> FastAPI:
    """Create the scoring app (`edge=False` when mounted inside the gateway's process)."""
    return create_service_app(
        title="InnoCredit scoring",
        description=(
            "Enterprises, indicator data, the points model, rankings and the 诊断书 (diagnosis)."
        ),
        settings=settings,
        engine=engine,
        verifier=verifier,
        routers=[whoami_router("/v1/scoring"), router, admin],
        edge=edge,
    )
