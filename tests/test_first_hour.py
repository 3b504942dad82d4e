"""A newcomer's first hour, read from the outside: issue 13's parts A, C, E and F checked only
through the gateway (the README and CONTRACT.md are the specification; nothing here reads the
implementation). A second, independent reading of what other tests may already cover.

A — every list pages by the list rule, a burst of identical POSTs is served (201/409 only), a
    method no route takes is 405 at every path.
C — OAuth and problems to the letter: Basic + client_id, expired/forged token challenges, one
    title per problem type (and every type resolves under /problems), malformed JSON, bad
    Idempotency-Keys, a missing Content-Type, raw UTF-8 in a request line, 406, strict integers,
    one rule for timestamps.
E — CSV with a BOM on request, XLSX read back with openpyxl (typed cells, Chinese headers) for
    stats, rankings, waivers, applications and the feature export.
F — provisional years carry the statutory holidays (2027's New Year and Spring Festival), and
    the rule they follow agrees with chinese-calendar on 2025-2026.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import re
import socket
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import chinese_calendar
import httpx
import openpyxl
import pytest
from fastapi.testclient import TestClient
from lunar_python import Lunar

from shared.clock import frozen_at
from tests.factories import (
    A_INDICATORS,
    B_INDICATORS,
    DEFAULT_MODEL,
    Creds,
    Factory,
    bearer,
    get_token,
    new_key,
    new_uscc,
    product_body,
)
from tests.instants import UTC_INSTANT, instants
from tests.periods import PeriodPool
from tests.processes import free_port_block, innocredit, wait_ready

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHANGHAI = ZoneInfo("Asia/Shanghai")
BOM = b"\xef\xbb\xbf"
GAOGANG = "高港区"
FORMULA_NAME = '=HYPERLINK("http://x","泰州")'  # a spreadsheet must never run it

# ---------------------------------------------------------------- the world


@dataclass(frozen=True)
class World:
    """One bank with three applications in March 2026, three ranked enterprises (two in 高港区),
    a credit firm with consents for two of them, and tokens for every role."""

    period: int  # ranked; period + 1 is the waiver year
    bank: str
    product: str
    usccs: list[str]
    bank_token: str
    apps: dict[str, str]  # state → id
    admin_token: str
    bureau_token: str
    firm: str
    firm_token: str
    consented: list[str]
    webhook: str  # the bureau's endpoint, with two test deliveries


def _bureau_webhook(factory: Factory, token: str) -> str:
    """A bureau endpoint with two deliveries; the bureau's endpoints are one owner's for
    every bureau client (at most 10), so those other tests left are deleted first."""
    h = bearer(token)
    for hook in factory.api.get("/v1/loans/webhooks?limit=500", headers=h).json()["items"]:
        factory.api.delete(f"/v1/loans/webhooks/{hook['name']}", headers=h)
    body = {"url": "https://bureau.example/hook", "events": ["application.decision_overdue"]}
    assert factory.api.put("/v1/loans/webhooks/first-hour", headers=h, json=body).is_success
    for _ in range(2):
        assert factory.api.post("/v1/loans/webhooks/first-hour/test", headers=h).is_success
    return "first-hour"


@pytest.fixture(scope="module")
def world(factory: Factory, periods: PeriodPool, admin_token: str) -> World:
    period = periods.fresh(following=True)
    usccs = factory.ranked(
        period,
        [A_INDICATORS, B_INDICATORS, A_INDICATORS],
        enterprise_overrides=[
            {"district": GAOGANG, "name": "泰州高港测试一"},
            {"district": GAOGANG, "name": "泰州高港测试二", "stage": "startup"},
            {"district": "海陵区", "name": FORMULA_NAME},
        ],
    )
    bank = factory.bank(name="第一小时银行")
    product = factory.product(bank)
    march = datetime(2026, 3, 9, 10, 0, tzinfo=SHANGHAI)  # a Monday
    apps = {
        "disbursed": factory.application(
            bank, product, usccs[0], state="disbursed", amount="850000.50", submitted_at=march
        ).id,
        "rejected": factory.application(
            bank, product, usccs[2], state="rejected", submitted_at=march + timedelta(days=1)
        ).id,
        "submitted": factory.application(
            bank, product, usccs[2], submitted_at=march + timedelta(days=2)
        ).id,
    }
    firm = f"FH{uuid.uuid4().hex[:8].upper()}"
    consented = [usccs[0], usccs[1]]
    granted = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    for uscc in consented:
        body = {"uscc": uscc, "firm_code": firm, "granted_at": granted, "evidence_ref": "签字页"}
        response = factory.api.post("/v1/admin/consents", headers=factory.admin, json=body)
        assert response.status_code in (200, 201), response.text
    bureau_token = factory.token("bureau")
    return World(
        period=period,
        bank=bank,
        product=product,
        usccs=usccs,
        bank_token=factory.bank_token(bank),
        apps=apps,
        admin_token=admin_token,
        bureau_token=bureau_token,
        firm=firm,
        firm_token=factory.token("credit_firm", firm_code=firm),
        consented=consented,
        webhook=_bureau_webhook(factory, bureau_token),
    )


@pytest.fixture(scope="module")
def served(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`innocredit serve` as a user starts it (default admission limits, its own HTTP protocol)
    on the suite's database."""
    port = free_port_block(1)
    log = tmp_path_factory.mktemp("first-hour") / "serve.log"
    env = {
        "DATABASE_URL": database_url,
        "INNOCREDIT_LOG_FORMAT": "text",
        "INNOCREDIT_UNKNOWN_KID_COOLDOWN_SECONDS": "0",
    }
    with innocredit(["serve", "--port", str(port)], env=env, log=log) as proc:
        wait_ready(f"http://127.0.0.1:{port}/readyz", proc=proc, log=log)
        yield f"http://127.0.0.1:{port}"


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """Assert `response` is the RFC 9457 problem `slug` with `status`; return its body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body: dict[str, Any] = response.json()
    assert body["type"].rsplit("/", 1)[-1] == slug, body
    assert body["status"] == status, body
    for member in ("title", "detail", "instance", "request_id"):
        assert member in body, (member, body)
    return body


# ---------------------------------------------------------------- A1: every list follows the rule


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _collections(doc: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(GETs answering a JSON envelope with `items`, GETs answering a bare JSON array)."""
    envelopes: list[str] = []
    bare: list[str] = []
    for path, operations in doc["paths"].items():
        content = operations.get("get", {}).get("responses", {}).get("200", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        if schema is None:
            continue
        resolved = _resolve(doc, schema)
        if resolved.get("type") == "array":
            bare.append(path)
        elif "items" in resolved.get("properties", {}):
            envelopes.append(path)
    return envelopes, bare


def _list_url(path: str, world: World) -> str:
    values = {
        "year": str(world.period + 1),
        "app_id": world.apps["disbursed"],
        "uscc": world.usccs[0],
        "code": world.product,
        "version": DEFAULT_MODEL,
        "name": world.webhook,
    }

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            pytest.fail(f"{path}: a list with path parameter {{{name}}} this test cannot fill")
        return values[name]

    url = re.sub(r"\{(\w+)\}", fill, path)
    query = {
        "/v1/scoring/rankings": f"period={world.period}",
        "/v1/admin/audit": "since=2000-01-01T00:00:00Z",
    }.get(path)
    return f"{url}?{query}&" if query else f"{url}?"


def _reader(api: TestClient, url: str, world: World) -> dict[str, str]:
    """The first of admin, bureau and bank whose token may read `url`."""
    for token in (world.admin_token, world.bureau_token, world.bank_token):
        if api.get(url + "limit=1", headers=bearer(token)).status_code != 403:
            return bearer(token)
    pytest.fail(f"{url}: no role may read it")


def test_every_collection_in_the_document_is_an_envelope_with_limit_and_cursor(
    api: TestClient,
) -> None:
    doc = api.get("/openapi.json").json()
    envelopes, bare = _collections(doc)
    assert bare == [], f"bare JSON arrays break the list rule: {bare}"
    for must in (
        "/v1/loans/products",
        "/v1/loans/banks",
        "/v1/guarantee/waivers/{year}",
        "/v1/loans/applications",
        "/v1/scoring/rankings",
    ):
        assert must in envelopes
    for path in envelopes:
        operation = doc["paths"][path]["get"]
        params = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
        assert {"limit", "cursor"} <= params.keys(), (path, sorted(params))
        schema = _resolve(
            doc, operation["responses"]["200"]["content"]["application/json"]["schema"]
        )
        assert "next_cursor" in schema["properties"], path


def test_every_list_answers_limits_cursors_and_the_envelope(api: TestClient, world: World) -> None:
    doc = api.get("/openapi.json").json()
    envelopes, _ = _collections(doc)
    walked = 0
    for path in envelopes:
        url = _list_url(path, world)
        headers = _reader(api, url, world)
        for bad in ("0", "501", "100000", "-1", "x"):
            problem(api.get(url + f"limit={bad}", headers=headers), 422, "validation-error")
        for cursor in ("abc", "eyJpZCI6IDF9", "W10"):  # garbage, base64 JSON, a bare "[]"
            problem(api.get(url + f"cursor={cursor}", headers=headers), 400, "invalid-cursor")
        default = api.get(url.rstrip("?&"), headers=headers)
        assert default.status_code == 200, (path, default.text)
        body = default.json()
        assert isinstance(body["items"], list), path
        assert "next_cursor" in body, path
        assert len(body["items"]) <= 50, path  # default limit
        everything = api.get(url + "limit=500", headers=headers).json()
        if len(everything["items"]) < 2:
            continue
        # Page one item at a time through the first three: the same items in the same order.
        first = everything["items"][:3]
        pages: list[Any] = []
        cursor = ""
        for _ in first:
            page = api.get(url + f"limit=1&cursor={cursor}", headers=headers)
            assert page.status_code == 200, (path, page.text)
            assert len(page.json()["items"]) == 1, path
            pages.extend(page.json()["items"])
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
            assert not cursor.isdigit(), (path, cursor)  # opaque, not an offset
            assert len(cursor) >= 8, (path, cursor)
        assert pages == first, path
        walked += 1
    assert walked >= 6, walked


def test_a_cursor_is_bound_to_its_list_and_cannot_be_edited(
    api: TestClient, world: World, factory: Factory
) -> None:
    admin = bearer(world.admin_token)
    ranking = api.get(f"/v1/scoring/rankings?period={world.period}&limit=1", headers=admin).json()
    cursor = ranking["next_cursor"]
    assert cursor
    waivers = f"/v1/guarantee/waivers/{world.period + 1}"
    problem(api.get(f"{waivers}?cursor={cursor}", headers=admin), 400, "invalid-cursor")
    other_filter = f"/v1/scoring/rankings?period={world.period}&district={quote(GAOGANG)}"
    problem(api.get(f"{other_filter}&cursor={cursor}", headers=admin), 400, "invalid-cursor")
    mine = api.get("/v1/loans/applications?limit=1", headers=bearer(world.bank_token)).json()
    assert mine["next_cursor"]
    other_bank = bearer(factory.bank_token(factory.bank()))
    foreign = api.get(f"/v1/loans/applications?cursor={mine['next_cursor']}", headers=other_bank)
    problem(foreign, 400, "invalid-cursor")
    edited = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    problem(
        api.get(f"/v1/scoring/rankings?period={world.period}&cursor={edited}", headers=admin),
        400,
        "invalid-cursor",
    )


# ---------------------------------------------------------------- A2: a burst is served


@pytest.mark.slow
def test_fifty_identical_posts_with_one_key_get_only_201_or_409(
    served: str, factory: Factory, world: World
) -> None:
    bank = factory.bank(name="并发银行")
    product = factory.product(bank)
    token = factory.bank_token(bank)
    body = {
        "uscc": world.usccs[0],
        "product_code": product,
        "amount": "500000.00",
        "term_months": 12,
    }
    headers = {**bearer(token), "Idempotency-Key": new_key()}
    barrier = threading.Barrier(50)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def post() -> None:
        with httpx.Client(base_url=served, timeout=30) as client:
            client.get("/healthz")  # connection open before the burst
            barrier.wait()
            response = client.post("/v1/loans/applications", headers=headers, json=body)
        with lock:
            slug = response.json().get("type", "") if response.status_code >= 400 else ""
            answers.append((response.status_code, slug))

    threads = [threading.Thread(target=post) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 50
    assert {status for status, _ in answers} <= {201, 409}, sorted(answers)
    assert (201, "") in answers
    assert all(slug.endswith("idempotency-in-progress") for status, slug in answers if slug)
    listed = httpx.get(f"{served}/v1/loans/applications?limit=500", headers=bearer(token)).json()
    assert len(listed["items"]) == 1, listed


# ---------------------------------------------------------------- A3: TRACE and friends → 405


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "CONNECT", "FROBNICATE"])
@pytest.mark.parametrize(
    "path", ["/", "/v1/no-such", "/v1/loans/products", "/oauth/token", "/problems/no-such-slug"]
)
def test_a_method_no_route_takes_is_405_everywhere(
    api: TestClient, admin_token: str, method: str, path: str
) -> None:
    response = api.request(method, path, headers=bearer(admin_token))
    problem(response, 405, "method-not-allowed")
    allowed = {m.strip() for m in response.headers["allow"].split(",") if m.strip()}
    assert method not in allowed
    if path == "/v1/no-such":
        assert allowed == set(), allowed  # nothing is served there
    if path == "/v1/loans/products":
        assert "GET" in allowed, allowed


