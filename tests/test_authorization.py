"""Function-level authorization for every (role × operation) of the OpenAPI document.

Who may call an operation is its `x-access` (shared/openapi_access.py), which the running
service derives from the route's gates; this module lists no route. It holds the declaration
to two things:

- the contract: `the_contracts_roles` below is the contract's role table ("Auth"), by path
  family, and the public operations are exactly the token endpoint, the keys and the health
  checks — so a route whose gate is weakened (an operator write opened to readers, a bank's
  write to the bureau, a token no longer asked for) fails here, whatever it now declares;
- the running API: each role calls each operation; what the declaration does not admit must
  be 403 (never a 2xx), what it admits must not be 401/403, and nothing is ever a 5xx.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.page_token import page_scopes
from shared.auth.principal import ROLES
from tests.factories import Creds, Factory, bearer, get_token, new_uscc
from tests.users import browser, make_user, page_token, sign_in

PUBLIC = {
    ("POST", "/oauth/token"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/.well-known/oauth-authorization-server"),
    ("GET", "/problems"),
    ("GET", "/problems/{slug}"),
    ("GET", "/v1/scoring/diagnosis-documents/{code}"),  # anyone checks a 诊断书 (README)
}


def the_contracts_roles(method: str, path: str) -> set[str]:
    """The contract's role table, by path family: who may call `method path`."""
    if path.endswith("/whoami"):
        return set(ROLES)
    if path.startswith("/v1/admin/changes") and method == "GET":  # the bureau reads changes
        return {"bureau", "admin"}
    if path.startswith("/v1/admin/"):
        return {"admin"}
    if path.startswith("/v1/guarantee/features"):
        return {"credit_firm", "admin"} if path.endswith("/schema") else {"credit_firm"}
    if path == "/v1/guarantee/consents":  # the waiver list is a published top 100: any reader
        return {"bureau", "admin"}
    if path == "/v1/scoring/drift" or path.endswith("/impact"):  # model monitoring
        return {"bureau", "admin"}
    if path.startswith("/v1/loans/webhooks"):  # a bank's own endpoints, the bureau's overdue
        return {"bank", "bureau"}
    if path.startswith("/v1/loans/") and method != "GET":
        return {"bank"}
    if path.startswith(("/v1/scoring/", "/v1/loans/", "/v1/guarantee/")):
        return {"bank", "bureau", "admin"}
    raise AssertionError(f"no rule for {method} {path}")


def the_contracts_owner(path: str) -> str | None:
    """A bank sees "its own bank's products and applications only": by id, another bank's
    is 404."""
    if path.startswith(
        ("/v1/loans/applications/{", "/v1/loans/products/{", "/v1/loans/webhooks/{")
    ):
        return "bank"
    return None


def _fill(path: str) -> str:
    values = {
        "uscc": new_uscc(),
        "app_id": str(uuid.uuid4()),
        "change_id": str(uuid.uuid4()),
        "consent_id": str(uuid.uuid4()),
        "client_id": "ic_nobody",
        "user_id": "999999999",
        "version": "NO-SUCH-MODEL",
        "code": "NO_SUCH_CODE",
        "period": "2099",
        "year": "2099",
        "slug": "not-found",
        "name": "no-such-endpoint",
        "delivery_id": "999999999",
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


def _declared(api: TestClient) -> dict[tuple[str, str], dict[str, Any]]:
    """(method, path) → `x-access`, for every operation of the gateway's document."""
    spec = api.get("/openapi.json").json()
    return {
        (method.upper(), path): operation["x-access"]
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    }


def _operations(api: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    """The operations that ask for a token, with their `x-access`."""
    declared = _declared(api)
    return sorted((m, p, a) for (m, p), a in declared.items() if not a["public"])


def test_the_openapi_document_covers_every_service(api: TestClient) -> None:
    paths = {path for _, path, _ in _operations(api)}
    for prefix in ("/v1/scoring/", "/v1/loans/", "/v1/guarantee/", "/v1/admin/"):
        assert any(p.startswith(prefix) for p in paths), prefix
    assert len(paths) > 40


def test_the_declared_access_is_the_contracts(api: TestClient) -> None:
    declared = _declared(api)
    public = {op for op, access in declared.items() if access["public"]}
    wrong = [f"{m} {p}: public" for m, p in sorted(public - PUBLIC)]
    wrong += [f"{m} {p}: asks for a token" for m, p in sorted(PUBLIC - public)]
    for (method, path), access in sorted(declared.items()):
        if access["public"]:
            continue
        roles = set(access["roles"])
        if roles != the_contracts_roles(method, path):
            wrong.append(f"{method} {path}: declares {sorted(roles)}")
        if access["owner"] != the_contracts_owner(path):
            wrong.append(f"{method} {path}: declares owner {access['owner']}")
    assert not wrong, "\n".join(wrong)


def test_every_role_on_every_route(api: TestClient, tokens: dict[str, str]) -> None:
    failures = []
    for method, template, access in _operations(api):
        path = _fill(template)
        for role in ROLES:
            headers = {**bearer(tokens[role]), "Idempotency-Key": uuid.uuid4().hex}
            body: dict[str, object] | None = {} if method in ("POST", "PUT", "PATCH") else None
            response = api.request(method, path, headers=headers, json=body)
            status = response.status_code
            if status >= 500:
                failures.append(f"{role} {method} {template}: {status} {response.text[:200]}")
            elif role in access["roles"]:
                if status in (401, 403):
                    failures.append(f"{role} {method} {template}: refused ({status})")
            elif status != 403:
                failures.append(f"{role} {method} {template}: expected 403, got {status}")
    assert not failures, "\n".join(failures)


def test_no_token_is_401_everywhere(api: TestClient) -> None:
    for method, template, _ in _operations(api):
        response = api.request(method, _fill(template))
        assert response.status_code == 401, (method, template)
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_public_reads_answer_without_a_token(api: TestClient) -> None:
    for method, path in PUBLIC:
        if method == "GET":
            # A 诊断书 code nobody was issued: 404 (or 422: `_fill`'s code is no code at all).
            expected = (404, 422) if "{code}" in path and path.startswith("/v1/") else (200,)
            assert api.get(_fill(path)).status_code in expected, path


def test_dashboard_users_page_tokens_on_every_route(
    api: TestClient, db: sessionmaker[Session], factory: Factory
) -> None:
    """A dashboard user's page token is admitted exactly where a client of its role is and
    the operation asks only for read scopes: everywhere else 403, never a 2xx or a 5xx."""
    users = {
        "bureau": make_user(db, "bureau"),
        "bank": make_user(db, "bank", bank_code=factory.bank()),
    }
    browsers = {}
    for role, user in users.items():
        browsers[role] = browser(api.app)
        assert sign_in(browsers[role], user.name, user.password).status_code == 303
    failures = []
    for method, template, access in _operations(api):
        path = _fill(template)
        for role, client in browsers.items():
            token = page_token(client)
            headers = {**bearer(token), "Idempotency-Key": uuid.uuid4().hex}
            body: dict[str, object] | None = {} if method in ("POST", "PUT", "PATCH") else None
            status = api.request(method, path, headers=headers, json=body).status_code
            admitted = role in access["roles"] and set(access["scopes"]) <= page_scopes(role)
            if status >= 500:
                failures.append(f"user {role} {method} {template}: {status}")
            elif admitted and status in (401, 403):
                failures.append(f"user {role} {method} {template}: refused ({status})")
            elif not admitted and status != 403:
                failures.append(f"user {role} {method} {template}: expected 403, got {status}")
    assert not failures, "\n".join(failures)
