"""Function-level authorization for every (role × route) of the OpenAPI document.

The routes come from the gateway's OpenAPI document, not a hand list, so a new endpoint is
checked the day it appears. Each role calls each operation; what the role may not do must be
403 (never a 2xx), what it may do must not be 401/403, and nothing is ever a 5xx.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Creds, bearer, get_token
from tests.factories import new_uscc

ROLES = ("bank", "bureau", "credit_firm", "admin")
UNAUTHENTICATED = {
    "/oauth/token",
    "/.well-known/jwks.json",
    "/.well-known/oauth-authorization-server",
    "/problems",
    "/problems/{slug}",
    "/healthz",
    "/readyz",
}


def allowed(role: str, method: str, path: str) -> bool:
    """The contract's role table, as a rule."""
    if path.endswith("/whoami"):
        return True
    if path.startswith("/v1/admin/"):
        return role == "admin"
    if path.startswith("/v1/guarantee/features"):
        return role == "credit_firm" or (role == "admin" and path.endswith("/schema"))
    if path in ("/v1/guarantee/consents",) or path.startswith("/v1/guarantee/waivers/"):
        return role in ("bureau", "admin")
    if path.startswith("/v1/loans/") and method != "GET":
        return role == "bank"
    if path.startswith(("/v1/scoring/", "/v1/loans/", "/v1/guarantee/")):
        return role in ("bank", "bureau", "admin")
    raise AssertionError(f"no rule for {method} {path}")


def _fill(path: str) -> str:
    values = {
        "uscc": new_uscc(),
        "app_id": str(uuid.uuid4()),
        "consent_id": str(uuid.uuid4()),
        "client_id": "ic_nobody",
        "version": "NO-SUCH-MODEL",
        "code": "NO_SUCH_CODE",
        "period": "2099",
        "year": "2099",
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


@pytest.fixture(scope="module")
def tokens(api: TestClient, make_client: Callable[..., Creds]) -> dict[str, str]:
    return {
        "bank": get_token(api, make_client("bank", name="authz bank", bank_code="AUTHZ")),
        "bureau": get_token(api, make_client("bureau", name="authz bureau")),
        "credit_firm": get_token(
            api, make_client("credit_firm", name="authz firm", firm_code="AUTHZ")
        ),
        "admin": get_token(api, make_client("admin", name="authz admin")),
    }


def _operations(api: TestClient) -> list[tuple[str, str]]:
    spec = api.get("/openapi.json").json()
    ops = [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]
    return sorted(op for op in ops if op[1] not in UNAUTHENTICATED)


def test_the_openapi_document_covers_every_service(api: TestClient) -> None:
    paths = {path for _, path in _operations(api)}
    for prefix in ("/v1/scoring/", "/v1/loans/", "/v1/guarantee/", "/v1/admin/"):
        assert any(p.startswith(prefix) for p in paths), prefix
    assert len(paths) > 40


def test_every_role_on_every_route(api: TestClient, tokens: dict[str, str]) -> None:
    failures = []
    for method, template in _operations(api):
        path = _fill(template)
        for role in ROLES:
            headers = {**bearer(tokens[role]), "Idempotency-Key": uuid.uuid4().hex}
            body: dict[str, object] | None = {} if method in ("POST", "PUT", "PATCH") else None
            response = api.request(method, path, headers=headers, json=body)
            status = response.status_code
            if status >= 500:
                failures.append(f"{role} {method} {template}: {status} {response.text[:200]}")
            elif allowed(role, method, template):
                if status in (401, 403):
                    failures.append(f"{role} {method} {template}: refused ({status})")
            elif status != 403:
                failures.append(f"{role} {method} {template}: expected 403, got {status}")
    assert not failures, "\n".join(failures)


def test_no_token_is_401_everywhere(api: TestClient) -> None:
    for method, template in _operations(api):
        response = api.request(method, _fill(template))
        assert response.status_code == 401, (method, template)
        assert response.headers["www-authenticate"].startswith("Bearer")
