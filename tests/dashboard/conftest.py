"""Fixtures of the dashboard's tests: the demo behind a real server, one chromium per session,
and where screenshots go."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from services.runtime import build_gateway
from tests.browser import chromium, chromium_path
from tests.dashboard.clients import api_as
from tests.dashboard.paths import ARTIFACTS, README_SCREENSHOT
from tests.demo_db import DemoDatabase
from tests.servers import make_settings, serve_app


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium for a module's tests. Not for the session: while Playwright's sync API is
    open, its event loop counts as running in this thread, and a later test's `asyncio.run`
    would refuse to start."""
    with chromium(chromium_path()) as launched:
        yield launched


@pytest.fixture(scope="session")
def demo_site(demo_database: DemoDatabase) -> Iterator[str]:
    """The demo's gateway on a real uvicorn server (the browser needs a real address)."""
    gateway = build_gateway(make_settings(demo_database.url), demo_database.engine)
    with serve_app(gateway) as url:
        yield url


@pytest.fixture(scope="session")
def bureau_api(demo_site: str, demo_database: DemoDatabase) -> Iterator[httpx.Client]:
    """The API as the bureau's own client sees it."""
    with api_as(demo_site, demo_database, "泰州市科技局 dashboard") as client:
        yield client


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> tuple[Path, Path | None]:
    """Where a test writes its screenshots (test artefacts, gitignored), and the README's
    screenshot when `--update-screenshots` is given."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    update = bool(request.config.getoption("--update-screenshots"))
    return ARTIFACTS, README_SCREENSHOT if update else None