@pytest.mark.slow
def test_trace_on_the_real_server_is_405(served: str) -> None:
    for target in (b"/", b"/v1/no-such", b"/healthz"):
        status, headers, body = raw_request(served, b"TRACE", target)
        assert status == 405, (target, status, body)
        assert headers["content-type"].startswith("application/problem+json"), body


# ---------------------------------------------------------------- C: OAuth to the letter


def test_basic_with_a_matching_client_id_is_fine_and_another_is_invalid_request(
    api: TestClient, make_client: Callable[..., Creds]
) -> None:
    creds = make_client("bureau", name="requests-oauthlib style")
    other = make_client("bureau", name="someone else")
    form = {"grant_type": "client_credentials", "client_id": creds.client_id}
    good = api.post("/oauth/token", data=form, headers={"Authorization": creds.basic()})
    assert good.status_code == 200, good.text
    assert good.json()["token_type"] == "Bearer"
    mismatch = {"grant_type": "client_credentials", "client_id": other.client_id}
    bad = api.post("/oauth/token", data=mismatch, headers={"Authorization": creds.basic()})
    assert bad.status_code == 400, bad.text
    assert bad.json()["error"] == "invalid_request", bad.text
    both = {"grant_type": "client_credentials", "client_secret": creds.client_secret}
    twice = api.post("/oauth/token", data=both, headers={"Authorization": creds.basic()})
    assert twice.status_code == 400, twice.text
    assert twice.json()["error"] == "invalid_request", twice.text


