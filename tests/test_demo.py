"""The demo database tells the article's story; the bank example runs against it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from examples.bank_client import InnoCredit, run
from services import demo
from services.runtime import build_gateway
from shared.db import make_sessionmaker
from shared.uscc import check_char
from tests.demo_db import DemoDatabase
from tests.factories import Creds, bearer, get_token
from tests.pdf_tools import page_png, text_of
from tests.servers import make_settings
from tests.users import browser, page_token, sign_in

RONGXING = demo.RONGXING + check_char(demo.RONGXING)
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@dataclass
class Demo:
    api: TestClient
    clients: dict[str, demo.Credentials]
    users: dict[str, demo.DemoUser]


@pytest.fixture(scope="module")
def loaded(demo_database: DemoDatabase) -> Iterator[Demo]:
    gateway = build_gateway(make_settings(demo_database.url), demo_database.engine)
    with TestClient(gateway) as api:
        yield Demo(api, demo_database.clients, demo_database.users)


def test_the_demo_loads_only_into_an_empty_database(demo_database: DemoDatabase) -> None:
    with (
        make_sessionmaker(demo_database.engine).begin() as session,
        pytest.raises(demo.DatabaseNotEmpty),
    ):
        demo.load(session, lambda _: None)


def test_the_demo_is_the_installation_and_brings_a_second_operator(
    demo_database: DemoDatabase,
) -> None:
    """The demo writes its rules through the domain functions (four eyes is on by default, and
    no change waits for a checker), and hands over a second admin client to approve with."""
    with demo_database.engine.connect() as conn:
        # (The dashboard's tests propose one later, on the same database.)
        made = text("SELECT count(*) FROM gov_change WHERE made_at <= :loaded")
        assert conn.execute(made, {"loaded": demo_database.loaded_at}).scalar_one() == 0
    admins = [c for c in demo_database.clients.values() if c.role == "admin"]
    assert [c.name for c in admins] == [demo.CHECKER_NAME]


def _token(d: Demo, name: str) -> str:
    c = d.clients[name]
    return get_token(d.api, Creds(c.client_id, c.client_secret))


def test_h1_2026_statistics_match_the_article(loaded: Demo) -> None:
    bureau = _token(loaded, "泰州市科技局 dashboard")
    stats = loaded.api.get(
        "/v1/loans/stats", headers=bearer(bureau), params={"from": "2026-01-01", "to": "2026-06-30"}
    ).json()
    assert stats["total"]["disbursed_count"] == 662
    assert stats["total"]["disbursed_amount"] == "4112000000.00"
    assert stats["total"]["rejected"] > 0
    assert stats["total"]["withdrawn"] > 0
    assert 0.8 < stats["total"]["on_time_rate"] < 1.0  # mostly on time, some late
    assert stats["total"]["overdue_count"] > 0
    by_bank = loaded.api.get(
        "/v1/loans/stats",
        headers=bearer(bureau),
        params={"from": "2026-01-01", "to": "2026-06-30", "group_by": "bank"},
    ).json()
    assert len(by_bank["groups"]) == 5
    products = loaded.api.get("/v1/loans/products", headers=bearer(bureau)).json()["items"]
    assert len(products) == 9
    assert "鑫e高企" in {p["name"] for p in products}


def test_enterprises_categories_and_rongxing(loaded: Demo) -> None:
    bureau = _token(loaded, "泰州市科技局 dashboard")
    points = loaded.api.get(
        f"/v1/scoring/enterprises/{RONGXING}/points",
        headers=bearer(bureau),
        params={"period": 2025},
    ).json()
    assert points["points"] == 188
    apps = loaded.api.get(
        "/v1/loans/applications",
        headers=bearer(bureau),
        params={"product_code": "XEGQ", "limit": 500},
    ).json()["items"]
    loan = next(a for a in apps if a["uscc"] == RONGXING)
    assert loan["amount"] == "2850000.00"
    assert loan["decision_working_days"] <= 2
    assert loan["on_time"] is True
    assert loan["disbursed_total"] == "2850000.00"
    ranking = loaded.api.get(
        "/v1/scoring/rankings",
        headers=bearer(bureau),
        params={"period": 2025, "category": "leading_innovator"},
    ).json()
    assert ranking["rank_total"] == 10
    for category, count in demo.COUNTS.items():
        r = loaded.api.get(
            "/v1/scoring/rankings",
            headers=bearer(bureau),
            params={"period": 2025, "category": category, "limit": 1},
        ).json()
        assert r["rank_total"] == count, category
    top = loaded.api.get(
        "/v1/guarantee/waivers/2026", headers=bearer(bureau), params={"limit": 100}
    ).json()
    assert len(top["items"]) == 100


def test_firms_get_their_consented_enterprises(loaded: Demo) -> None:
    seen = []
    for firm in demo.FIRMS:
        token = _token(loaded, f"{firm} credit model")
        r = loaded.api.get(
            "/v1/guarantee/features", headers=bearer(token), params={"limit": 100000}
        )
        rows = list(r.text.splitlines()[:-1])
        seen.append(len(rows))
    assert all(n > 1000 for n in seen)


def test_bank_client_example_runs_against_the_demo(loaded: Demo) -> None:
    c = loaded.clients["泰州银行 loan system"]
    api = InnoCredit(
        "http://testserver",
        c.client_id,
        c.client_secret,
        transport=_TestClientTransport(loaded.api),
    )
    result = run(api, RONGXING, "XEGQ", "1000000.00")
    assert result["points"] == 188
    assert result["replayed"] is True
    assert result["status"] == "disbursed"
    assert result["disbursed_total"] == "1000000.00"


class _TestClientTransport(httpx.BaseTransport):
    """Send the example's httpx requests into the in-process gateway."""

    def __init__(self, client: TestClient) -> None:
        self._client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._client.request(
            request.method, str(request.url), headers=dict(request.headers), content=request.read()
        )
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )


