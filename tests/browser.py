"""A real browser for the dashboard's tests and bench: Debian's `chromium` (never a browser
downloaded at run time) driven by Playwright, with every page watched for console errors,
script errors, Content-Security-Policy violations and requests leaving the service."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

VIEWPORT = {"width": 1360, "height": 900}


def chromium_path() -> str:
    """Debian's chromium; skipped where it is missing, but a failure under CI (.ci/run
    installs it)."""
    path = shutil.which("chromium")
    if path is None:
        message = "chromium is not installed (apt-get install chromium fonts-wqy-microhei)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@contextmanager
def chromium(path: str) -> Iterator[Browser]:
    """A headless chromium for the caller's thread (Playwright's sync API)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watched:
    """A page and what went wrong on it so far."""

    page: Page
    context: BrowserContext
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


@contextmanager
def watched_page(browser: Browser, base_url: str, *, locale: str = "zh-CN") -> Iterator[Watched]:
    """A fresh context (its own cookies) and page; a request to anywhere but `base_url` is
    aborted and recorded, console errors and page errors are recorded."""
    context = browser.new_context(
        base_url=base_url,
        viewport=VIEWPORT,  # type: ignore[arg-type]
        locale=locale,
        timezone_id="Asia/Shanghai",
        accept_downloads=True,
    )
    page = context.new_page()
    watched = Watched(page, context)

    def route(r: Route) -> None:
        url = r.request.url
        if url.startswith(base_url) or url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            watched.outside.append(url)
            r.abort()

    context.route("**/*", route)
    page.on(
        "console",
        lambda m: watched.errors.append(f"console: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: watched.errors.append(f"pageerror: {e}"))
    try:
        yield watched
    finally:
        context.close()


def sign_in(page: Page, name: str, password: str) -> None:
    """Fill and send the sign-in form as a person would."""
    page.goto("/dashboard/sign-in")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")


def renders(page: Page) -> int:
    """How many times the dashboard has finished rendering (0 before the first)."""
    return int(page.evaluate("Number(document.body.dataset.renders || 0)"))


def wait_rendered(page: Page, after: int = 0, timeout_ms: float = 30_000) -> None:
    """Wait until the dashboard has finished a render after the `after`th."""
    # A function, not an expression: Playwright would `eval` an expression in the page, which
    # the page's Content-Security-Policy (no 'unsafe-eval') rightly refuses.
    page.wait_for_function(
        "after => Number(document.body.dataset.renders || 0) > after",
        arg=after,
        timeout=timeout_ms,
    )
