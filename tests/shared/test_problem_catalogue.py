"""One catalogue of problem types: every type the code can emit is in it, each type has one
status and one title, and each type URI resolves (`GET /problems/{slug}`)."""

from __future__ import annotations

import ast
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import services.cli
import services.runtime
from shared.errors import DomainError, problem_type
from shared.problem_catalogue import _KINDS, CATALOGUE, for_status, kind
from shared.problems import Problem
from tests.factories import Creds, bearer, get_token, new_key, new_uscc

ROOT = Path(__file__).resolve().parents[2]
IMPORTED = (services.cli, services.runtime)  # so every service's errors are defined


def test_the_catalogue_is_a_function_of_the_slug() -> None:
    assert len(CATALOGUE) == len(_KINDS)  # no slug twice
    for slug, entry in CATALOGUE.items():
        assert slug == entry.slug
        assert all((entry.title, entry.means, entry.todo)), slug
        assert entry.status is None or 400 <= entry.status <= 599, slug
    assert [e.slug for e in _KINDS if e.status is None] == ["http-error"]
    assert for_status(404).slug == "not-found"
    assert for_status(418).slug == "http-error"
    with pytest.raises(KeyError, match=r"problem_catalogue\.py"):
        kind("no-such-problem")


def _subclasses(cls: type[DomainError]) -> Iterator[type[DomainError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_error_class_takes_status_and_title_from_the_catalogue() -> None:
    classes = list(_subclasses(DomainError))
    assert len(classes) > 40  # the services' errors were imported
    for cls in classes:
        entry = kind(cls.slug)
        assert (cls.status, cls.title) == (entry.status or cls.status, entry.title), cls


def test_an_error_class_with_an_uncatalogued_slug_or_its_own_title_fails_at_import() -> None:
    with pytest.raises(KeyError, match=r"not in shared/problem_catalogue\.py"):
        type("Made", (DomainError,), {"slug": "made-up"})
    with pytest.raises(TypeError, match="differs from the catalogue"):
        type("Titled", (DomainError,), {"slug": "not-found", "title": "Gone"})


def test_a_problem_always_shows_its_types_status_and_title() -> None:
    written = Problem(400, "validation-error", "Unprocessable content", "x")
    assert (written.status, written.title) == (422, "Request validation failed")
    assert Problem.about("overloaded", "x").status == 503


def _literal(node: ast.expr | None) -> Any:
    return node.value if isinstance(node, ast.Constant) else None


def _emitted_in_source() -> list[tuple[str, str, Any, Any]]:
    """(where, slug, status, title) of every problem the code builds from literals: `Problem(…)`
    and `Problem.about(…)`, `kind(…)`, `OAuthError(…)` and every class's `slug = …`."""
    found: list[tuple[str, str, Any, Any]] = []
    for path in sorted([*ROOT.glob("services/**/*.py"), *ROOT.glob("shared/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Assign) and isinstance(_literal(node.value), str):
                if [getattr(t, "id", "") for t in node.targets] == ["slug"]:
                    found.append((where, _literal(node.value), None, None))
                continue
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first, second, third = [*map(_literal, node.args), None, None, None][:3]
            if name == "Problem" and isinstance(second, str):
                found.append((where, second, first, third))
            elif name in ("about", "kind") and isinstance(first, str):
                found.append((where, first, None, None))
            elif name == "OAuthError" and isinstance(first, str):
                found.append((where, "oauth-" + first.replace("_", "-"), None, None))
    return found


def test_every_problem_the_source_builds_is_catalogued_with_its_status_and_title() -> None:
    found = _emitted_in_source()
    assert len(found) > 60
    for where, slug, status, title in found:
        assert slug in CATALOGUE, f"{where}: {slug!r} is not in shared/problem_catalogue.py"
        entry = CATALOGUE[slug]
        assert status is None or status == entry.status, f"{where}: {slug} is {entry.status}"
        assert title is None or title == entry.title, f"{where}: {slug} is {entry.title!r}"


def _provoke(api: TestClient, admin: str, bank: str, bureau: str) -> Iterator[httpx.Response]:
    """Cheap requests that each provoke a problem (no data needed)."""
    uscc = new_uscc()
    json_post = {"Content-Type": "application/json"}
    yield api.get("/v1/scoring/whoami")  # unauthorized
    yield api.get("/v1/scoring/whoami", headers=bearer(bank + "x"))
    yield api.get("/v1/admin/clients", headers=bearer(bank))  # insufficient-scope
    yield api.get("/v1/guarantee/consents", headers=bearer(bank))  # forbidden
    yield api.get("/v1/guarantee/features", headers=bearer(admin))  # forbidden (NotAFirm)
    yield api.get("/v1/no-such-thing", headers=bearer(admin))  # not-found
    yield api.get("/no-such-thing")
    yield api.delete("/v1/admin/clients", headers=bearer(admin))  # method-not-allowed
    yield api.get("/v1/admin/clients", params={"limit": 0}, headers=bearer(admin))
    yield api.get("/v1/admin/clients", params={"cursor": "forged"}, headers=bearer(admin))
    yield api.get(f"/v1/admin/clients/ic_{uscc}", headers=bearer(admin))  # client-not-found
    yield api.get(f"/v1/scoring/enterprises/{uscc}", headers=bearer(bureau))
    yield api.get("/v1/scoring/enterprises/91321200MA1N2X3Y47", headers=bearer(bureau))
    yield api.get("/v1/scoring/models/NO-SUCH", headers=bearer(bureau))
    yield api.get("/v1/loans/products/NO-SUCH", headers=bearer(bureau))
    yield api.get(f"/v1/loans/applications/{uuid.uuid4()}", headers=bearer(bank))
    yield api.post(f"/v1/admin/consents/{uuid.uuid4()}/revoke", headers=bearer(admin))
    yield api.get(  # validation-error raised by a handler (Unprocessable)
        "/v1/loans/stats", params={"from": "2026-02-01", "to": "2026-01-01"}, headers=bearer(bureau)
    )
    application = {"uscc": uscc, "product_code": "NO-SUCH", "amount": "1.00", "term_months": 12}
    writes = "/v1/loans/applications"
    yield api.post(writes, headers=bearer(bank), json={**application, "term_months": "12"})
    yield api.post(writes, headers={**bearer(bank), **json_post}, content=b'{"uscc": ')
    yield api.post(writes, headers=bearer(bank), content=b"{}")  # no Content-Type
    yield api.post(writes, headers=bearer(bank), json=application)  # idempotency-key-required
    yield api.post(writes, headers={**bearer(bank), "Idempotency-Key": "k" * 256}, json=application)
    yield api.post(writes, headers={**bearer(bank), "Idempotency-Key": new_key()}, json=application)
    yield api.post(  # payload-too-large
        writes, headers={**bearer(bank), **json_post}, content=b" " * (2 * 1024 * 1024)
    )
    yield api.post("/oauth/token", data={"grant_type": "client_credentials"})
    yield api.post("/oauth/token", json={"grant_type": "client_credentials"})
    yield api.post(
        "/oauth/token", data={"grant_type": "password", "client_id": "a", "client_secret": "b"}
    )
    yield api.get("/problems/no-such-type")


def test_every_problem_the_suite_provokes_is_its_catalogued_type(
    api: TestClient,
    admin_token: str,
    bank_token: str,
    make_client: Callable[..., Creds],
) -> None:
    bureau = get_token(api, make_client("bureau"))
    titles: dict[str, set[str]] = {}
    for response in _provoke(api, admin_token, bank_token, bureau):
        assert response.status_code >= 400, response.request.url
        assert response.headers["content-type"] == "application/problem+json", response.text
        body = response.json()
        slug = body["type"].removeprefix("/problems/")
        entry = kind(slug)
        assert body["title"] == entry.title, body
        assert body["status"] == response.status_code == (entry.status or body["status"]), body
        titles.setdefault(body["type"], set()).add(body["title"])
    assert all(len(t) == 1 for t in titles.values()), titles
    provoked = {t.removeprefix("/problems/") for t in titles}
    assert provoked >= {
        "unauthorized",
        "insufficient-scope",
        "forbidden",
        "not-found",
        "method-not-allowed",
        "validation-error",
        "invalid-cursor",
        "client-not-found",
        "enterprise-not-found",
        "invalid-uscc",
        "model-not-found",
        "product-not-found",
        "application-not-found",
        "consent-not-found",
        "malformed-json",
        "unsupported-media-type",
        "idempotency-key-required",
        "invalid-idempotency-key",
        "payload-too-large",
        "oauth-invalid-client",
        "oauth-invalid-request",
        "oauth-unsupported-grant-type",
    }, provoked
    for type_uri in titles:  # each type resolves
        assert api.get(type_uri).json()["type"] == type_uri == problem_type(type_uri[10:])