def test_every_enterprise_is_ranked(loaded: Demo) -> None:
    bureau = _token(loaded, "泰州市科技局 dashboard")
    ranking = loaded.api.get(
        "/v1/scoring/rankings", headers=bearer(bureau), params={"period": 2025, "limit": 1}
    ).json()
    assert ranking["rank_total"] == demo.ENTERPRISES == 8012


def test_the_demo_users_sign_in_and_see_what_their_role_sees(loaded: Demo) -> None:
    assert sorted(loaded.users) == ["abctz", "boctz", "bureau", "icbctz", "jsbank", "tzbank"]
    h1 = {"from": "2026-01-01", "to": "2026-06-30"}
    seen = {}
    for name in ("bureau", "tzbank"):
        user = loaded.users[name]
        client = browser(loaded.api.app)
        assert sign_in(client, user.name, user.password).headers["location"] == "/dashboard/"
        token = page_token(client)
        seen[name] = loaded.api.get("/v1/loans/stats", headers=bearer(token), params=h1).json()
    assert seen["bureau"]["total"]["disbursed_count"] == 662
    assert seen["tzbank"]["bank_code"] == "TZBANK"
    assert 0 < seen["tzbank"]["total"]["disbursed_count"] < 662


def test_rongxing_s_diagnosis_as_a_pdf(loaded: Demo, request: pytest.FixtureRequest) -> None:
    """榕兴医疗's 诊断书 as 泰州银行 asks for it: the JSON's figures and paths printed, 泰州银行
    named as who asked, the code checked by anyone; page 1 is the README's picture
    (docs/diagnosis-rongxing.png, written with --update-screenshots)."""
    tzbank = _token(loaded, "泰州银行 loan system")
    url = f"/v1/scoring/enterprises/{RONGXING}/diagnosis"
    params = {"period": 2025}
    diagnosis = loaded.api.get(url, params=params, headers=bearer(tzbank)).json()
    answer = loaded.api.get(
        url, params=params, headers={**bearer(tzbank), "Accept": "application/pdf"}
    )
    assert answer.status_code == 200
    pdf = answer.content
    text = text_of(pdf)
    assert "泰州榕兴医疗" in text
    assert f"创新积分{diagnosis['points']}分" in text
    assert "查询:泰州银行(TZBANK)" in text
    for paths in (diagnosis["paths"] or {}).values():
        for plan in (paths or {}).get("plans", []):
            for change in plan["changes"]:
                assert f"{change['value_from']}→{change['value_to']}" in text
    code = answer.headers["X-Diagnosis-Document"]
    check = loaded.api.get(
        f"/v1/scoring/diagnosis-documents/{code}",
        params={"sha256": hashlib.sha256(pdf).hexdigest()},
    )
    assert check.status_code == 200
    assert check.json()["issued_to"] == "查询: 泰州银行 (TZBANK)"
    out = ROOT / ".artifacts" / "diagnosis-rongxing.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    page_png(pdf, 1, out)
    page_png(pdf, 2, out.with_name("diagnosis-rongxing-2.png"))  # the paths, for a look
    if request.config.getoption("--update-screenshots"):
        page_png(pdf, 1, ROOT / "docs" / "diagnosis-rongxing.png")


def test_rongxing_paths_are_the_readmes(loaded: Demo) -> None:
    bureau = bearer(_token(loaded, "泰州市科技局 dashboard"))
    d = loaded.api.get(
        f"/v1/scoring/enterprises/{RONGXING}/diagnosis", headers=bureau, params={"period": 2025}
    ).json()

    def plans(paths: dict[str, Any]) -> list[dict[str, str]]:
        return [{c["input"]: c["value_to"] for c in p["changes"]} for p in paths["plans"]]

    top = d["paths"]["top_100"]
    assert (top["baseline"]["total_exact"], top["baseline"]["rank"]) == ("187.9661", 124)
    assert plans(top) == [
        {"revenue": "91000000.00"},
        {"rd_expense": "6880000.00"},
        {"invention_patents": "6"},
    ]
    assert all(p["unlocks"]["waiver_year"] == 2026 for p in top["plans"])
    tier = d["paths"]["next_tier"]
    assert tier["target"]["points_needed"] == 200
    assert [p["unlocks"]["tier"] for p in tier["plans"]] == [
        {"points": 200, "max_amount": "15000000.00"}
    ] * 3
    assert plans(tier) == [
        {"rd_expense": "9330000.00"},
        {"invention_patents": "6", "revenue": "91000000.00"},
        {"rd_expense": "7280000.00", "revenue": "91000000.00"},
    ]
    r = loaded.api.get(
        f"/v1/scoring/enterprises/{RONGXING}/paths",
        headers=bureau,
        params={"period": 2025, "target": "top-100"},
    )
    assert r.json()["plans"] == top["plans"]