def test_an_expired_token_is_told_it_expired_and_a_forged_one_is_invalid(
    api: TestClient, make_client: Callable[..., Creds]
) -> None:
    creds = make_client("bureau", name="expiring")
    expired = get_token(api, creds)
    with frozen_at(datetime.now(UTC) + timedelta(minutes=16)):  # tokens live 15 min at most
        response = api.get("/v1/loans/whoami", headers=bearer(expired))
    body = problem(response, 401, "unauthorized")
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer "), challenge
    assert 'error="invalid_token"' in challenge, challenge
    assert 'error_description="The access token expired"' in challenge, challenge
    assert body["detail"] == "The access token expired", body

    head, payload, signature = get_token(api, creds).split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    response = api.get("/v1/loans/whoami", headers=bearer(f"{head}.{payload}.{flipped}"))
    body = problem(response, 401, "unauthorized")
    assert 'error_description="The access token is invalid"' in response.headers["www-authenticate"]
    assert body["detail"] == "The access token is invalid", body


# ---------------------------------------------------------------- C: problems to the letter


def _application(world: World, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "uscc": world.usccs[0],
        "product_code": world.product,
        "amount": "100000.00",
        "term_months": 12,
    }
    body.update(overrides)
    return body


def test_one_title_per_problem_type_and_every_type_resolves(
    api: TestClient, world: World, factory: Factory
) -> None:
    admin = bearer(world.admin_token)
    bank = bearer(world.bank_token)
    bank_key = {**bank, "Idempotency-Key": new_key()}
    other_bank = factory.bank()
    other_product = factory.product(other_bank)
    reused = {**bank, "Idempotency-Key": new_key()}
    assert api.post("/v1/loans/applications", headers=reused, json=_application(world)).is_success
    app = f"/v1/loans/applications/{world.apps['submitted']}"
    csv_bad_rows = "uscc,invention_patents\n" + new_uscc() + ",-1\n"
    provoked: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/v1/loans/products?limit=0", {"headers": admin}),
        ("GET", "/v1/loans/calendar/not-a-year", {"headers": admin}),
        ("GET", "/v1/scoring/rankings?period=abc", {"headers": admin}),
        ("GET", "/v1/loans/stats?from=2026-02-01&to=2026-01-01", {"headers": admin}),
        ("GET", "/v1/loans/deadline?submitted_at=yesterday", {"headers": admin}),
        ("POST", "/v1/loans/applications", {"headers": bank_key, "json": {"uscc": "x"}}),
        (
            "POST",
            "/v1/loans/applications",
            {"headers": bank_key, "json": _application(world, term_months="12")},
        ),
        (
            "POST",
            "/v1/loans/applications",
            {"headers": bank_key, "json": _application(world, status="approved")},
        ),
        (
            "POST",
            "/v1/loans/applications",
            {"headers": bank_key, "json": _application(world, amount=100000.0)},
        ),
        (
            "PUT",
            f"/v1/admin/products/TP-{uuid.uuid4().hex[:8]}",
            {"headers": admin, "json": {"bank_code": world.bank, "term_min_months": 40}},
        ),
        (
            "POST",
            "/v1/admin/consents",
            {
                "headers": admin,
                "json": {
                    "uscc": world.usccs[2],
                    "firm_code": world.firm,
                    "granted_at": "2026-01-02T00:00:00Z",
                    "expires_at": "2026-01-01T00:00:00Z",
                    "evidence_ref": "x",
                },
            },
        ),
        ("GET", "/v1/scoring/enterprises/91321200MA1N2X3Y4X", {"headers": admin}),
        ("GET", f"/v1/scoring/enterprises/{new_uscc()}", {"headers": admin}),
        (
            "POST",
            "/v1/loans/applications",
            {
                "headers": {**bank_key, "Content-Type": "application/json"},
                "content": b'{"uscc": ,}',
            },
        ),
        ("POST", "/v1/loans/applications", {"headers": bank_key, "content": b"{}"}),
        (
            "POST",
            "/v1/loans/applications",
            {"headers": {**bank_key, "Content-Type": "text/plain"}, "content": b"{}"},
        ),
        ("GET", "/v1/loans/products", {}),
        ("GET", "/v1/loans/products", {"headers": bearer("not.a.jwt")}),
        ("GET", "/v1/loans/products", {"headers": bearer(world.firm_token)}),
        ("GET", "/v1/loans/products?cursor=forged", {"headers": admin}),
        ("POST", "/v1/loans/applications", {"headers": bank, "json": _application(world)}),
        (
            "POST",
            "/v1/loans/applications",
            {"headers": {**bank, "Idempotency-Key": "k" * 256}, "json": _application(world)},
        ),
        (
            "POST",
            "/v1/loans/applications",
            {"headers": reused, "json": _application(world, amount="100001.00")},
        ),
        ("TRACE", "/", {}),
        ("GET", "/v1/loans/products", {"headers": {**admin, "Accept": "image/png"}}),
        ("GET", "/v1/no-such", {"headers": admin}),
        ("GET", "/problems/no-such-slug", {}),
        (
            "PUT",
            f"/v1/admin/indicators/{world.period}",
            {"headers": {**admin, "Content-Type": "text/csv"}, "content": csv_bad_rows.encode()},
        ),
        (
            "POST",
            "/oauth/token",
            {"data": {"grant_type": "client_credentials"}, "auth": ("ic_nobody", "nothing")},
        ),
        ("GET", f"/v1/loans/products/{other_product}", {"headers": bank}),
        ("GET", f"/v1/loans/applications/{uuid.uuid4()}", {"headers": bank}),
        ("POST", f"/v1/loans/applications/{world.apps['rejected']}/withdraw", {"headers": bank}),
        ("POST", f"{app}/withdraw", {"headers": {**bank, "If-Match": '"stale-0"'}}),
        (
            "POST",
            "/v1/loans/applications",
            {"headers": bank_key, "content": b"{" + b" " * (2 << 20) + b"}"},
        ),
    ]
    titles: dict[str, set[str]] = {}
    for method, url, kwargs in provoked:
        response = api.request(method, url, **kwargs)
        assert 400 <= response.status_code < 500, (method, url, response.status_code)
        assert response.headers["content-type"].startswith("application/problem+json"), (
            method,
            url,
            response.text,
        )
        body = response.json()
        assert body["status"] == response.status_code, body
        titles.setdefault(body["type"], set()).add(body["title"])
    assert len(titles) >= 20, sorted(titles)
    several = {t: sorted(names) for t, names in titles.items() if len(names) > 1}
    assert several == {}, f"one title per type: {several}"
    for type_uri, (title,) in titles.items():
        slug = type_uri.rsplit("/", 1)[-1]
        assert type_uri.endswith(f"/problems/{slug}"), type_uri
        entry = api.get(urlsplit(type_uri).path)
        assert entry.status_code == 200, (type_uri, entry.text)
        assert entry.json()["title"] == title, (type_uri, entry.json())
        assert entry.json()["slug"] == slug


