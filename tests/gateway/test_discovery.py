"""What a client learns without a token: RFC 8414 metadata and the problem-type pages."""

from __future__ import annotations

from fastapi.testclient import TestClient
from jose import jwt
from sqlalchemy.engine import Engine

from services.runtime import build_gateway
from shared.auth.principal import ROLE_SCOPES
from shared.problem_catalogue import CATALOGUE
from shared.settings import CoreSettings
from tests.servers import make_settings

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_authorization_server_metadata_follows_rfc8414(api: TestClient, admin_token: str) -> None:
    response = api.get("/.well-known/oauth-authorization-server")  # no token needed
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    metadata = response.json()
    base = str(api.base_url).rstrip("/")
    assert metadata == {
        # RFC 8414 §3.3 / RFC 9068: the issuer is the tokens' `iss`, to the character
        "issuer": jwt.get_unverified_claims(admin_token)["iss"],
        "token_endpoint": f"{base}/oauth/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": sorted(set().union(*ROLE_SCOPES.values())),
        "response_types_supported": [],
        "service_documentation": f"{base}/docs",
    }
    # The URLs it names answer.
    assert api.get(metadata["jwks_uri"]).json()["keys"]
    assert (
        api.post(metadata["token_endpoint"], data={"grant_type": "client_credentials"}).json()[
            "error"
        ]
        == "invalid_client"
    )


def test_metadata_urls_come_from_the_configured_public_url(
    database_url: str, engine: Engine
) -> None:
    settings: CoreSettings = make_settings(
        database_url, public_url="https://api.innocredit.example/", docs_enabled=False
    )
    with TestClient(build_gateway(settings, engine)) as client:
        metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["token_endpoint"] == "https://api.innocredit.example/oauth/token"
    assert metadata["jwks_uri"] == "https://api.innocredit.example/.well-known/jwks.json"
    assert "service_documentation" not in metadata  # no /docs to point to


def test_every_problem_type_resolves_to_its_catalogue_entry(api: TestClient) -> None:
    for slug, entry in CATALOGUE.items():
        response = api.get(f"/problems/{slug}")  # no token needed
        assert response.status_code == 200, (slug, response.text)
        assert response.json() == {
            "type": f"/problems/{slug}",
            "slug": slug,
            "status": entry.status,
            "title": entry.title,
            "means": entry.means,
            "todo": entry.todo,
        }


def test_a_browser_gets_a_page_that_says_what_to_do(api: TestClient) -> None:
    response = api.get("/problems/invalid-idempotency-key", headers={"Accept": BROWSER})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    entry = CATALOGUE["invalid-idempotency-key"]
    assert f"<h1>{entry.title}</h1>" in page
    assert "HTTP 400" in page
    assert "What it means" in page
    assert "What to do" in page
    assert "printable ASCII characters, e.g. a UUID" in page
    escaped = api.get("/problems/bad-rows", headers={"Accept": BROWSER}).text
    assert "&quot;row&quot;" in escaped  # the catalogue's text is escaped, not markup


def test_an_unknown_problem_type_is_a_404_problem(api: TestClient) -> None:
    for accept in ("application/json", BROWSER):
        response = api.get("/problems/no-such-thing", headers={"Accept": accept})
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["type"] == "/problems/not-found"
        assert "GET /problems" in body["detail"]


def test_the_catalogue_lists_every_type_in_pages(api: TestClient) -> None:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "20", **({"cursor": cursor} if cursor else {})}
        page = api.get("/problems", params=params)
        assert page.status_code == 200, page.text
        seen += [item["slug"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(CATALOGUE)
    html = api.get("/problems", headers={"Accept": BROWSER}, params={"limit": "500"}).text
    assert all(f'href="/problems/{slug}"' in html for slug in CATALOGUE)
    assert api.get("/problems", params={"cursor": "forged"}).status_code == 400


def test_json_wins_unless_html_is_preferred(api: TestClient) -> None:
    def media(accept: str | None) -> str:
        headers = {"Accept": accept} if accept is not None else {}
        response = api.get("/problems/not-found", headers=headers)
        assert response.status_code == 200, (accept, response.text)
        assert response.headers["vary"] == "Accept"
        return str(response.headers["content-type"]).split(";")[0]

    assert media(BROWSER) == "text/html"
    assert media("text/html") == "text/html"
    for accept in (
        None,
        "",
        "*/*",
        "application/json",
        "text/html;q=0.5, application/json",
        "text/html;q=0, */*",
        "text/html;q=x",
    ):
        assert media(accept) == "application/json", accept
    refused = api.get("/problems/not-found", headers={"Accept": "image/png"})
    assert refused.status_code == 406
    assert refused.json()["offered"] == ["application/json", "text/html"]
