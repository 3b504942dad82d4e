"""The bureau's dashboard in a real browser (Debian's chromium) on the demo: the figures are the
API's, every chart rendered, nothing failed and nothing left the service; a bank user sees only
its bank; a wrong password is refused and locks the user; sign-out ends the session."""

from __future__ import annotations

import csv
import io
import shutil
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page

from services import demo
from services.gateway import service as gateway_service
from services.gateway.schemas import ClientCreate
from services.runtime import build_gateway
from shared.clock import SHANGHAI
from shared.db import make_sessionmaker
from shared.uscc import check_char
from tests.browser import renders, sign_in, wait_rendered, watched_page
from tests.dashboard.clients import api_as
from tests.dashboard.paths import ARTIFACTS
from tests.demo_db import DemoDatabase
from tests.factories import DEFAULT_MODEL, Creds, bearer, get_token, new_key
from tests.servers import make_settings
from tests.users import make_user

pytestmark = pytest.mark.slow
RONGXING = demo.RONGXING + check_char(demo.RONGXING)
H1_2026 = {"from": "2026-01-01", "to": "2026-06-30"}
H1_FRAGMENT = "#kind=half&year=2026&part=1&points=2025"
CHARTS = [
    "bank-product",
    "monthly",
    "monthly-on-time",
    "on-time-bank",
    "district",
    "industry",
    "stage",
    "distribution",
]


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.2f} %"


def _days(value: float | None) -> str:
    if value is None:
        return "—"
    rounded = round(value * 100) / 100
    return str(int(rounded)) if rounded == int(rounded) else str(rounded)


def _cards(page: Page) -> dict[str, str]:
    cards = page.locator("[data-card]")
    return {
        cards.nth(i).get_attribute("data-card") or "": cards.nth(i).locator(".figure").inner_text()
        for i in range(cards.count())
    }


def _open_h1(page: Page, user: Any) -> None:
    sign_in(page, user.name, user.password)
    page.wait_for_url("**/dashboard/")
    wait_rendered(page)
    seen = renders(page)
    page.goto(f"/dashboard/{H1_FRAGMENT}")
    wait_rendered(page, seen)
    assert page.locator("#error").is_hidden(), page.locator("#error").text_content()


def _series(page: Page, chart: str) -> list[dict[str, Any]]:
    series: list[dict[str, Any]] = page.evaluate(
        """id => echarts.getInstanceByDom(document.querySelector(`[data-chart="${id}"]`))
               .getOption().series.map(s => ({name: s.name, data: s.data}))""",
        chart,
    )
    return series


