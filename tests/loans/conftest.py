"""A small loans world: two banks, their products, enterprises with points, clients."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests.factories import (
    A_INDICATORS,
    B_INDICATORS,
    Creds,
    bearer,
    enterprise,
    get_token,
    indicators,
    new_uscc,
    product_body,
)
from tests.periods import PeriodPool


@dataclass(frozen=True)
class World:
    bank_a: str
    bank_b: str
    product_a: str  # 鑫e高企-like, bank A, high-tech only, tiers 100/150/200 points
    product_b: str  # bank B, anyone with 80 points
    strong: str  # 174 points, high-tech
    weak: str  # 86 points, tech SME only
    token_a: str
    token_b: str
    bureau: str
    admin: str
    period: int  # the ranking the enterprises' points come from

    def a(self, key: str | None = None) -> dict[str, str]:
        headers = bearer(self.token_a)
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def b(self, key: str | None = None) -> dict[str, str]:
        headers = bearer(self.token_b)
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers


def product(bank: str, *, min_points: int, categories: list[str]) -> dict[str, object]:
    """A 鑫e高企-like product body (tests/factories.py `product_body`)."""
    return product_body(bank, min_points=min_points, eligible_categories=categories)


@pytest.fixture(scope="session")
def world(
    api: TestClient, admin_token: str, make_client: Callable[..., Creds], periods: PeriodPool
) -> World:
    admin = bearer(admin_token)
    period = periods.fresh(previous=True)
    suffix = uuid.uuid4().hex[:6].upper()
    bank_a, bank_b = f"TZB_{suffix}", f"JSB_{suffix}"
    for code, name in ((bank_a, "泰州银行"), (bank_b, "江苏银行")):
        assert (
            api.put(f"/v1/admin/banks/{code}", headers=admin, json={"name": name}).status_code
            == 200
        )
    product_a, product_b = f"XEGQ-{suffix}", f"KJD-{suffix}"
    r = api.put(
        f"/v1/admin/products/{product_a}",
        headers=admin,
        json=product(bank_a, min_points=100, categories=["high_tech"]),
    )
    assert r.status_code == 200, r.text
    r = api.put(
        f"/v1/admin/products/{product_b}",
        headers=admin,
        json=product(bank_b, min_points=80, categories=[]),
    )
    assert r.status_code == 200, r.text
    strong, weak = new_uscc(), new_uscc()
    api.put(
        "/v1/admin/enterprises",
        headers=admin,
        json=[
            enterprise(
                strong, name="榕兴医疗", categories=["high_tech", "tech_sme"], district="高港区"
            ),
            enterprise(weak, name="初创科技", stage="startup", industry="ict"),
        ],
    )
    api.put(
        f"/v1/admin/indicators/{period - 1}",
        headers=admin,
        json=[indicators(strong, revenue="80000000.00")],
    )
    api.put(
        f"/v1/admin/indicators/{period}",
        headers=admin,
        json=[indicators(strong, **A_INDICATORS), indicators(weak, **B_INDICATORS)],
    )
    r = api.post(
        f"/v1/admin/points/{period}/recompute", headers=admin, json={"model_version": "TZ-2025.1"}
    )
    assert r.status_code == 200, r.text
    return World(
        bank_a=bank_a,
        bank_b=bank_b,
        product_a=product_a,
        product_b=product_b,
        strong=strong,
        weak=weak,
        token_a=get_token(api, make_client("bank", name="泰州银行", bank_code=bank_a)),
        token_b=get_token(api, make_client("bank", name="江苏银行", bank_code=bank_b)),
        bureau=get_token(api, make_client("bureau", name="市科技局")),
        admin=admin_token,
        period=period,
    )


def application(w: World, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "uscc": w.strong,
        "product_code": w.product_a,
        "amount": "2850000.00",
        "term_months": 12,
    }
    body.update(overrides)
    return body


def new_key() -> str:
    return "key-" + uuid.uuid4().hex
