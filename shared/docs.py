"""The OpenAPI document at `/openapi.json`, and `/docs` (Swagger UI) and `/redoc` (ReDoc)
that work without the internet.

FastAPI's pages load Swagger UI and ReDoc from a CDN, so on a bank's closed network they are
blank. Here the pages load the copies shipped in the pinned `fastapi-offline` package (Swagger
UI 5 — which renders the OpenAPI 3.1 document FastAPI writes — and ReDoc 2), served by the
app itself under `/docs/assets/`; nothing on the pages points off-host. The pages and their
assets need no token: the gateway's edge authenticates `/v1/*` only.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response

from shared.errors import NotFound
from shared.negotiation import HTML, JSON, require_acceptable

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
ASSETS_PATH = "/docs/assets"

_BUNDLE = Path(str(files("fastapi_offline") / "static"))
# The assets the pages load, by file name, with their media types: nothing else is served.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}


OPENAPI_PATH = "/openapi.json"


def install_document(app: FastAPI) -> None:
    """Serve `app.openapi()` at `/openapi.json` (FastAPI's own route, made with
    `openapi_url=None`, would answer JSON whatever `Accept` says)."""

    async def document(request: Request) -> JSONResponse:
        require_acceptable(request, JSON)
        return JSONResponse(request.app.openapi())

    app.add_route(OPENAPI_PATH, document, include_in_schema=False)


def install_docs(app: FastAPI, *, openapi_url: str = OPENAPI_PATH) -> None:
    """Serve `/docs`, its OAuth 2.0 redirect page, `/redoc` and their assets on `app`."""
    favicon = f"{ASSETS_PATH}/favicon.png"
    redirect = f"{DOCS_PATH}/oauth2-redirect"

    async def swagger_ui(request: Request) -> HTMLResponse:
        require_acceptable(request, HTML)
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — Swagger UI",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=favicon,
            oauth2_redirect_url=redirect,
            # Authorize keeps its token across page reloads; scopes preselect nothing, so a
            # token gets all of its client's role.
            swagger_ui_parameters={"persistAuthorization": True},
        )

    async def swagger_ui_redirect(request: Request) -> HTMLResponse:
        require_acceptable(request, HTML)
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        require_acceptable(request, HTML)
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} — ReDoc",
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            raise NotFound(f"No documentation asset {name!r}")
        require_acceptable(request, ASSETS[name].partition(";")[0])
        return FileResponse(
            _BUNDLE / name,
            media_type=ASSETS[name],
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.add_route(DOCS_PATH, swagger_ui, include_in_schema=False)
    app.add_route(redirect, swagger_ui_redirect, include_in_schema=False)
    app.add_route(REDOC_PATH, redoc, include_in_schema=False)
    app.add_route(f"{ASSETS_PATH}/{{name}}", asset, include_in_schema=False)