def _stats(api: httpx.Client, **params: str) -> dict[str, Any]:
    response = api.get("/v1/loans/stats", params={**H1_2026, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_bureau_sees_the_programme_as_the_api_reports_it(
    browser: Browser,
    demo_site: str,
    demo_database: DemoDatabase,
    bureau_api: httpx.Client,
    screenshots: tuple[Path, Path | None],
) -> None:
    total = _stats(bureau_api)["total"]
    with watched_page(browser, demo_site) as w:
        page = w.page
        _open_h1(page, demo_database.users["bureau"])
        cards = _cards(page)
        assert cards["applications"] == "842"
        assert cards["disbursedCount"] == "662"
        assert cards["disbursedAmount"] == "41.12"
        amount_title = page.locator('[data-card="disbursedAmount"]').get_attribute("title")
        assert amount_title == "4,112,000,000.00 元"
        assert cards["approved"] == f"{total['approved']:,}"
        assert cards["onTimeRate"] == _percent(total["on_time_rate"])
        assert cards["approvalRate"] == _percent(total["approval_rate"])
        assert cards["medianDays"] == _days(total["median_decision_working_days"])
        assert cards["meanDays"] == _days(total["avg_decision_working_days"])
        assert cards["decisionOverdue"] == str(total["decision_overdue_count"])

        # Every chart is drawn as an SVG with a mark per figure (the axes and grid draw paths
        # too: count more than those), and its table has a row per figure.
        for chart in CHARTS:
            svg = page.locator(f'[data-chart="{chart}"] svg')
            assert svg.count() == 1, chart
            figures = sum(len(s["data"]) for s in _series(page, chart))
            assert figures > 0, chart
            empty = page.evaluate(
                """id => document.querySelector(`[data-chart="${id}"] svg`).querySelectorAll(
                       'path').length""",
                chart,
            )
            assert empty >= figures, chart
        # The charts' numbers are the API's: applications per month, on time per bank.
        by_month = _stats(bureau_api, group_by="month")["groups"]
        monthly = _series(page, "monthly")
        assert monthly[0]["data"] == [g["applications"] for g in by_month]
        by_bank = _stats(bureau_api, group_by="bank")["groups"]
        on_time = _series(page, "on-time-bank")[0]["data"]
        assert on_time == [round(g["on_time_rate"] * 100, 2) for g in by_bank]
        # Stacked by product, each bank's bar adds up to the bank's amount (in 亿元).
        stacked = _series(page, "bank-product")
        for i, bank in enumerate(by_bank):
            in_bar = sum(s["data"][i] for s in stacked)
            assert in_bar == pytest.approx(float(bank["disbursed_amount"]) / 1e8, rel=1e-9)
        rows = page.locator('[data-panel="district"] tbody tr')
        assert rows.count() == len(_stats(bureau_api, group_by="district")["groups"])

        # Points: the 2025 distribution and top 100, waived in 2026.
        distribution = bureau_api.get("/v1/scoring/distribution", params={"period": 2025}).json()
        assert _series(page, "distribution")[0]["data"] == [
            b["count"] for b in distribution["histogram"]
        ]
        top = page.locator('[data-panel="top100"] tbody tr')
        assert top.count() == 100
        first = bureau_api.get("/v1/scoring/rankings", params={"period": 2025, "limit": 1})
        assert first.json()["items"][0]["uscc"] in top.nth(0).inner_text()
        assert page.locator('[data-panel="top100"] tbody tr:has-text("免收")').count() == 100

        page.screenshot(path=screenshots[0] / "bureau.png", full_page=True)
        if screenshots[1] is not None:
            page.screenshot(path=screenshots[1], full_page=False)
        assert w.errors == []
        assert w.outside == []


def test_a_bank_user_sees_only_its_bank(
    browser: Browser,
    demo_site: str,
    demo_database: DemoDatabase,
    screenshots: tuple[Path, Path | None],
) -> None:
    with watched_page(browser, demo_site) as w:
        page = w.page
        _open_h1(page, demo_database.users["tzbank"])
        assert "泰州银行" in page.locator("#who").inner_text()
        cards = _cards(page)
        assert 0 < int(cards["disbursedCount"].replace(",", "")) < 662
        banks = page.evaluate(
            """() => echarts.getInstanceByDom(document.querySelector('[data-chart="on-time-bank"]'))
                     .getOption().xAxis[0].data"""
        )
        assert banks == ["泰州银行"]
        products = page.locator('[data-panel="bank-product"] tbody tr')
        # (The tables are folded under "数据表": their text, not what is on screen.)
        assert set(products.locator(":scope > :first-child").all_text_contents()) == {"泰州银行"}
        assert page.locator("#governance").is_hidden()  # rule changes and drift: the bureau's
        assert page.locator("#governance-panels > *").count() == 0
        page.screenshot(path=screenshots[0] / "tzbank.png", full_page=True)
        assert w.errors == []
        assert w.outside == []


def test_a_download_holds_the_apis_figures(
    browser: Browser, demo_site: str, demo_database: DemoDatabase, bureau_api: httpx.Client
) -> None:
    with watched_page(browser, demo_site) as w:
        page = w.page
        _open_h1(page, demo_database.users["bureau"])
        with page.expect_download() as done:
            page.click('[data-panel="district"] [data-download="csv"]')
        download = done.value
        assert download.suggested_filename == "stats-district-2026-01-01-2026-06-30.csv"
        path = download.path()
        got = list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))
        expected = bureau_api.get(
            "/v1/loans/stats",
            params={**H1_2026, "group_by": "district"},
            headers={"Accept": "text/csv"},
        ).text
        assert got == list(csv.reader(io.StringIO(expected.lstrip("\ufeff"))))
        with page.expect_download() as done:
            page.click('[data-panel="district"] [data-download="xlsx"]')
        assert Path(done.value.path()).read_bytes()[:2] == b"PK"
        assert w.errors == []
        assert w.outside == []