def test_problem_pages_answer_html_to_browsers_and_json_otherwise(api: TestClient) -> None:
    for slug in ("invalid-uscc", "malformed-json", "not-acceptable"):
        entry = api.get(f"/problems/{slug}")
        assert entry.status_code == 200, entry.text
        assert entry.headers["content-type"].startswith("application/json")
        body = entry.json()
        assert {"type", "slug", "status", "title", "means", "todo"} <= body.keys(), body
        assert body["slug"] == slug
        assert body["type"].endswith(f"/problems/{slug}")
        page = api.get(f"/problems/{slug}", headers={"Accept": "text/html,*/*;q=0.8"})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html"), page.headers
        assert body["title"] in page.text
        assert body["means"].split("`")[0][:30] in page.text
    missing = api.get("/problems/no-such-slug", headers={"Accept": "text/html"})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_malformed_json_says_where_parsing_stopped(api: TestClient, world: World) -> None:
    raw = '{\n  "uscc": "' + world.usccs[0] + '",\n  "amount": ,\n  "term_months": 12\n}'
    with pytest.raises(json.JSONDecodeError) as parsed:
        json.loads(raw)
    headers = {
        **bearer(world.bank_token),
        "Idempotency-Key": new_key(),
        "Content-Type": "application/json",
    }
    response = api.post("/v1/loans/applications", headers=headers, content=raw.encode())
    assert response.status_code in (400, 422), response.text  # the contract fixes no status
    body = problem(response, response.status_code, "malformed-json")
    where = f"line {parsed.value.lineno}, column {parsed.value.colno}"
    assert where in body["detail"], body["detail"]


