"""Paths to a target through the API: each plan, uploaded and recomputed, reaches its target."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import Factory, bearer, indicators

# Twelve firms, the last the weakest: it has room on every input.
FACTS = [
    {
        "invention_patents": 1 + i % 4,
        "utility_models": i % 6,
        "software_copyrights": i % 3,
        "rd_expense": f"{300000 + 40000 * i}.00",
        "revenue": f"{6000000 + 500000 * i}.00",
        "rd_staff": 2 + i % 5,
        "total_staff": 40,
        "equity_financing": f"{1000000 * (i % 3)}.00",
    }
    for i in range(11, -1, -1)
]


def _paths(api: TestClient, headers: dict[str, str], uscc: str, period: int, target: str) -> Any:
    r = api.get(
        f"/v1/scoring/enterprises/{uscc}/paths",
        headers=headers,
        params={"period": period, "target": target},
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_each_plan_reaches_its_target_when_recomputed(
    api: TestClient, admin_token: str, factory: Factory, period: int
) -> None:
    admin = bearer(admin_token)
    uscc = factory.ranked(period, FACTS)[-1]
    original = indicators(uscc, **FACTS[-1])
    for target in ("rank:3", "points:" + str(_points(api, admin, uscc, period) + 9), "top-100"):
        body = _paths(api, admin, uscc, period, target)
        if target == "top-100":
            assert body["reached"] is True
            assert body["plans"] == []
            continue
        assert body["plans"], body
        assert [p["cost"]["changes"] for p in body["plans"]] == sorted(
            p["cost"]["changes"] for p in body["plans"]
        )
        for plan in body["plans"]:
            changed = dict(original)
            for change in plan["changes"]:
                if change["input"] == "rd_staff":
                    hires = int(change["value_to"]) - int(change["value_from"])
                    changed["total_staff"] = original["total_staff"] + hires
                changed[change["input"]] = (
                    change["value_to"] if change["unit"] == "yuan" else int(change["value_to"])
                )
            factory.indicators(period, [changed])
            factory.recompute(period)
            points = api.get(
                f"/v1/scoring/enterprises/{uscc}/points", headers=admin, params={"period": period}
            ).json()
            assert Decimal(points["total_exact"]) >= Decimal(body["target"]["total_needed"])
            assert points["total_exact"] == plan["total_exact"]
            assert points["rank"] == plan["rank"]
            factory.indicators(period, [original])
            factory.recompute(period)


def test_stale_indicators_are_409_and_the_diagnosis_says_why(
    api: TestClient, admin_token: str, factory: Factory, period: int
) -> None:
    admin = bearer(admin_token)
    uscc = factory.ranked(period, FACTS[:3])[0]
    changed = indicators(uscc, **{**FACTS[0], "invention_patents": 9})
    factory.indicators(period, [changed])
    r = api.get(
        f"/v1/scoring/enterprises/{uscc}/paths",
        headers=admin,
        params={"period": period, "target": "top-100"},
    )
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("indicators-changed")
    d = api.get(
        f"/v1/scoring/enterprises/{uscc}/diagnosis", headers=admin, params={"period": period}
    ).json()
    assert d["paths"] is None
    assert "recompute" in d["paths_note"]


def test_a_bank_reads_paths_but_not_another_banks_product(
    api: TestClient, admin_token: str, factory: Factory, period: int
) -> None:
    uscc = factory.ranked(period, FACTS[:3])[-1]
    mine, other = factory.bank(), factory.bank()
    product = factory.product(other, min_points=1)
    bank = bearer(factory.bank_token(mine))
    assert _paths(api, bank, uscc, period, "top-100")["uscc"] == uscc
    r = api.get(
        f"/v1/scoring/enterprises/{uscc}/paths",
        headers=bank,
        params={"period": period, "target": f"product:{product}"},
    )
    assert r.status_code == 404, r.text
    assert r.json()["type"].endswith("product-not-found")
    body = _paths(api, bearer(admin_token), uscc, period, f"product:{product}")
    assert body["target"]["product"]["code"] == product
    for bad in ("top-10", "rank:0", "points:x", "product:"):
        r = api.get(
            f"/v1/scoring/enterprises/{uscc}/paths",
            headers=bank,
            params={"period": period, "target": bad},
        )
        assert r.status_code == 422, bad


def _points(api: TestClient, headers: dict[str, str], uscc: str, period: int) -> int:
    r = api.get(
        f"/v1/scoring/enterprises/{uscc}/points", headers=headers, params={"period": period}
    )
    return int(r.json()["points"])


def test_a_product_target_out_of_reach_says_why(
    api: TestClient, admin_token: str, factory: Factory, period: int
) -> None:
    """The three reasons a product's tier cannot be a target (the firms are `tech_sme`)."""
    uscc = factory.ranked(period, FACTS[:3])[-1]
    bank = factory.bank()
    admin = bearer(admin_token)
    cases = {
        "category-required": factory.product(bank, min_points=1, eligible_categories=["gazelle"]),
        "product-inactive": factory.product(bank, min_points=1, active_from="2999-01-01"),
        "top-tier": factory.product(
            bank,
            min_points=1,
            limit_tiers=[{"min_points": 1, "max_amount": "1000000.00"}],
        ),
    }
    for reason, product in cases.items():
        body = _paths(api, admin, uscc, period, f"product:{product}")
        assert body["reached"] is False, reason
        assert body["plans"] == [], reason
        assert body["unreachable"]["reason"] == reason
        assert body["unreachable"]["detail"], reason
        assert body["target"]["product"]["code"] == product
    # An open product with a tier above the firm: searched (here too far for 2 changes).
    open_ = factory.product(bank, min_points=1)
    body = _paths(api, admin, uscc, period, f"product:{open_}")
    assert body["unreachable"]["reason"] == "beyond-limits"
