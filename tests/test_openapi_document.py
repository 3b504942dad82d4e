"""The gateway's OpenAPI document as a client generator reads it: readable operation ids,
described tags, named enums, an OAuth 2.0 scheme, and responses as the server sends them."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from shared.openapi_ids import OPERATION_ID, operation_ids
from tests.factories import A_INDICATORS, Factory, bearer, new_key
from tests.periods import PeriodPool

# A few operation ids clients are generated with: they are part of the contract now.
KEY_OPERATIONS = {
    ("POST", "/oauth/token"): "issue_token",
    ("GET", "/v1/scoring/enterprises/{uscc}/points"): "get_enterprise_points",
    ("GET", "/v1/loans/products/{code}/quote"): "get_loan_quote",
    ("POST", "/v1/loans/applications"): "submit_application",
    ("POST", "/v1/loans/applications/{app_id}/decision"): "decide_application",
    ("GET", "/v1/loans/stats"): "get_loan_stats",
    ("GET", "/v1/guarantee/features"): "pull_feature_export",
    ("POST", "/v1/guarantee/quotes"): "quote_guarantee_fee",
    ("GET", "/v1/loans/whoami"): "whoami_loans",
}

# Headers that are not an operation's to declare: transport, and the two conventions of the
# whole API that the document states once (`X-Request-ID` on every answer, `Vary` on every
# negotiated one).
UNDECLARED = {
    "content-type",
    "content-length",
    "date",
    "server",
    "transfer-encoding",
    "connection",
    "x-request-id",
    "vary",
}


@pytest.fixture(scope="module")
def document(api: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = api.get("/openapi.json").json()
    return body


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_operation_ids_are_readable_and_unique(document: dict[str, Any]) -> None:
    ids = operation_ids(document)
    assert len(ids) == len(_operations(document))
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    for method, path, operation in _operations(document):
        oid = operation["operationId"]
        assert OPERATION_ID.fullmatch(oid), (method, path, oid)
        assert "_v1_" not in oid, oid
        assert not re.search(r"_(get|post|put|patch|delete)$", oid), oid
    by_route = {(m, p): o["operationId"] for m, p, o in _operations(document)}
    assert {k: by_route[k] for k in KEY_OPERATIONS} == KEY_OPERATIONS


def test_every_tag_is_described(document: dict[str, Any]) -> None:
    described = {t["name"]: t.get("description") for t in document["tags"]}
    assert all(described.values()), described
    used = {tag for _, _, operation in _operations(document) for tag in operation["tags"]}
    assert used == set(described)
    for service in ("scoring", "loans", "guarantee", "auth"):
        assert service in used


def test_every_enum_is_one_named_schema(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    inline: list[str] = []

    def walk(node: Any, where: str, top: bool) -> None:
        if isinstance(node, dict):
            if "enum" in node and not top:
                inline.append(where)
            for key, value in node.items():
                walk(value, f"{where}/{key}", False)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]", False)

    walk(document["paths"], "paths", False)
    for name, schema in schemas.items():
        walk(schema, name, True)
    assert inline == []
    enums = {name: tuple(s["enum"]) for name, s in schemas.items() if "enum" in s}
    assert len(set(enums.values())) == len(enums), enums  # one schema per enum
    for name in ("StatsGroupBy", "ApplicationStatus", "Role", "DecisionOutcome", "District"):
        assert name in enums
    group_by = next(
        p["schema"]
        for p in document["paths"]["/v1/loans/stats"]["get"]["parameters"]
        if p["name"] == "group_by"
    )
    assert {"$ref": "#/components/schemas/StatsGroupBy"} in group_by["anyOf"]


def test_secured_operations_name_the_oauth_scheme_with_their_scopes(
    document: dict[str, Any],
) -> None:
    scheme = document["components"]["securitySchemes"]
    assert list(scheme) == ["OAuth2"]
    flow = scheme["OAuth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/oauth/token"
    assert set(flow["scopes"]) == {
        "scoring:read",
        "loans:read",
        "loans:write",
        "stats:read",
        "guarantee:read",
        "export:read",
        "admin",
    }
    for method, path, operation in _operations(document):
        access = operation["x-access"]
        if access["public"]:
            assert operation["security"] == [], (method, path)  # explicitly no token
        else:
            assert operation["security"] == [{"OAuth2": access["scopes"]}], (method, path)
    submit = document["paths"]["/v1/loans/applications"]["post"]
    assert submit["security"] == [{"OAuth2": ["loans:write"]}]


# ---------------------------------------------------------------- live answers, as declared


def _template_of(document: dict[str, Any], method: str, url: str) -> dict[str, Any]:
    path = httpx.URL(url).path
    for template, item in document["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            operation: dict[str, Any] = item[method.lower()]
            return operation
    raise LookupError(f"no operation for {method} {path}")


def assert_declared(document: dict[str, Any], response: httpx.Response) -> None:
    """The status, media type and headers of `response` are declared for its operation."""
    request = response.request
    operation = _template_of(document, request.method, str(request.url))
    label = f"{request.method} {request.url.path} → {response.status_code}"
    declared = operation["responses"].get(str(response.status_code))
    assert declared is not None, f"{label}: status not declared"
    media = response.headers.get("content-type", "").split(";")[0].strip()
    if response.content:
        assert media in declared.get("content", {}), f"{label}: {media} not declared"
    names = {h.lower() for h in declared.get("headers", {})}
    sent = {h.lower() for h in response.headers} - UNDECLARED
    assert sent <= names, f"{label}: undeclared headers {sorted(sent - names)}"


def test_live_answers_are_what_the_document_declares(
    api: TestClient,
    document: dict[str, Any],
    factory: Factory,
    periods: PeriodPool,
) -> None:
    (uscc,) = factory.ranked(periods.fresh(), [A_INDICATORS])
    bank = factory.bank()
    product = factory.product(bank, min_points=80)
    token = bearer(factory.bank_token(bank))
    firm = "OA_" + uuid.uuid4().hex[:6].upper()
    consent = {
        "uscc": uscc,
        "firm_code": firm,
        "evidence_ref": "授权书",
        "granted_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
    }
    assert api.post("/v1/admin/consents", headers=factory.admin, json=consent).status_code == 201
    firm_token = bearer(factory.token("credit_firm", firm_code=firm))
    limited = bearer(factory.token("bureau", rate_limit_per_minute=1))

    answers: list[httpx.Response] = []
    body = {"uscc": uscc, "product_code": product, "amount": "1000000.00", "term_months": 12}
    key = {**token, "Idempotency-Key": new_key()}
    created = api.post("/v1/loans/applications", headers=key, json=body)
    replayed = api.post("/v1/loans/applications", headers=key, json=body)
    assert (created.status_code, replayed.status_code) == (201, 201)
    assert replayed.headers["idempotent-replayed"] == "true"
    at = created.headers["location"]
    answers += [created, replayed, api.get(at, headers=token)]
    decision = {"outcome": "rejected", "reason_codes": ["risk"]}
    answers.append(
        api.post(f"{at}/decision", headers={**token, "Idempotency-Key": new_key()}, json=decision)
    )
    answers.append(api.post(f"{at}/withdraw", headers=token))  # 409: decided already
    answers += [
        api.get(f"/v1/loans/products/{product}/quote", headers=token, params={"uscc": uscc}),
        api.get(
            "/v1/loans/stats",
            headers={**token, "Accept": "text/csv"},
            params={"from": "2020-01-01", "to": "2030-12-31", "group_by": "product"},
        ),
        api.get("/v1/loans/applications", headers=token, params={"limit": 1}),
        api.get("/v1/loans/applications", headers=token, params={"status": "lost"}),  # 422
        api.get(f"/v1/loans/applications/{uuid.uuid4()}", headers=token),  # 404
        api.get("/v1/loans/applications"),  # 401, WWW-Authenticate
        api.get("/v1/guarantee/features", headers=firm_token),
        api.get(
            "/v1/guarantee/features",
            headers={
                **firm_token,
                "Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            },
        ),
        api.get("/v1/guarantee/features", headers={**firm_token, "Accept": "image/png"}),  # 406
        api.get("/.well-known/jwks.json"),
        api.get("/.well-known/oauth-authorization-server"),
        api.get("/problems/not-found"),
        api.post("/oauth/token", data={"grant_type": "client_credentials"}),  # 401
        api.get("/v1/scoring/whoami", headers=limited),
        api.get("/v1/scoring/whoami", headers=limited),  # 429, Retry-After
    ]
    statuses = {r.status_code for r in answers}
    assert {200, 201, 401, 404, 406, 409, 422, 429} <= statuses, statuses
    for response in answers:
        assert_declared(document, response)


def test_the_check_fails_on_an_undeclared_header(api: TestClient, document: dict[str, Any]) -> None:
    response = api.get("/.well-known/jwks.json")
    response.headers["X-Surprise"] = "1"
    with pytest.raises(AssertionError, match="undeclared headers"):
        assert_declared(document, response)