def test_idempotency_keys_too_long_or_missing_are_told_apart(api: TestClient, world: World) -> None:
    bank = bearer(world.bank_token)
    url = "/v1/loans/applications"
    too_long = {**bank, "Idempotency-Key": "k" * 256}
    problem(
        api.post(url, headers=too_long, json=_application(world)), 400, "invalid-idempotency-key"
    )
    problem(api.post(url, headers=bank, json=_application(world)), 400, "idempotency-key-required")
    for odd in (b"key\x7fdel", "键".encode()):
        raw_headers = {k.encode(): v.encode() for k, v in bank.items()}
        raw_headers[b"Idempotency-Key"] = odd
        response = api.post(url, headers=raw_headers, json=_application(world))
        problem(response, 400, "invalid-idempotency-key")
    longest = {**bank, "Idempotency-Key": uuid.uuid4().hex + "k" * 223}  # 255 characters
    assert api.post(url, headers=longest, json=_application(world)).status_code == 201


def test_a_json_endpoint_without_content_type_gets_a_clear_problem(
    api: TestClient, world: World
) -> None:
    bank = {**bearer(world.bank_token), "Idempotency-Key": new_key()}
    admin = bearer(world.admin_token)
    quote_body = {"uscc": world.usccs[0], "amount": "100000.00", "term_months": 12}
    consent = {
        "uscc": world.usccs[2],
        "firm_code": world.firm,
        "granted_at": "2026-01-01T00:00:00Z",
        "evidence_ref": "no content type",
    }
    for url, headers, body in (
        ("/v1/loans/applications", bank, _application(world)),
        ("/v1/guarantee/quotes", bearer(world.bank_token), quote_body),
        ("/v1/admin/consents", admin, consent),
    ):
        response = api.post(url, headers=headers, content=json.dumps(body).encode())
        assert "content-type" not in {k.lower() for k in response.request.headers}
        found = problem(response, 415, "unsupported-media-type")
        assert "Content-Type: application/json" in found["detail"], found
    listed = api.get(f"/v1/guarantee/consents?uscc={world.usccs[2]}", headers=admin).json()
    assert listed["items"] == [], "a refused consent was written"
    with_charset = {**bank, "Content-Type": "application/json; charset=utf-8"}
    raw = json.dumps(_application(world)).encode()
    accepted = api.post("/v1/loans/applications", headers=with_charset, content=raw)
    assert accepted.status_code == 201, accepted.text


def test_accept_that_allows_nothing_offered_is_406(api: TestClient, world: World) -> None:
    admin = bearer(world.admin_token)
    cases = {
        "/v1/loans/products": ("application/xml", {"application/json"}),
        f"/v1/scoring/rankings?period={world.period}": (
            "application/pdf",
            {"application/json", "text/csv", XLSX},
        ),
        "/v1/loans/whoami": ("text/csv", {"application/json"}),
        f"/v1/guarantee/waivers/{world.period + 1}": (
            "text/csv;q=0, application/json;q=0, " + XLSX + ";q=0",
            {"application/json", "text/csv", XLSX},
        ),
    }
    for url, (accept, offered) in cases.items():
        response = api.get(url, headers={**admin, "Accept": accept})
        body = problem(response, 406, "not-acceptable")
        assert offered <= set(body["offered"]), body
    assert api.get("/v1/loans/products", headers={**admin, "Accept": "*/*"}).status_code == 200
    # A write whose answer cannot be given is refused before it is made.
    key = new_key()
    url = "/v1/loans/applications"
    bank = {**bearer(world.bank_token), "Idempotency-Key": key}
    refused = api.post(url, headers={**bank, "Accept": "text/csv"}, json=_application(world))
    problem(refused, 406, "not-acceptable")
    made = api.post(url, headers=bank, json=_application(world))
    assert made.status_code == 201, made.text
    assert "idempotent-replayed" not in made.headers, "the refused write was stored"
    csv_answer = api.get(
        f"/v1/scoring/rankings?period={world.period}", headers={**admin, "Accept": "text/*"}
    )
    assert csv_answer.headers["content-type"].startswith("text/csv")


@pytest.mark.parametrize("path", ["/healthz", "/.well-known/jwks.json", "/problems/not-found"])
def test_406_reaches_the_platform_routes_too(api: TestClient, path: str) -> None:
    problem(api.get(path, headers={"Accept": "image/png"}), 406, "not-acceptable")


@pytest.mark.parametrize(
    ("path", "accept"), [("/openapi.json", "text/csv"), ("/docs", "application/json")]
)
def test_406_reaches_the_documentation_routes(api: TestClient, path: str, accept: str) -> None:
    problem(api.get(path, headers={"Accept": accept}), 406, "not-acceptable")


def test_request_integers_are_json_integers(
    api: TestClient, world: World, factory: Factory
) -> None:
    bank = bearer(world.bank_token)
    for wrong in ("12", 12.5, True):
        headers = {**bank, "Idempotency-Key": new_key()}
        response = api.post(
            "/v1/loans/applications", headers=headers, json=_application(world, term_months=wrong)
        )
        body = problem(response, 422, "validation-error")
        (error,) = [e for e in body["errors"] if e["loc"][-1] == "term_months"]
        assert "JSON integer" in error["msg"], error
    code = f"TP-{uuid.uuid4().hex[:10].upper()}"
    product = factory.api.put(
        f"/v1/admin/products/{code}",
        headers=factory.admin,
        json={**product_body(world.bank), "min_points": "80"},
    )
    problem(product, 422, "validation-error")
    assert api.get(f"/v1/loans/products/{code}", headers=factory.admin).status_code == 404
    headers = {**bank, "Idempotency-Key": new_key()}
    accepted = api.post("/v1/loans/applications", headers=headers, json=_application(world))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["term_months"] == 12
    headers = {**bank, "Idempotency-Key": new_key()}
    point_zero = api.post(
        "/v1/loans/applications", headers=headers, json=_application(world, term_months=12.0)
    )
    assert point_zero.status_code == 201, point_zero.text
    assert point_zero.json()["term_months"] == 12


# ---------------------------------------------------------------- C: raw bytes in a request line


