"""Build a FastAPI app the InnoCredit way: problem errors, edge middleware, health, auth state."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import Engine

from shared.auth.jwt import TokenVerifier
from shared.db import make_sessionmaker
from shared.errors import install_error_handlers
from shared.middleware import (
    AccessLogMiddleware,
    BodyLimitMiddleware,
    CatchAllMiddleware,
    InFlightLimitMiddleware,
    RequestIdMiddleware,
)
from shared.migrate import at_head
from shared.openapi import install_problem_document
from shared.settings import CoreSettings

UPLOAD_PREFIXES = ("/v1/admin/",)


def settings_of(request: Request) -> CoreSettings:
    """The settings the app serving `request` was built with."""
    settings: CoreSettings = request.app.state.settings
    return settings


AppSettings = Annotated[CoreSettings, Depends(settings_of)]


def body_limit(settings: CoreSettings) -> Callable[[str], int]:
    """Return the body-size limit for a path: larger for admin bulk uploads."""

    def limit_for(path: str) -> int:
        if path.startswith(UPLOAD_PREFIXES):
            return settings.max_upload_bytes
        return settings.max_body_bytes

    return limit_for


def health_router(
    engine: Engine, *, extra_checks: Callable[[], dict[str, str]] | None = None
) -> APIRouter:
    """`/healthz` (the process answers) and `/readyz` (database reachable, schema at head)."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: database reachable and migrated to head")
    def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                checks["database"] = "ok"
                checks["migrations"] = "ok" if at_head(conn) else "behind head"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        if extra_checks is not None:
            checks.update(extra_checks())
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    return router


def create_service_app(
    *,
    title: str,
    description: str,
    settings: CoreSettings,
    engine: Engine,
    verifier: TokenVerifier,
    routers: Sequence[APIRouter],
    edge: bool = True,
) -> FastAPI:
    """Create a service app.

    `edge=False` builds the app for mounting inside the gateway's process: the gateway has
    already assigned the request id, limited the body, logged the access and verified the token.
    """
    docs = settings.docs_enabled
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.token_verifier = verifier
    install_error_handlers(app)
    app.include_router(health_router(engine))
    for router in routers:
        app.include_router(router)
    install_problem_document(app)
    if edge:
        app.add_middleware(CatchAllMiddleware)
        app.add_middleware(
            InFlightLimitMiddleware,
            limit=settings.max_in_flight,
            body_timeout=settings.body_timeout_seconds,
        )
        app.add_middleware(BodyLimitMiddleware, limit_for=body_limit(settings))
        app.add_middleware(AccessLogMiddleware)
        app.add_middleware(RequestIdMiddleware)
    return app
