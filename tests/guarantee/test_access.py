"""Who may call what in guarantee, and the exact problem every other caller gets: the
programme-wide consents are for the bureau and operators, the waiver list (a published top 100)
for every `guarantee:read` caller, banks too, the export for a credit-reporting firm's own
client."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.factories import Creds, bearer, enterprise, get_token, new_uscc

FORBIDDEN = ("/problems/forbidden", "Forbidden")
NOT_A_FIRM = ("/problems/forbidden", "Forbidden")  # its own detail says why
NO_SCOPE = ("/problems/insufficient-scope", "Insufficient scope")
PROGRAMME_WIDE = "Only the bureau and operators read this"
FIRMS_ONLY = "The feature export is for credit-reporting firm clients"


@pytest.fixture(scope="module")
def tokens(
    api: TestClient, make_client: Callable[..., Creds], admin_token: str, bank_token: str
) -> dict[str, str]:
    return {
        "admin": admin_token,
        "bank": bank_token,
        "bureau": get_token(api, make_client("bureau", name="科技局")),
        "credit_firm": get_token(
            api, make_client("credit_firm", name="戊征信", firm_code="CR_ACCESS")
        ),
    }


@pytest.mark.parametrize(
    ("role", "path", "problem", "detail"),
    [
        ("bank", "/v1/guarantee/consents", FORBIDDEN, PROGRAMME_WIDE),
        ("credit_firm", "/v1/guarantee/waivers/2091", NO_SCOPE, None),
        ("credit_firm", "/v1/guarantee/consents", NO_SCOPE, None),
        ("admin", "/v1/guarantee/features", NOT_A_FIRM, FIRMS_ONLY),
        ("bureau", "/v1/guarantee/features", NO_SCOPE, None),
        ("bank", "/v1/guarantee/features", NO_SCOPE, None),
    ],
)
def test_refused_callers_get_a_403_problem(
    api: TestClient,
    tokens: dict[str, str],
    role: str,
    path: str,
    problem: tuple[str, str],
    detail: str | None,
) -> None:
    r = api.get(path, headers=bearer(tokens[role]))
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert (body["type"][body["type"].index("/problems/") :], body["title"]) == problem
    assert body["status"] == 403
    if detail is not None:
        assert body["detail"] == detail


@pytest.mark.parametrize("role", ["admin", "bureau"])
@pytest.mark.parametrize("path", ["/v1/guarantee/waivers/2091", "/v1/guarantee/consents"])
def test_the_bureau_and_operators_read_the_programme_wide_lists(
    api: TestClient, tokens: dict[str, str], role: str, path: str
) -> None:
    assert api.get(path, headers=bearer(tokens[role])).status_code == 200


def test_a_bank_reads_the_waiver_list(api: TestClient, tokens: dict[str, str]) -> None:
    """The top 100 is published, and a bank reads the whole ranking already (scoring:read):
    its dashboard shows the waiver status of a ranking page from this list."""
    r = api.get("/v1/guarantee/waivers/2091", headers=bearer(tokens["bank"]))
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"items", "next_cursor", "versions"}


def test_only_a_firm_pulls_the_export(api: TestClient, tokens: dict[str, str]) -> None:
    r = api.get("/v1/guarantee/features", headers=bearer(tokens["credit_firm"]))
    assert r.status_code == 200, r.text


def test_consent_pages_chain_and_a_cursor_is_bound_to_its_filters(
    api: TestClient, tokens: dict[str, str]
) -> None:
    admin = bearer(tokens["admin"])
    firm = "CR_PAGES_" + uuid.uuid4().hex[:6].upper()
    usccs = [new_uscc() for _ in range(3)]
    api.put("/v1/admin/enterprises", headers=admin, json=[enterprise(u) for u in usccs])
    for u in usccs:
        body = {
            "uscc": u,
            "firm_code": firm,
            "evidence_ref": "授权书",
            "granted_at": "2026-01-01T00:00:00+08:00",
        }
        assert api.post("/v1/admin/consents", headers=admin, json=body).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params = {"firm_code": firm, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/guarantee/consents", headers=admin, params=params).json()
        seen += [c["uscc"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        first_cursor = cursor
    assert seen == usccs  # oldest first, each once
    other = api.get(
        "/v1/guarantee/consents",
        headers=admin,
        params={"limit": 2, "cursor": first_cursor, "firm_code": "CR_OTHER"},
    )
    assert other.status_code == 400
    assert other.json()["type"].endswith("/problems/invalid-cursor")
    forged = api.get(
        "/v1/guarantee/consents",
        headers=admin,
        params={"firm_code": firm, "cursor": first_cursor[:-2] + "xx"},
    )
    assert forged.status_code == 400
