"""Build a FastAPI app the InnoCredit way: problem errors, edge middleware, health, auth state."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import Engine

from shared.auth.api import whoami_router
from shared.auth.jwt import TokenVerifier
from shared.db import make_sessionmaker
from shared.docs import install_docs, install_document
from shared.exception_handlers import install_error_handlers
from shared.middleware import edge_middleware
from shared.migrate import schema_state
from shared.negotiation import negotiate
from shared.openapi import install_problem_document
from shared.openapi_ids import operation_id
from shared.settings import CoreSettings


def settings_of(request: Request) -> CoreSettings:
    """The settings the app serving `request` was built with."""
    settings: CoreSettings = request.app.state.settings
    return settings


async def _app_settings(request: Request) -> CoreSettings:
    """`settings_of` as a dependency (`async`: FastAPI runs a `def` one in a worker thread)."""
    return settings_of(request)


AppSettings = Annotated[CoreSettings, Depends(_app_settings)]


def health_router(
    engine: Engine, *, extra_checks: Callable[[], dict[str, str]] | None = None
) -> APIRouter:
    """`/healthz` (the process answers) and `/readyz` (database reachable, schema at this
    release's head or ahead of it: a later release's additive migration)."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness")
    def check_liveness() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: database reachable and migrated to head")
    def check_readiness() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                checks["database"] = "ok"
                checks["migrations"] = schema_state(conn)
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        if extra_checks is not None:
            checks.update(extra_checks())
        # A schema ahead is a rolling upgrade in progress: this release still serves on it.
        ready = all(v in ("ok", "ahead") for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    return router


# The tags every app's document has (its health probes; `whoami` where it answers it).
COMMON_TAGS: Mapping[str, str] = {
    "health": "Liveness and readiness probes (no token).",
    "auth": "OAuth 2.0 client credentials: tokens, the keys that verify them, and `whoami` "
    "(what a token says).",
}


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """What sets one app apart from the others: its name, the title and description of its
    OpenAPI document, its routers, the public path prefixes the gateway routes to it, where
    it answers `whoami` (None: it does not), the description of each tag its routers
    use (`tags`, in the order the document lists them), and the requests it sends to others
    (`webhooks`: described, never served)."""

    name: str
    title: str
    description: str
    routers: tuple[APIRouter, ...]
    route_prefixes: tuple[str, ...] = ()
    whoami_prefix: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    webhooks: APIRouter | None = None  # the requests it sends (OpenAPI 3.1 `webhooks`)


def create_service_app(
    spec: ServiceSpec,
    settings: CoreSettings,
    *,
    engine: Engine,
    verifier: TokenVerifier,
    edge: bool = True,
    read_engine: Engine | None = None,
) -> FastAPI:
    """Create the app of `spec`: problem errors, health, its routers, the problem document.

    `edge=False` builds the app for mounting inside the gateway's process: the gateway has
    already assigned the request id, limited the body, logged the access and verified the token.
    `read_engine`: the read replica's, for `ReplicaSession` (the primary's when None).
    """
    docs = settings.docs_enabled
    edge_stack = edge_middleware(settings) if edge else None
    app = FastAPI(
        title=spec.title,
        description=spec.description,
        version="1.0.0",
        docs_url=None,  # served offline by `shared.docs` when `docs_enabled`
        redoc_url=None,
        openapi_url=None,  # served by `shared.docs.install_document`, negotiated
        middleware=edge_stack,
        dependencies=[Depends(negotiate)],  # 406 when Accept allows nothing a route offers
        generate_unique_id_function=operation_id,
        openapi_tags=[
            {"name": name, "description": text}
            for name, text in {**COMMON_TAGS, **spec.tags}.items()
        ],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.read_sessionmaker = (
        app.state.sessionmaker if read_engine is None else make_sessionmaker(read_engine)
    )
    app.state.token_verifier = verifier
    install_error_handlers(app)
    app.include_router(health_router(engine))
    if spec.whoami_prefix is not None:
        app.include_router(whoami_router(spec.whoami_prefix))
    for router in spec.routers:
        app.include_router(router)
    if spec.webhooks is not None:
        app.webhooks.include_router(spec.webhooks)
    install_problem_document(app)
    install_document(app)
    if docs:
        install_docs(app)
    return app
