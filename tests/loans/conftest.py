"""The loans tests' fixture: a small world (tests/loans/world.py) made once per session."""

from __future__ import annotations

import uuid
from collections.abc import Callable

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
)
from tests.loans.world import World, product
from tests.periods import PeriodPool


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
