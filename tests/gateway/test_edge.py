"""The edge: bad input is always a 4xx problem, request ids, body limits, quotas, audit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any, cast

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.app import Gateway
from services.gateway.models import AuditEvent
from services.runtime import SERVICES, build_gateway, build_service
from shared.db import make_engine
from shared.methods import SERVED_METHODS
from tests.factories import Creds, bearer, get_token
from tests.servers import make_settings, serve_app


@pytest.fixture(scope="module")
def small(database_url: str) -> Iterator[TestClient]:
    """A gateway with tiny body limits."""
    engine = make_engine(database_url)
    app = build_gateway(
        make_settings(database_url, max_body_bytes=1024, max_upload_bytes=4096), engine
    )
    with TestClient(app) as client:
        yield client
    engine.dispose()


def _is_problem(response) -> None:  # type: ignore[no-untyped-def]
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail", "instance", "request_id"} <= set(body)
    assert body["status"] == response.status_code
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 422),
        (b"\xff\xfe\x00garbage", "application/json", 422),
        (b"[1, 2, 3]", "application/json", 422),
        (b'"a string"', "application/json", 422),
        (b"null", "application/json", 422),
        (b"name=x&role=admin", "application/x-www-form-urlencoded", 415),
        (b"<xml/>", "application/xml", 415),
        (b'{"name": "x", "role": "admin"}', "text/plain", 415),
        (b"", "application/json", 422),
        (('{"name": "' + "长" * 300 + '", "role": "admin"}').encode(), "application/json", 422),
    ],
)
def test_garbage_and_wrong_content_types_are_4xx_problems(
    api: TestClient, admin_token: str, content: bytes, content_type: str, status: int
) -> None:
    response = api.post(
        "/v1/admin/clients",
        content=content,
        headers={**bearer(admin_token), "Content-Type": content_type},
    )
    assert response.status_code == status, response.text
    _is_problem(response)


def test_validation_problem_lists_errors(api: TestClient, admin_token: str) -> None:
    response = api.post(
        "/v1/admin/clients",
        headers=bearer(admin_token),
        json={"role": "bank", "bank_code": "TZB", "status": "x"},
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    locs = {tuple(e["loc"]) for e in errors}
    assert ("body", "name") in locs
    assert ("body", "status") in locs  # unknown fields are refused, not ignored
    assert all({"loc", "msg"} <= set(e) for e in errors)


def test_unknown_path_and_method(api: TestClient, admin_token: str) -> None:
    missing = api.get("/v1/admin/nothing-here", headers=bearer(admin_token))
    assert missing.status_code == 404
    _is_problem(missing)
    root_missing = api.get("/nothing")
    assert root_missing.status_code == 404
    _is_problem(root_missing)
    wrong_method = api.delete("/v1/admin/clients", headers=bearer(admin_token))
    assert wrong_method.status_code == 405
    _is_problem(wrong_method)
    trace = api.request("TRACE", "/v1/scoring/whoami", headers=bearer(admin_token))
    assert trace.status_code == 405
    _is_problem(trace)


# (method, path, what `Allow` must say): a method no route takes is 405 wherever it is sent,
# unknown paths and unauthenticated /v1/ paths included, and `Allow` names what the path takes.
UNSERVED = [
    ("TRACE", "/", ""),
    ("TRACE", "/v1/no-such", ""),
    ("TRACE", "/v1/loans/applications", "GET, HEAD, POST"),
    ("TRACE", "/oauth/token", "POST"),
    ("OPTIONS", "/nothing", ""),
    ("CONNECT", "/v1/scoring/whoami", "GET, HEAD"),
    ("PROPFIND", "/healthz", "GET, HEAD"),
]


def _refuses_unserved_methods(client: TestClient, cases: list[tuple[str, str, str]]) -> None:
    for method, path, allow in cases:
        response = client.request(method, path)
        assert response.status_code == 405, (method, path, response.text)
        _is_problem(response)
        assert response.json()["type"].endswith("/method-not-allowed")
        assert response.headers["allow"] == allow, (method, path)


def test_a_method_no_route_takes_is_405_everywhere(api: TestClient) -> None:
    _refuses_unserved_methods(api, UNSERVED)


@pytest.mark.parametrize("name", ["scoring", "loans", "guarantee"])
def test_each_service_on_its_own_refuses_unserved_methods_everywhere(
    name: str, database_url: str, engine: Engine
) -> None:
    app = build_service(name, make_settings(database_url), engine)
    with TestClient(app) as client:
        _refuses_unserved_methods(
            client,
            [("TRACE", "/", ""), ("TRACE", "/v1/no-such", ""), ("TRACE", "/readyz", "GET, HEAD")],
        )
        whoami = f"/v1/{name}/whoami"
        _refuses_unserved_methods(
            client, [("TRACE", whoami, "GET, HEAD"), ("OPTIONS", whoami, "GET, HEAD")]
        )


def test_a_split_gateway_refuses_unserved_methods_like_one_process(
    database_url: str, engine: Engine
) -> None:
    """The gateway has no route table for a proxied service: the service refuses the method
    itself, before the gateway authenticates, counts or audits anything."""
    settings = make_settings(database_url)
    with ExitStack() as stack:
        urls = {
            f"{name}_url": stack.enter_context(serve_app(build_service(name, settings, engine)))
            for name in ("scoring", "loans", "guarantee")
        }
        split = build_gateway(settings.model_copy(update=urls), engine)
        assert len(split.proxies) == 3
        client = stack.enter_context(TestClient(split))
        _refuses_unserved_methods(client, UNSERVED)


def test_every_route_takes_only_served_methods(api: TestClient) -> None:
    """`SERVED_METHODS` is what the edge lets through; a route with another method would be
    unreachable, so none may have one."""
    gateway = cast(Gateway, api.app)
    apps = [
        gateway.core,
        *(
            build_service(n, gateway.core.state.settings, gateway.core.state.engine)
            for n in SERVICES
        ),
    ]
    methods = {
        m for app in apps for r in app.routes if isinstance(r, APIRoute) for m in r.methods or ()
    }
    assert methods <= SERVED_METHODS, methods - SERVED_METHODS


def test_oversized_bodies_are_413(small: TestClient, make_client: Callable[..., Creds]) -> None:
    big = b"grant_type=client_credentials&pad=" + b"x" * 2000
    response = small.post(
        "/oauth/token", content=big, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    _is_problem(response)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while streaming
        for _ in range(10):
            yield b"x" * 500

    streamed = small.post(
        "/oauth/token",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413
    _is_problem(streamed)

    token = get_token(small, make_client("admin"))
    upload = small.post(
        "/v1/admin/clients",
        headers={**bearer(token), "Content-Type": "application/json"},
        content=b'{"name": "' + b"x" * 3000 + b'", "role": "admin"}',
    )
    assert upload.status_code == 422  # admin paths allow bulk uploads up to the upload limit
    too_big = small.post("/v1/admin/clients", headers=bearer(token), content=b"x" * 5000)
    assert too_big.status_code == 413


def test_request_id_is_taken_when_sane_and_made_otherwise(api: TestClient) -> None:
    given = api.get("/healthz", headers={"X-Request-ID": "bank-req-42"})
    assert given.headers["x-request-id"] == "bank-req-42"
    made = api.get("/healthz", headers={"X-Request-ID": "bad id with spaces\t" + "x" * 200})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32
    assert len(api.get("/healthz").headers["x-request-id"]) == 32
    problem = api.get("/v1/scoring/whoami", headers={"X-Request-ID": "trace-1"})
    assert problem.json()["request_id"] == "trace-1"


def test_rate_limit_gives_429_with_retry_after(api: TestClient, admin_token: str) -> None:
    api.put("/v1/admin/banks/SLOW", headers=bearer(admin_token), json={"name": "慢银行"})
    created = api.post(
        "/v1/admin/clients",
        headers=bearer(admin_token),
        json={"name": "slow bank", "role": "bank", "bank_code": "SLOW", "rate_limit_per_minute": 3},
    )
    creds = Creds(created.json()["client_id"], created.json()["client_secret"])
    token = get_token(api, creds)
    statuses = [api.get("/v1/loans/whoami", headers=bearer(token)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = api.get("/v1/loans/whoami", headers=bearer(token))
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    _is_problem(limited)
    # Other clients are not affected.
    assert api.get("/v1/loans/whoami", headers=bearer(admin_token)).status_code == 200


def test_every_write_is_audited_with_client_and_request_id(
    api: TestClient, admin_token: str, db: sessionmaker[Session]
) -> None:
    response = api.post(
        "/v1/admin/clients",
        headers={**bearer(admin_token), "X-Request-ID": "audit-me-1"},
        json={"name": "audited", "role": "bureau"},
    )
    assert response.status_code == 201
    failed = api.post(
        "/v1/admin/clients",
        headers={**bearer(admin_token), "X-Request-ID": "audit-me-2"},
        json={"name": "audited", "role": "nope"},
    )
    assert failed.status_code == 422
    api.get("/v1/admin/clients", headers={**bearer(admin_token), "X-Request-ID": "audit-me-3"})
    with db() as session:
        rows = {
            r.request_id: r
            for r in session.scalars(
                select(AuditEvent).where(AuditEvent.request_id.like("audit-me-%"))
            )
        }
    assert set(rows) == {"audit-me-1", "audit-me-2"}  # reads are not audited
    assert rows["audit-me-1"].status == 201
    assert rows["audit-me-1"].method == "POST"
    assert rows["audit-me-1"].path == "/v1/admin/clients"
    assert rows["audit-me-2"].status == 422
    assert rows["audit-me-1"].client_id == rows["audit-me-2"].client_id is not None

    listed = api.get(
        "/v1/admin/audit",
        headers=bearer(admin_token),
        params={"since": rows["audit-me-1"].at.isoformat(), "limit": 500},
    )
    assert "audit-me-1" in {e["request_id"] for e in listed.json()["items"]}
    naive = api.get(
        "/v1/admin/audit", headers=bearer(admin_token), params={"since": "2026-01-01T00:00:00"}
    )
    assert naive.status_code == 422


def test_token_requests_are_audited_without_secrets(
    api: TestClient, make_client: Callable[..., Creds], db: sessionmaker[Session]
) -> None:
    creds = make_client("bureau")
    api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": creds.basic(), "X-Request-ID": "audit-token-1"},
    )
    with db() as session:
        row = session.scalars(
            select(AuditEvent).where(AuditEvent.request_id == "audit-token-1")
        ).one()
    assert row.client_id == creds.client_id
    assert creds.client_secret not in str(row.detail)


def test_health_and_readiness(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok"}


def test_openapi_covers_gateway_and_services(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert {
        "/oauth/token",
        "/v1/admin/clients",
        "/v1/scoring/whoami",
        "/v1/loans/whoami",
        "/v1/guarantee/whoami",
    } <= set(paths)


def test_secrets_and_tokens_never_reach_the_logs(
    api: TestClient, make_client: Callable[..., Creds], caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    creds = make_client("bureau")
    with caplog.at_level(logging.DEBUG):
        ok = api.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": creds.basic()},
        )
        token = ok.json()["access_token"]
        api.get("/v1/scoring/whoami", headers=bearer(token))
        api.get("/v1/scoring/whoami", headers=bearer(token + "x"))
        api.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret + "wrong",
            },
        )
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records  # the requests were logged…
    assert creds.client_secret not in logged  # …but never the secret
    assert token not in logged
    assert token[-20:] not in logged


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def test_every_json_request_body_forbids_unknown_fields(api: TestClient) -> None:
    """Mass assignment: generated from the document, so a new request model is checked too."""
    spec = api.get("/openapi.json").json()
    checked = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            schema = _resolve(spec, content["application/json"]["schema"])
            while schema.get("type") == "array":  # bulk uploads: every row is a model
                schema = _resolve(spec, schema["items"])
            for variant in schema.get("anyOf", [schema]):
                variant = _resolve(spec, variant)
                if variant.get("type") == "null":  # an optional body
                    continue
                if variant.get("type") == "array":
                    variant = _resolve(spec, variant["items"])
                assert variant.get("additionalProperties") is False, (method, path, variant)
            checked.append((method, path))
    assert len(checked) >= 15, checked  # the admin uploads, loans writes, consents, clients ...


def test_no_cors_is_granted_to_a_browser_origin(api: TestClient, admin_token: str) -> None:
    """No CORS middleware: a browser on another origin gets no Access-Control-* grant, with or
    without credentials (bank systems call server to server)."""
    evil = {"Origin": "https://evil.example"}
    preflight = api.options(
        "/v1/loans/applications",
        headers={
            **evil,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    call = api.get("/v1/scoring/whoami", headers={**evil, **bearer(admin_token)})
    assert call.status_code == 200
    for response in (preflight, call):
        granted = {h for h in response.headers if h.lower().startswith("access-control-")}
        assert granted == set(), response.headers


def test_head_is_get_without_the_body(api: TestClient, admin_token: str, live_url: str) -> None:
    """RFC 9110 §9.1: a server supports GET and HEAD. Found by the black-box tests: HEAD on
    a resource was 405."""
    headers = bearer(admin_token)
    got = api.get("/v1/loans/products", headers=headers)
    head = api.head("/v1/loans/products", headers=headers)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]
    assert head.headers["content-type"] == got.headers["content-type"]
    # Through a real server: the status and headers, and no body on the wire.
    live = httpx.head(f"{live_url}/v1/loans/products", headers=headers)
    assert live.status_code == 200
    assert live.headers["content-length"] == got.headers["content-length"]
    # HEAD is refused where GET is: 401 without a token, 404 for nothing, 405 for a POST-only path.
    assert api.head("/v1/loans/products").status_code == 401
    assert api.head("/v1/no-such", headers=headers).status_code == 404
    refused = api.head("/oauth/token")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "POST"
