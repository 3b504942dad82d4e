"""The list rule (CONTRACT.md): every collection takes `?limit=` (1-500, default 50) and an
opaque signed `?cursor=` bound to its list and tenant, answers `{"items", "next_cursor"}`
in a stable order, and paging visits every item exactly once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import A_INDICATORS, B_INDICATORS, Factory, bearer, new_key
from tests.periods import PeriodPool

# Every collection the document has today; a new one is checked by the document test below.
COLLECTIONS = {
    "/v1/admin/clients",
    "/v1/admin/audit",
    "/v1/scoring/rankings",
    "/v1/scoring/industries",
    "/v1/scoring/models",
    "/v1/scoring/runs",
    "/v1/loans/banks",
    "/v1/loans/products",
    "/v1/loans/applications",
    "/v1/loans/applications/{app_id}/events",
    "/v1/guarantee/waivers/{year}",
    "/v1/guarantee/fee-rates",
    "/v1/guarantee/consents",
}


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    resolved: dict[str, Any] = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return resolved


def test_every_collection_in_the_document_takes_limit_and_cursor_and_answers_the_envelope(
    api: TestClient,
) -> None:
    doc = api.get("/openapi.json").json()
    collections, failures = set(), []
    for path, item in doc["paths"].items():
        op = item.get("get")
        content = op["responses"]["200"].get("content", {}) if op else {}
        if "application/json" not in content:
            continue
        schema = _resolve(doc, content["application/json"]["schema"])
        if schema.get("type") == "array":
            failures.append(f"{path}: a bare JSON array")
            continue
        properties = schema.get("properties", {})
        if "items" not in properties:
            continue
        collections.add(path)
        if _resolve(doc, properties["items"]).get("type") != "array":
            failures.append(f"{path}: `items` is not an array")
        if "next_cursor" not in properties or not {"items", "next_cursor"} <= set(
            schema.get("required", [])
        ):
            failures.append(f"{path}: no required `items` and `next_cursor`")
        query = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
        limit = query.get("limit", {}).get("schema", {})
        if (limit.get("minimum"), limit.get("maximum"), limit.get("default")) != (1, 500, 50):
            failures.append(f"{path}: limit is not 1-500 with default 50: {limit}")
        if "cursor" not in query:
            failures.append(f"{path}: no cursor parameter")
    assert not failures, "\n".join(failures)
    assert collections >= COLLECTIONS, COLLECTIONS - collections


# ---------------------------------------------------------------- paging, list by list


def walk(
    api: TestClient, path: str, headers: dict[str, str], limit: int, **params: Any
) -> list[dict[str, Any]]:
    """Every item of a list, page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        r = api.get(path, headers=headers, params=query)
        assert r.status_code == 200, r.text
        page = r.json()
        assert set(page) >= {"items", "next_cursor"}, page
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert page["items"], "a cursor after an empty page"
    raise AssertionError("the cursor never ended")


@dataclass(frozen=True)
class Lists:
    """A world where every changed list has a few items."""

    admin: dict[str, str]
    bank: dict[str, str]
    products: list[str]
    waiver_year: int
    period: int
    app_id: str


@pytest.fixture(scope="module")
def lists(api: TestClient, factory: Factory, periods: PeriodPool) -> Lists:
    bank, *_ = [factory.bank() for _ in range(3)]
    products = [factory.product(bank, code=f"LP-{bank}-{i}") for i in range(5)]
    period = periods.fresh(following=True)
    usccs = factory.ranked(period, [A_INDICATORS, B_INDICATORS, {}, {}, {}])
    factory.recompute(period)  # three runs of the period
    factory.recompute(period)
    admin = factory.admin
    for rate in ("0.0110", "0.0120", "0.0130"):
        r = api.post(
            "/v1/admin/fee-rates", headers=admin, json={"effective_year": period, "rate": rate}
        )
        assert r.status_code == 201, r.text
    model = api.get("/v1/scoring/models/TZ-2025.1", headers=admin).json()["definition"]
    for _ in range(2):
        draft = {**model, "version": f"LIST-{new_key()[4:16]}"}
        assert api.post("/v1/admin/models", headers=admin, json=draft).status_code == 201
    app = factory.application(bank, products[0], usccs[0], state="overdue")
    month_ago = datetime.now(UTC) - timedelta(days=30)
    for product in products[:3]:  # undecided, long past their deadline
        factory.application(bank, product, usccs[0], submitted_at=month_ago)
    return Lists(admin, bearer(factory.bank_token(bank)), products, period + 1, period, app.id)