def raw_request(
    base: str, method: bytes, target: bytes, token: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Send one HTTP/1.1 request with exactly these bytes in its request line."""
    parts = urlsplit(base)
    assert parts.hostname
    assert parts.port
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: " + parts.netloc.encode()]
    if token:
        lines.append(b"Authorization: Bearer " + token.encode())
    lines += [b"Connection: close", b"", b""]
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(b"\r\n".join(lines))
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, body


@pytest.mark.slow
def test_chinese_in_a_raw_query_string_gets_the_right_answer(served: str, world: World) -> None:
    encoded = f"/v1/scoring/rankings?period={world.period}&district={quote(GAOGANG)}"
    status, headers, body = raw_request(served, b"GET", encoded.encode(), world.bureau_token)
    assert status == 200, body
    expected = json.loads(body)
    assert [e["district"] for e in expected["items"]] == [GAOGANG, GAOGANG]
    raw = f"/v1/scoring/rankings?period={world.period}&district={GAOGANG}".encode()
    status, headers, body = raw_request(served, b"GET", raw, world.bureau_token)
    assert status == 200, (status, headers, body)
    assert json.loads(body) == expected


@pytest.mark.slow
def test_unreadable_bytes_in_a_request_line_are_a_problem_not_plain_text(
    served: str, world: World
) -> None:
    for target in (
        f"/v1/scoring/rankings?period={world.period}&district=".encode() + b"\xff\xfe",
        b"/v1/scoring/rankings?district=\x01",
        "/v1/scoring/企业".encode(),
    ):
        status, headers, body = raw_request(served, b"GET", target, world.bureau_token)
        media = headers.get("content-type", "")
        if status == 400:
            assert media.startswith("application/problem+json"), (target, body)
            detail = json.loads(body)["detail"]
            assert "percent" in detail.lower() or "%" in detail, detail
        else:
            assert media.startswith(("application/json", "application/problem+json")), (
                target,
                status,
                body,
            )


# ---------------------------------------------------------------- C: one rule for timestamps


def _date_times(doc: dict[str, Any], schema: Any, seen: set[str], where: str) -> Iterator[str]:
    """Where a `format: date-time` whose pattern does not require `Z` is in `schema`."""
    if isinstance(schema, list):
        for inner in schema:
            yield from _date_times(doc, inner, seen, where)
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            yield from _date_times(doc, doc["components"]["schemas"][name], seen, name)
        return
    if schema.get("format") == "date-time" and not str(schema.get("pattern", "")).endswith("Z$"):
        yield where
    for key, inner in schema.items():
        yield from _date_times(doc, inner, seen, f"{where}.{key}")


def test_the_document_says_every_response_timestamp_is_utc(api: TestClient) -> None:
    doc = api.get("/openapi.json").json()
    loose: list[str] = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                if not status.startswith("2"):
                    continue
                for media in response.get("content", {}).values():
                    where = f"{method.upper()} {path} {status}"
                    loose.extend(_date_times(doc, media.get("schema", {}), set(), where))
    assert loose == [], loose


def test_every_timestamp_in_a_response_is_utc_with_z(api: TestClient, world: World) -> None:
    admin = bearer(world.admin_token)
    bank = bearer(world.bank_token)
    app = f"/v1/loans/applications/{world.apps['disbursed']}"
    submitted = api.post(
        "/v1/loans/applications",
        headers={**bank, "Idempotency-Key": new_key()},
        json=_application(world, submitted_at="2026-04-14T09:30:00+08:00"),
    )
    assert submitted.status_code == 201, submitted.text
    reads = [
        submitted,
        api.get(app, headers=bank),
        api.get(f"{app}/events", headers=bank),
        api.get("/v1/loans/applications", headers=bank),
        api.get("/v1/loans/deadline?submitted_at=2026-12-31T10:00:00%2B08:00", headers=bank),
        api.get("/v1/loans/deadline?submitted_at=2026-03-09T23:30:00-05:00", headers=bank),
        api.get("/v1/loans/whoami", headers=bank),
        api.get("/v1/scoring/models", headers=admin),
        api.get("/v1/scoring/runs", headers=admin),
        api.get("/v1/guarantee/fee-rates", headers=admin),
        api.get(f"/v1/guarantee/consents?firm_code={world.firm}", headers=admin),
        api.get("/v1/admin/clients", headers=admin),
        api.get("/v1/admin/audit?since=2026-01-01T00:00:00%2B08:00", headers=admin),
        api.get(
            f"/v1/scoring/enterprises/{world.usccs[0]}/points?period={world.period}", headers=admin
        ),
    ]
    seen = 0
    for response in reads:
        assert response.status_code in (200, 201), (response.url, response.text)
        for where, value in instants(response.json()):
            seen += 1
            assert UTC_INSTANT.match(value), f"{response.url} {where} = {value}"
    assert seen >= 20, seen
    first = submitted.json()
    assert first["submitted_at"].startswith("2026-04-14T01:30:00")
    assert first["decision_due_at"] == "2026-04-16T15:59:59Z", first


# ---------------------------------------------------------------- E: files an analyst opens


def _csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv"), response.headers
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def _sheet(response: httpx.Response) -> tuple[list[str], list[list[Any]]]:
    """Header row and the data rows' cells of a workbook's only sheet."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(XLSX), response.headers
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert len(book.worksheets) == 1
    sheet = book.worksheets[0]
    assert sheet.freeze_panes == "A2", sheet.freeze_panes  # the header row stays in view
    rows = list(sheet.iter_rows())
    assert all(cell.font.b for cell in rows[0])
    header = [str(cell.value) for cell in rows[0]]
    return header, [list(row) for row in rows[1:]]


def _file_urls(world: World) -> dict[str, tuple[str, dict[str, str]]]:
    return {
        "stats": (
            "/v1/loans/stats?from=2026-03-01&to=2026-03-31&group_by=bank",
            bearer(world.bank_token),
        ),
        "rankings": (f"/v1/scoring/rankings?period={world.period}", bearer(world.bureau_token)),
        "waivers": (f"/v1/guarantee/waivers/{world.period + 1}", bearer(world.bureau_token)),
        "applications": ("/v1/loans/applications", bearer(world.bank_token)),
        "export": ("/v1/guarantee/features", bearer(world.firm_token)),
    }


@pytest.mark.parametrize("name", ["stats", "rankings", "waivers", "applications", "export"])
def test_csv_has_a_bom_only_when_asked(api: TestClient, world: World, name: str) -> None:
    url, headers = _file_urls(world)[name]
    joiner = "&" if "?" in url else "?"
    plain = api.get(url, headers={**headers, "Accept": "text/csv"})
    assert plain.status_code == 200, plain.text
    assert not plain.content.startswith(BOM)
    with_bom = api.get(f"{url}{joiner}bom=true", headers={**headers, "Accept": "text/csv"})
    assert with_bom.status_code == 200, with_bom.text
    assert with_bom.content.startswith(BOM), with_bom.content[:20]
    assert with_bom.content[3:] == plain.content
    zh = api.get(f"{url}{joiner}headers=zh&bom=true", headers={**headers, "Accept": "text/csv"})
    header_line = zh.content.decode("utf-8-sig").splitlines()[0]
    if name != "export":
        assert re.search(r"[\u4e00-\u9fff]", header_line), header_line


def _money(cell: Any, expected: str) -> None:
    assert isinstance(cell.value, int | float), cell.value
    assert not isinstance(cell.value, bool), cell.value
    assert Decimal(str(cell.value)) == Decimal(expected), (cell.value, expected)
    assert cell.number_format == "0.00", cell.number_format


def _date(cell: Any, expected: str) -> None:
    assert cell.is_date, (cell.value, cell.number_format)
    assert isinstance(cell.value, datetime)
    assert cell.value.date() == date.fromisoformat(expected)


def test_stats_as_xlsx_with_chinese_headers(api: TestClient, world: World) -> None:
    url, headers = _file_urls(world)["stats"]
    as_json = api.get(url, headers=headers).json()
    (group,) = as_json["groups"]
    assert group["applications"] == 3, group
    assert group["disbursed_amount"] == "850000.50", group
    response = api.get(url + "&headers=zh", headers={**headers, "Accept": XLSX})
    header, rows = _sheet(response)
    assert "放款金额（元）" in header, header
    money = header.index("放款金额（元）")
    by_group = {str(row[0].value): row for row in rows}
    assert set(by_group) == {world.bank, "TOTAL"}, by_group.keys()
    _money(by_group[world.bank][money], group["disbursed_amount"])
    _money(by_group["TOTAL"][money], as_json["total"]["disbursed_amount"])
    with zipfile.ZipFile(io.BytesIO(response.content)) as book:
        xml = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<v>850000.50</v>" in xml, "money is stored as the Decimal's own text"
    counts = header.index("申请笔数")
    assert by_group[world.bank][counts].value == 3
    assert isinstance(by_group[world.bank][counts].value, int)


def test_applications_as_xlsx_typed_like_their_json(api: TestClient, world: World) -> None:
    url, headers = _file_urls(world)["applications"]
    listed = {a["id"]: a for a in api.get(url + "?limit=500", headers=headers).json()["items"]}
    header, rows = _sheet(api.get(url, headers={**headers, "Accept": XLSX}))
    assert len(rows) == len(listed)
    column = {name: i for i, name in enumerate(header)}
    row = next(r for r in rows if r[column["id"]].value == world.apps["disbursed"])
    expected = listed[world.apps["disbursed"]]
    _money(row[column["amount"]], expected["amount"])
    _money(row[column["disbursed_total"]], expected["disbursed_total"])
    _money(row[column["guarantee_fee.payable_fee"]], expected["guarantee_fee"]["payable_fee"])
    _date(row[column["submitted_date"]], expected["submitted_date"])
    due = row[column["decision_due_at"]]
    assert due.is_date, due.number_format
    assert due.value == datetime(2026, 3, 11, 23, 59, 59), due.value  # Shanghai wall time
    assert row[column["term_months"]].value == 12
    assert row[column["on_time"]].value is expected["on_time"]
    submitted_at = row[column["submitted_at"]]
    assert submitted_at.is_date
    assert isinstance(submitted_at.value, datetime)
    instant = datetime.fromisoformat(expected["submitted_at"].replace("Z", "+00:00"))
    local = instant.astimezone(SHANGHAI).replace(tzinfo=None)
    assert abs(submitted_at.value - local) < timedelta(seconds=1), (submitted_at.value, local)
    assert submitted_at.value.hour == 10  # Monday 10:00 in Taizhou, not 02:00 UTC
    zh_header, _ = _sheet(api.get(url + "?headers=zh", headers={**headers, "Accept": XLSX}))
    assert "申请金额（元）" in zh_header, zh_header


def test_rankings_and_waivers_as_xlsx(api: TestClient, world: World) -> None:
    for name in ("rankings", "waivers"):
        url, headers = _file_urls(world)[name]
        items = api.get(url, headers=headers).json()["items"]
        header, rows = _sheet(api.get(url, headers={**headers, "Accept": XLSX}))
        column = {h: i for i, h in enumerate(header)}
        assert len(rows) == len(items) == 3
        for item, row in zip(items, rows, strict=True):
            assert row[column["uscc"]].value == item["uscc"]
            assert row[column["rank"]].value == item["rank"]
            assert isinstance(row[column["points"]].value, int)
            assert row[column["points"]].value == item["points"]
            if "total_exact" in item:
                cell = row[column["total_exact"]]
                assert Decimal(str(cell.value)) == Decimal(item["total_exact"])
                assert cell.number_format == "0.0000"
        zh_header, _ = _sheet(
            api.get(
                url + "&headers=zh" if "?" in url else url + "?headers=zh",
                headers={**headers, "Accept": XLSX},
            )
        )
        assert "积分" in zh_header, zh_header


def test_text_that_looks_like_a_formula_stays_text(api: TestClient, world: World) -> None:
    url, headers = _file_urls(world)["rankings"]
    rows = _csv(api.get(url, headers={**headers, "Accept": "text/csv"}))
    names = {row["uscc"]: row["name"] for row in rows}
    assert names[world.usccs[2]] == "'" + FORMULA_NAME, names
    header, cells = _sheet(api.get(url, headers={**headers, "Accept": XLSX}))
    column = {h: i for i, h in enumerate(header)}
    (cell,) = [r[column["name"]] for r in cells if r[column["uscc"]].value == world.usccs[2]]
    assert cell.data_type == "s", cell.data_type  # a string, not a formula ("f")
    assert cell.value == FORMULA_NAME


def test_the_feature_export_as_xlsx_holds_the_ndjson_values(api: TestClient, world: World) -> None:
    url, headers = _file_urls(world)["export"]
    dictionary = api.get("/v1/guarantee/features/schema", headers=headers).json()
    kinds = {feature["name"]: feature["type"] for feature in dictionary["features"]}
    lines = [json.loads(line) for line in api.get(url, headers=headers).text.splitlines() if line]
    rows = {line["uscc"]: line for line in lines if "uscc" in line}
    assert set(rows) == set(world.consented)
    response = api.get(url, headers={**headers, "Accept": XLSX})
    assert response.headers.get("x-next-cursor")
    header, cells = _sheet(response)
    assert len(cells) == 2
    column = {h: i for i, h in enumerate(header)}
    checked = set()
    for row in cells:
        expected = rows[row[column["uscc"]].value]
        for name, value in expected.items():
            cell = row[column[name]]
            kind = kinds.get(name)
            if value is None:
                assert cell.value in (None, ""), (name, cell.value)
            elif kind == "boolean":
                assert cell.value is value, (name, cell.value)
            elif kind == "integer":
                assert isinstance(cell.value, int), (name, cell.value)
                assert cell.value == value, (name, cell.value)
            elif kind in ("number", "decimal-string"):
                assert isinstance(cell.value, int | float), (name, cell.value)
                assert not isinstance(cell.value, bool), (name, cell.value)
                assert Decimal(str(cell.value)) == Decimal(str(value)), (name, cell.value, value)
                if kind == "decimal-string":
                    assert cell.number_format == "0.0000", (name, cell.number_format)
            else:
                assert cell.value == value, (name, cell.value, value)
            checked.add(kind)
    assert {"integer", "decimal-string", "boolean", "string"} <= checked, checked
    zh_header, _ = _sheet(api.get(url + "?headers=zh", headers={**headers, "Accept": XLSX}))
    assert any(re.search(r"[\u4e00-\u9fff]", h) for h in zh_header), zh_header
    too_many = api.get(url + "?limit=100001", headers=headers)
    problem(too_many, 422, "validation-error")


# ---------------------------------------------------------------- F: the statutory holidays


def _solar(lunar: Lunar) -> date:
    solar = lunar.getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def statutory_days(year: int) -> set[date]:
    """The days 《全国年节及纪念日放假办法》 (2024 revision) gives off, computed from the lunar
    calendar here, independently of the service."""
    spring = _solar(Lunar.fromYmd(year, 1, 1))
    # The Qingming term from chinese-calendar's own formula, a second source beside lunar-python.
    (qingming,) = [
        day
        for day, name in chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 30))
        if name == "清明"
    ]
    return {
        date(year, 1, 1),
        spring - timedelta(days=1),  # 除夕
        spring,
        spring + timedelta(days=1),
        spring + timedelta(days=2),
        qingming,
        date(year, 5, 1),
        date(year, 5, 2),
        _solar(Lunar.fromYmd(year, 5, 5)),  # 端午
        _solar(Lunar.fromYmd(year, 8, 15)),  # 中秋
        date(year, 10, 1),
        date(year, 10, 2),
        date(year, 10, 3),
    }


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_statutory_rule_agrees_with_chinese_calendar(
    api: TestClient, admin_token: str, year: int
) -> None:
    days = statutory_days(year)
    assert len(days) == 13
    not_off = sorted(d for d in days if not chinese_calendar.is_holiday(d))
    assert not_off == [], not_off
    served = api.get(f"/v1/loans/calendar/{year}", headers=bearer(admin_token)).json()
    assert served["source"] == "bundled", served
    assert {d for d in days if d.weekday() < 5} <= set(map(date.fromisoformat, served["holidays"]))


