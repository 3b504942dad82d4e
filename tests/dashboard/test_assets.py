"""What the gateway serves for the dashboard, without a browser: the page only for a signed-in
browser, its headers, its static files (nothing inline, nothing from elsewhere), the vendored
ECharts exactly as pinned, and the page token naming its user."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.browser import CONTENT_SECURITY_POLICY
from services.gateway.dashboard import PAGE, STATIC_DIR
from tests.users import browser, make_user, sign_in

VENDOR = STATIC_DIR / "vendor" / "echarts"
OWN_FILES = sorted(p for p in STATIC_DIR.rglob("*") if p.is_file() and VENDOR not in p.parents)


def test_the_page_answers_only_a_signed_in_browser(
    api: TestClient, db: sessionmaker[Session]
) -> None:
    stranger = browser(api.app)
    response = stranger.get("/dashboard/")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/sign-in"
    assert stranger.get("/dashboard").headers["location"] == "/dashboard/"

    user = make_user(db)
    client = browser(api.app)
    assert sign_in(client, user.name, user.password).headers["location"] == "/dashboard/"
    page = client.get("/dashboard/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/dashboard/static/js/main.js">' in page.text

    token = client.post("/dashboard/api/token").json()
    assert token["user"] == {"name": user.name, "role": "bureau", "bank_code": None}


def test_static_files_are_served_with_the_pages_policy(api: TestClient) -> None:
    script = api.get("/dashboard/static/js/main.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["x-content-type-options"] == "nosniff"
    assert script.headers["cache-control"] == "no-cache"
    again = api.get(
        "/dashboard/static/js/main.js", headers={"If-None-Match": script.headers["etag"]}
    )
    assert again.status_code == 304
    assert api.get("/dashboard/static/js/nothing.js").status_code == 404
    # The page itself is not a static file (it answers a session only), nor is the code.
    assert api.get("/dashboard/static/dashboard.html").status_code == 404
    assert api.get("/dashboard/static/%2e%2e/dashboard.py").status_code == 404
    assert api.get("/dashboard/static/js/%2e%2e/%2e%2e/dashboard.py").status_code == 404
    refused = api.post("/dashboard/static/js/main.js")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD"
    assert refused.headers["content-type"] == "application/problem+json"
    vocabulary = api.get("/dashboard/vocabulary.json").json()
    assert vocabulary["districts"][0] == "海陵区"
    assert vocabulary["categories"]["zh"]["high_tech"] == "高新技术企业"
    assert vocabulary["categories"]["en"]["high_tech"] == "High-tech enterprise"
    assert set(vocabulary["stages"]["en"]) == set(vocabulary["stages"]["zh"])


class _Inline(HTMLParser):
    """Collects what a strict Content-Security-Policy would block in an HTML file."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            self._in_script = True
            if "src" not in names:
                self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag} {a}=" for a in names if a == "style" or a.startswith("on")]

    def handle_endtag(self, tag: str) -> None:
        self._in_script = tag != "script" and self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append("inline script text")


def test_nothing_inline_and_nothing_from_elsewhere() -> None:
    parser = _Inline()
    parser.feed(PAGE.read_text(encoding="utf-8"))
    assert parser.found == []
    assert [p for p in OWN_FILES if p.suffix == ".html"] == []
    for path in [PAGE, *OWN_FILES]:
        text = path.read_text(encoding="utf-8")
        # No address outside the service (the SVG's XML namespace is a name, not a request).
        urls = set(re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text)) - {
            "http://www.w3.org"
        }
        assert urls == set(), path
        assert "innerHTML" not in text, path
        assert "eval(" not in text, path


def test_echarts_is_the_pinned_file_with_its_licences() -> None:
    version = dict(
        line.split(" ", 1) for line in (VENDOR / "VERSION").read_text().splitlines() if line
    )
    assert version["echarts"].startswith("6.1.0 ")
    digest = hashlib.sha256((VENDOR / "echarts.common.min.js").read_bytes()).hexdigest()
    assert version["sha256"] == digest
    for licence in ("LICENSE", "NOTICE", "LICENSE-d3", "LICENSE-zrender"):
        assert (VENDOR / licence).stat().st_size > 100, licence
    assert "Apache License" in (VENDOR / "LICENSE").read_text()
    script = Path(__file__).resolve().parents[2] / "scripts" / "vendor-echarts.sh"
    assert "npm pack" in script.read_text()
