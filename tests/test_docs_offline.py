"""`/docs` and `/redoc` work with no internet: every asset they load comes from the service."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from services.runtime import build_gateway
from shared.settings import CoreSettings

PAGES = ("/docs", "/redoc", "/docs/oauth2-redirect")
# What each kind of asset must be served as.
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def _references(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)


def test_the_docs_pages_and_every_asset_come_from_the_service(api: TestClient) -> None:
    fetched = 0
    for page in PAGES:
        response = api.get(page)  # no token: the pages are public
        assert response.status_code == 200, page
        assert response.headers["content-type"].startswith("text/html"), page
        html = response.text
        assert not re.search(r"https?://", html), f"{page} points off-host"
        for reference in _references(html):
            url = urljoin(f"http://testserver{page}", reference)
            assert urlsplit(url).netloc == "testserver", (page, reference)
            asset = api.get(url)
            assert asset.status_code == 200, (page, reference)
            suffix = reference[reference.rfind(".") :]
            assert asset.headers["content-type"].startswith(MEDIA_TYPES[suffix]), reference
            assert len(asset.content) > 1000, reference
            fetched += 1
    assert fetched >= 5  # Swagger UI's script, stylesheet and icon; ReDoc's script and icon


def test_the_swagger_page_loads_the_document_and_offers_client_credentials(
    api: TestClient,
) -> None:
    html = api.get("/docs").text
    assert "url: '/openapi.json'" in html
    scheme = api.get("/openapi.json").json()["components"]["securitySchemes"]["OAuth2"]
    assert scheme["flows"]["clientCredentials"]["tokenUrl"] == "/oauth/token"


def test_an_unknown_asset_is_a_404_problem(api: TestClient) -> None:
    response = api.get("/docs/assets/../../etc/passwd")
    assert response.status_code == 404
    response = api.get("/docs/assets/secrets.js")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_docs_switched_off_serve_nothing(settings: CoreSettings, engine: Engine) -> None:
    off = settings.model_copy(update={"docs_enabled": False})
    gateway = build_gateway(off, engine)
    assert isinstance(gateway.core, FastAPI)
    with TestClient(gateway) as client:
        for path in (*PAGES, "/docs/assets/swagger-ui-bundle.js"):
            assert client.get(path).status_code == 404, path