def test_every_provisional_year_holds_the_statutory_holidays(
    api: TestClient, admin_token: str
) -> None:
    twelve = []
    for year in range(2027, 2100):
        body = api.get(f"/v1/loans/calendar/{year}", headers=bearer(admin_token)).json()
        if body["source"] == "loaded":
            continue  # another test of this database uploaded the year (2098)
        assert body["source"] == "statutory", body
        assert body["make_up_workdays"] == []
        assert set(map(date.fromisoformat, body["holidays"])) == statutory_days(year), year
        if len(body["holidays"]) == 12:
            twelve.append(year)
    assert {2028, 2031, 2039} <= set(twelve), twelve  # 中秋 on 3, 1 and 2 October


def test_a_year_before_the_2024_rules_is_plain_weekdays(api: TestClient, admin_token: str) -> None:
    body = api.get("/v1/loans/calendar/2000", headers=bearer(admin_token)).json()
    assert body["source"] == "weekdays", body  # (2001-2003 are uploaded by other tests)
    assert body["holidays"] == []


@pytest.mark.parametrize(
    ("submitted", "due"),
    [
        ("2026-12-31T10:00:00+08:00", "2027-01-05T15:59:59Z"),  # 1 Jan, then a weekend
        ("2027-02-04T10:00:00+08:00", "2027-02-10T15:59:59Z"),  # 除夕 5 Feb … 初三 8 Feb
        ("2027-04-02T10:00:00+08:00", "2027-04-07T15:59:59Z"),  # 清明 Monday 5 Apr
    ],
)
def test_deadlines_in_2027_skip_its_statutory_holidays(
    api: TestClient, admin_token: str, submitted: str, due: str
) -> None:
    response = api.get(
        f"/v1/loans/deadline?submitted_at={quote(submitted)}", headers=bearer(admin_token)
    )
    assert response.status_code == 200, response.text
    assert response.json()["due_at"] == due, response.json()
    assert response.json()["provisional"] is True
