"""The dashboard page itself: `GET /dashboard/` and its static files under `/dashboard/static/`.

The page is static: its HTML (services/gateway/dashboard.html), and its stylesheet, ES modules
and the vendored Apache ECharts (services/gateway/dashboard_static/). It computes no figure: it
asks the gateway for a token for its session (`POST /dashboard/api/token`,
services/gateway/signin.py) and reads the `/v1` API like any client, so a bank user sees
exactly what a bank's token sees. `/dashboard/` answers only a signed-in browser (anyone else
is sent to the sign-in form); the static files are public (they hold no data) and served with
`nosniff`, the page's Content-Security-Policy and revalidation (`no-cache` with an ETag), so an
upgraded gateway never serves a stale script.
"""

from __future__ import annotations

import os
from pathlib import Path

from anyio import to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from services.gateway.browser import PAGE_HEADERS, live_session
from shared.negotiation import HTML, JSON, require_acceptable
from shared.vocab import (
    CATEGORY_LABELS,
    CATEGORY_NAMES_EN,
    DISTRICTS,
    STAGE_LABELS,
    STAGE_NAMES_EN,
)

STATIC_DIR = Path(__file__).with_name("dashboard_static")
PAGE = Path(__file__).with_name("dashboard.html")  # not a static file: only for a session
STATIC_PATH = "/dashboard/static"
ASSET_HEADERS = {
    "Content-Security-Policy": PAGE_HEADERS["Content-Security-Policy"],
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

page = APIRouter(prefix="/dashboard", include_in_schema=False)


class DashboardAssets(StaticFiles):
    """The page's static files with the headers above (a conditional request gets 304)."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(ASSET_HEADERS)
        if str(full_path).endswith(".js"):
            response.headers["Content-Type"] = "text/javascript; charset=utf-8"
        return response


def _signed_in(request: Request) -> bool:
    with request.app.state.sessionmaker.begin() as session:
        return live_session(request, session) is not None


@page.get("")
async def dashboard_root() -> RedirectResponse:
    """`/dashboard` → `/dashboard/` (relative links on the page resolve under it)."""
    return RedirectResponse("/dashboard/", 308, headers=PAGE_HEADERS)


@page.get("/", response_model=None)
async def dashboard_page(request: Request) -> Response:
    """The page for a signed-in browser; anyone else is sent (303) to the sign-in form."""
    require_acceptable(request, HTML)
    if not await to_thread.run_sync(_signed_in, request):
        return RedirectResponse("/dashboard/sign-in", 303, headers=PAGE_HEADERS)
    return FileResponse(PAGE, media_type=HTML, headers=PAGE_HEADERS)


@page.get("/vocabulary.json")
async def vocabulary(request: Request) -> JSONResponse:
    """The programme's fixed vocabulary the page labels its filters with (shared/vocab.py: the
    districts, and the Chinese and English names of growth stages and categories); nothing
    secret."""
    require_acceptable(request, JSON)
    body = {
        "districts": list(DISTRICTS),
        "stages": {"zh": STAGE_LABELS, "en": STAGE_NAMES_EN},
        "categories": {"zh": CATEGORY_LABELS, "en": CATEGORY_NAMES_EN},
    }
    return JSONResponse(body, headers={**ASSET_HEADERS, "Cache-Control": "no-cache"})


def mount_assets(app: FastAPI) -> None:
    """Serve the page's static files under `/dashboard/static` on the gateway's own app."""
    app.mount(STATIC_PATH, DashboardAssets(directory=STATIC_DIR), name="dashboard-static")