def test_english_labels(browser: Browser, demo_site: str, demo_database: DemoDatabase) -> None:
    with watched_page(browser, demo_site) as w:
        page = w.page
        _open_h1(page, demo_database.users["bureau"])
        seen = renders(page)
        page.click("#lang")
        wait_rendered(page, seen)
        assert page.locator("#h-cards").inner_text() == "Overview"
        assert page.locator('[data-card="applications"] .label').inner_text() == "Applications"
        assert _cards(page)["disbursedCount"] == "662"
        assert "lang=en" in page.url
        assert page.evaluate("document.documentElement.lang") == "en"
        categories = page.locator("#f-category option").all_text_contents()
        assert "High-tech enterprise" in categories
        stages = page.locator('[data-panel="stage"] tbody tr > :first-child').all_text_contents()
        assert stages
        assert set(stages) <= {"Seed", "Start-up", "Growth", "Mature"}
        assert w.errors == []


def test_a_period_without_a_ranking_says_so(
    browser: Browser, demo_site: str, demo_database: DemoDatabase
) -> None:
    with watched_page(browser, demo_site) as w:
        page = w.page
        _open_h1(page, demo_database.users["bureau"])
        seen = renders(page)
        page.goto("/dashboard/#kind=half&year=2026&part=1&points=2030")
        wait_rendered(page, seen)
        note = page.locator("[data-no-ranking]")
        assert note.inner_text().startswith("2030")
        assert page.locator('[data-panel="top100"]').count() == 0
        assert _cards(page)["disbursedCount"] == "662"  # the loans still show
        assert page.locator("#error").is_hidden()
        assert w.errors == []  # asked, not a 404 in the browser's console
        assert w.outside == []


def test_a_wrong_password_is_refused_and_locks_the_user_out(
    browser: Browser, demo_site: str, demo_database: DemoDatabase
) -> None:
    user = make_user(make_sessionmaker(demo_database.engine))
    with watched_page(browser, demo_site) as w:
        page = w.page
        for _ in range(5):  # INNOCREDIT_SIGN_IN_MAX_FAILURES
            sign_in(page, user.name, "not the password")
            page.wait_for_url("**/dashboard/sign-in?failed=1")
            assert page.locator("[role=alert]").is_visible()
        sign_in(page, user.name, user.password)  # the right one, while locked
        page.wait_for_url("**/dashboard/sign-in?failed=1")
        page.goto("/dashboard/")
        assert page.url.endswith("/dashboard/sign-in")
        assert w.outside == []


def test_sign_out_ends_the_session(
    browser: Browser, demo_site: str, demo_database: DemoDatabase
) -> None:
    user = make_user(make_sessionmaker(demo_database.engine))
    with watched_page(browser, demo_site) as w:
        page = w.page
        sign_in(page, user.name, user.password)
        page.wait_for_url("**/dashboard/")
        wait_rendered(page)
        page.click("form[action='/dashboard/sign-out'] button")
        page.wait_for_url("**/dashboard/sign-in")
        page.goto("/dashboard/")
        assert page.url.endswith("/dashboard/sign-in")
        token = page.request.post(f"{demo_site}/dashboard/api/token", headers={"Origin": demo_site})
        assert token.status == 401
        assert w.errors == []


def test_chromium_is_debians() -> None:
    """The suite drives the distribution's browser, never one downloaded at run time."""
    assert shutil.which("chromium") is not None
    assert not (Path.home() / ".cache" / "ms-playwright").exists()