CASES: dict[str, Callable[[Lists], tuple[str, dict[str, str], int, dict[str, Any]]]] = {
    # path, who asks, page size, filters
    "banks": lambda w: ("/v1/loans/banks", w.admin, 2, {}),
    "products (a bank)": lambda w: ("/v1/loans/products", w.bank, 2, {}),
    "products (all)": lambda w: ("/v1/loans/products", w.admin, 3, {}),
    "waivers": lambda w: (f"/v1/guarantee/waivers/{w.waiver_year}", w.admin, 2, {}),
    "fee-rates": lambda w: ("/v1/guarantee/fee-rates", w.admin, 2, {}),
    "industries": lambda w: ("/v1/scoring/industries", w.admin, 4, {}),
    "models": lambda w: ("/v1/scoring/models", w.admin, 2, {}),
    "runs": lambda w: ("/v1/scoring/runs", w.admin, 1, {"period": w.period}),
    "events": lambda w: (f"/v1/loans/applications/{w.app_id}/events", w.bank, 1, {}),
    "applications by deadline": lambda w: (
        "/v1/loans/applications",
        w.bank,
        1,
        {"decision_due": "overdue"},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_paging_visits_every_item_exactly_once(api: TestClient, lists: Lists, case: str) -> None:
    path, headers, limit, params = CASES[case](lists)
    whole = walk(api, path, headers, 500, **params)
    assert len(whole) > limit, "the list needs more than one page"
    paged = walk(api, path, headers, limit, **params)
    assert paged == whole  # the same items in the same order: none twice, none missed
    first = api.get(path, headers=headers, params=params).json()
    assert first["items"] == whole[:50]  # the default page size is 50


def test_the_changed_lists_hold_what_was_made(api: TestClient, lists: Lists) -> None:
    products = walk(api, "/v1/loans/products", lists.bank, 2)
    assert [p["code"] for p in products] == sorted(lists.products)
    waivers = walk(api, f"/v1/guarantee/waivers/{lists.waiver_year}", lists.admin, 2)
    assert [w["rank"] for w in waivers] == [1, 2, 3, 4, 5]
    runs = walk(api, "/v1/scoring/runs", lists.admin, 1, period=lists.period)
    assert len(runs) == 3
    assert [r["id"] for r in runs] == sorted((r["id"] for r in runs), reverse=True)
    events = walk(api, f"/v1/loans/applications/{lists.app_id}/events", lists.bank, 1)
    assert [e["type"] for e in events] == [
        "submitted",
        "decision",
        "disbursement",
        "repayment-status",
    ]


@pytest.mark.parametrize("case", list(CASES))
def test_limits_and_forged_cursors_are_refused(api: TestClient, lists: Lists, case: str) -> None:
    path, headers, _, params = CASES[case](lists)
    for limit in (0, 501):
        r = api.get(path, headers=headers, params={**params, "limit": limit})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    page = api.get(path, headers=headers, params={**params, "limit": 1}).json()
    forged = page["next_cursor"][:-2] + ("AA" if not page["next_cursor"].endswith("AA") else "BB")
    for cursor in ("not-a-cursor", forged):
        r = api.get(path, headers=headers, params={**params, "cursor": cursor})
        assert r.status_code == 400, r.text
        assert r.json()["type"].endswith("/problems/invalid-cursor")


def test_a_cursor_is_bound_to_its_list_and_tenant(api: TestClient, lists: Lists) -> None:
    banks = api.get("/v1/loans/banks", headers=lists.admin, params={"limit": 1}).json()
    r = api.get("/v1/loans/products", headers=lists.admin, params={"cursor": banks["next_cursor"]})
    assert r.status_code == 400, r.text
    # A bank's products cursor is not the bureau's, nor is one year's waivers another's.
    mine = api.get("/v1/loans/products", headers=lists.bank, params={"limit": 1}).json()
    r = api.get("/v1/loans/products", headers=lists.admin, params={"cursor": mine["next_cursor"]})
    assert r.status_code == 400, r.text
    year = lists.waiver_year
    waivers = api.get(f"/v1/guarantee/waivers/{year}", headers=lists.admin, params={"limit": 1})
    cursor = waivers.json()["next_cursor"]
    r = api.get(f"/v1/guarantee/waivers/{year - 1}", headers=lists.admin, params={"cursor": cursor})
    assert r.status_code == 400, r.text
    runs = api.get(
        "/v1/scoring/runs", headers=lists.admin, params={"limit": 1, "period": lists.period}
    ).json()
    r = api.get("/v1/scoring/runs", headers=lists.admin, params={"cursor": runs["next_cursor"]})
    assert r.status_code == 400, r.text