def _outside_h1_2026(day: date) -> bool:
    # The demo's first half of 2026 is what the other tests read: never write into it.
    return not date(2026, 1, 1) <= day <= date(2026, 6, 30)


def _submitted_due_today(bank: httpx.Client, today: date) -> str | None:
    """A submission time (10:00 in Shanghai, in the last three weeks) whose decision is due
    today, by the API's own deadline rule; None when no working day leads there (today is a
    day off)."""
    for back in range(1, 22):
        day = today - timedelta(days=back)
        at = datetime.combine(day, time(10), tzinfo=SHANGHAI)
        if not _outside_h1_2026(day):
            continue
        deadline = bank.get("/v1/loans/deadline", params={"submitted_at": at.isoformat()}).json()
        if datetime.fromisoformat(deadline["due_at"]).astimezone(SHANGHAI).date() == today:
            return at.isoformat()
    return None


def test_applications_awaiting_a_decision_open_with_their_history(
    browser: Browser, demo_site: str, demo_database: DemoDatabase
) -> None:
    # 泰州银行 and 江苏银行 each get an application submitted three weeks ago (overdue whatever
    # the holidays), and one due today when today is a working day.
    banks = {"TZBANK": "泰州银行 loan system", "JSBANK": "江苏银行 loan system"}
    products = {"TZBANK": "XEGQ", "JSBANK": "SKD"}
    today = datetime.now(SHANGHAI).date()
    weeks_ago = today - timedelta(days=21)
    if not _outside_h1_2026(weeks_ago):
        weeks_ago = date(2025, 12, 15)
    made: dict[tuple[str, str], str] = {}
    for code, name in banks.items():
        with api_as(demo_site, demo_database, name) as bank:
            times = {
                "overdue": datetime.combine(weeks_ago, time(10), tzinfo=SHANGHAI).isoformat(),
                "today": _submitted_due_today(bank, today),
            }
            for when, submitted_at in times.items():
                if submitted_at is None:
                    continue
                body = {
                    "uscc": RONGXING,
                    "product_code": products[code],
                    "amount": "500000.00",
                    "term_months": 12,
                    "submitted_at": submitted_at,
                }
                created = bank.post(
                    "/v1/loans/applications", json=body, headers={"Idempotency-Key": new_key()}
                )
                assert created.status_code == 201, created.text
                made[code, when] = created.json()["id"]
    with (
        api_as(demo_site, demo_database, banks["TZBANK"]) as tzbank,
        watched_page(browser, demo_site) as w,
    ):
        page = w.page
        _open_h1(page, demo_database.users["tzbank"])
        for when in ("overdue", "today", "tomorrow"):
            listed = tzbank.get(
                "/v1/loans/applications", params={"decision_due": when, "limit": 100}
            ).json()["items"]
            links = page.locator(f'[data-panel="due-{when}"] a[data-application]')
            shown = [links.nth(i).get_attribute("data-application") for i in range(links.count())]
            assert shown == [a["id"] for a in listed], when
            assert all(a["bank_code"] == "TZBANK" for a in listed)
        overdue = page.locator('[data-panel="due-overdue"] a[data-application]')
        assert made["TZBANK", "overdue"] in overdue.evaluate_all(
            "els => els.map(e => e.dataset.application)"
        )
        if ("TZBANK", "today") in made:
            due_today = page.locator('[data-panel="due-today"] a[data-application]')
            assert made["TZBANK", "today"] in due_today.evaluate_all(
                "els => els.map(e => e.dataset.application)"
            )
        assert made["JSBANK", "overdue"] not in page.content()

        seen = renders(page)
        page.click(f'[data-panel="due-overdue"] a[data-application="{made["TZBANK", "overdue"]}"]')
        wait_rendered(page, seen)
        dialog = page.locator("#application")
        dialog.wait_for(state="visible")
        assert made["TZBANK", "overdue"] in dialog.inner_text()
        assert dialog.locator("tbody tr").count() >= 1  # its history: submitted
        assert "kind=half" in page.url  # the period is kept
        page.screenshot(path=ARTIFACTS / "application.png")
        seen = renders(page)
        page.click("#application button")  # close: the address forgets the application
        wait_rendered(page, seen)
        assert "application=" not in page.url
        assert dialog.is_hidden()
        assert w.errors == []
        assert w.outside == []


def _maker(demo_database: DemoDatabase) -> Creds:
    """A second operator on the demo (its own is the checker): the maker of a change."""
    data = ClientCreate(name="dashboard test maker", role="admin")
    with make_sessionmaker(demo_database.engine).begin() as session:
        client, secret = gateway_service.create_client(session, data)
        return Creds(client.client_id, secret)


def test_the_bureau_sees_a_pending_model_change_with_its_impact_and_the_latest_drift(
    browser: Browser,
    demo_site: str,
    demo_database: DemoDatabase,
    bureau_api: httpx.Client,
    screenshots: tuple[Path, Path | None],
) -> None:
    """An operator proposes a draft model (invention patents weighted double) under four eyes:
    the bureau's page lists the pending change with its what-if figures and the latest drift,
    each the API's; the maker then withdraws it."""
    governed = build_gateway(
        make_settings(demo_database.url, four_eyes="all"), demo_database.engine
    )
    with TestClient(governed, base_url="http://testserver") as api:
        maker = bearer(get_token(api, _maker(demo_database)))
        model = api.get(f"/v1/scoring/models/{DEFAULT_MODEL}", headers=maker).json()["definition"]
        model["version"] = "DASH-" + uuid.uuid4().hex[:8]
        patents = next(i for i in model["indicators"] if i["indicator"] == "invention_patents")
        patents["weight"] = str(Decimal(patents["weight"]) * 2)
        assert api.post("/v1/admin/models", headers=maker, json=model).status_code == 201
        proposed = api.post(f"/v1/admin/models/{model['version']}/publish", headers=maker)
        assert proposed.status_code == 202, proposed.text
        change = proposed.json()
        try:
            impact = bureau_api.get(change["links"]["impact"]).json()
            drift = bureau_api.get("/v1/scoring/drift").json()
            with watched_page(browser, demo_site) as w:
                page = w.page
                sign_in(
                    page, demo_database.users["bureau"].name, demo_database.users["bureau"].password
                )
                page.wait_for_url("**/dashboard/")
                wait_rendered(page)
                assert page.locator("#error").is_hidden(), page.locator("#error").text_content()
                row = page.locator(
                    f'[data-panel="pending-changes"] tbody tr:has-text("{model["version"]}")'
                )
                assert row.count() == 1
                moved = f"{impact['rank_changes']['moved']:,}/{impact['enterprise_count']:,}"
                assert moved in row.inner_text()
                assert f"进入 {len(impact['top']['entering'])}" in row.inner_text()
                panel = page.locator(f'[data-panel="impact-{change["id"][:8]}"]')
                buckets = impact["rank_changes"]["buckets"]
                assert _series(page, f"impact-{change['id'][:8]}") == [
                    {"name": "排名上升", "data": [b["up"] for b in buckets]},
                    {"name": "排名下降", "data": [b["down"] for b in buckets]},
                ]
                assert panel.locator("tbody tr").count() == len(impact["products"])
                assert _series(page, "drift")[0]["data"] == [drift["points"]["psi"]] + [
                    i["stability"]["psi"] for i in drift["indicators"]
                ]
                assert page.locator('[data-panel="drift"] tbody tr').count() == 1 + len(
                    drift["indicators"]
                )
                section = page.locator("#governance")
                section.screenshot(path=screenshots[0] / "governance.png")
                if screenshots[1] is not None:
                    section.screenshot(path=screenshots[1].with_name("dashboard-governance.png"))
                assert w.errors == []
                assert w.outside == []
        finally:
            withdrawn = api.post(
                f"/v1/admin/changes/{change['id']}/reject",
                headers=maker,
                json={"reason": "a dashboard test's draft"},
            )
            assert withdrawn.status_code == 200, withdrawn.text
