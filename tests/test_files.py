"""Files an analyst opens: every CSV also as XLSX with typed cells, Chinese headers on
request, CSV with a UTF-8 BOM on request, whole lists streamed, and content negotiation
(406 for an Accept nothing matches). Workbooks are read back with openpyxl and checked
cell by cell against the JSON of the same request."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from openpyxl.cell.cell import Cell

from shared import tabular
from shared.clock import SHANGHAI
from tests.factories import A_INDICATORS, B_INDICATORS, Factory, bearer
from tests.periods import PeriodPool
from tests.test_lists import walk

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T.*")


def workbook(content: bytes) -> tuple[list[Any], list[tuple[Cell, ...]]]:
    """The header row's values and the data rows' cells of a workbook's only sheet."""
    book = load_workbook(io.BytesIO(content))
    assert len(book.worksheets) == 1
    rows = list(book.active.iter_rows())  # type: ignore[union-attr]
    return [c.value for c in rows[0]], [tuple(r) for r in rows[1:]]


def table(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def flat(row: dict[str, Any], column: str) -> Any:
    value: Any = row
    for part in column.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def assert_cell(cell: Cell, value: Any, money: set[str], column: str) -> None:
    """The cell holds the JSON value, typed: numbers as numbers (money exact, `0.00`), dates
    as dates, timestamps as Asia/Shanghai date-times, booleans as booleans."""
    where = f"{column}: {cell.value!r} vs {value!r}"
    if value is None or value == []:
        assert cell.value is None, where
    elif isinstance(value, bool):
        assert cell.value is value, where
    elif isinstance(value, int):
        assert type(cell.value) is int, where
        assert cell.value == value, where
    elif isinstance(value, float):
        assert isinstance(cell.value, float | int), where
        assert cell.value == value, where
    elif isinstance(value, list):
        assert cell.value == "|".join(value), where
    elif column in money:
        assert cell.number_format == "0.00", where
        assert isinstance(cell.value, float | int), where
        assert Decimal(str(cell.value)).quantize(Decimal("0.01")) == Decimal(value), where
    elif _DATE.fullmatch(value):
        assert isinstance(cell.value, datetime), where
        assert cell.value.date() == date.fromisoformat(value), where
    elif _DATETIME.fullmatch(value):
        local = datetime.fromisoformat(value).astimezone(SHANGHAI).replace(tzinfo=None)
        assert isinstance(cell.value, datetime), where
        assert abs(cell.value - local) < timedelta(milliseconds=1), where
    elif cell.number_format == "0.0000":  # decimals sent as strings: rates, exact totals
        assert Decimal(str(cell.value)) == Decimal(value), where
    else:
        assert cell.value == value, where


def assert_sheet(
    content: bytes, items: list[dict[str, Any]], money: set[str], *, columns: list[str]
) -> None:
    header, rows = workbook(content)
    assert header == columns
    assert len(rows) == len(items)
    for cells, item in zip(rows, items, strict=True):
        for cell, column in zip(cells, columns, strict=True):
            assert_cell(cell, flat(item, column), money, column)


@dataclass(frozen=True)
class World:
    bank: dict[str, str]
    other_bank: dict[str, str]
    period: int
    app_ids: list[str]


@pytest.fixture(scope="module")
def world(factory: Factory, periods: PeriodPool) -> World:
    bank, other = factory.bank(), factory.bank()
    product, other_product = factory.product(bank), factory.product(other)
    period = periods.fresh()
    facts: list[dict[str, Any]] = [A_INDICATORS, B_INDICATORS, A_INDICATORS, {}, {}]
    usccs = factory.ranked(
        period,
        facts,
        enterprise_overrides=[
            {"district": "高港区", "name": '=HYPERLINK("x")', "categories": ["high_tech"]},
            {"district": "高港区"},
            {"district": "海陵区"},
            {"district": "高港区", "categories": []},
            {"district": "高港区", "categories": ["tech_sme", "gazelle"]},
        ],
    )
    states = ["submitted", "approved", "disbursed", "rejected", "overdue", "withdrawn"]
    apps = [factory.application(bank, product, usccs[0], state=s) for s in states]
    factory.application(other, other_product, usccs[2], state="disbursed")
    return World(
        bearer(factory.bank_token(bank)),
        bearer(factory.bank_token(other)),
        period,
        [a.id for a in apps],
    )


def _get(api: TestClient, path: str, who: dict[str, str], accept: str, **params: Any) -> Any:
    r = api.get(path, headers={**who, "Accept": accept}, params=params)
    assert r.status_code == 200, r.text
    return r


STATS_MONEY = {"disbursed_amount"}
APPLICATION_MONEY = {
    "amount",
    "max_amount_snapshot",
    "guarantee_fee.fee",
    "guarantee_fee.payable_fee",
    "approved_amount",
    "disbursed_total",
    "outstanding_principal",
}


def _window() -> dict[str, str]:
    today = datetime.now(SHANGHAI).date()
    return {"from": str(today - timedelta(days=30)), "to": str(today)}


def test_stats_as_xlsx_and_csv(api: TestClient, world: World) -> None:
    params = {**_window(), "group_by": "product"}
    stats = _get(api, "/v1/loans/stats", world.bank, "application/json", **params).json()
    items = [*stats["groups"], {**stats["total"], "group": "TOTAL"}]
    assert stats["total"]["disbursed_amount"] == "2000000.00"  # two loans of 1,000,000.00
    columns = list(stats["total"])
    xlsx = _get(api, "/v1/loans/stats", world.bank, XLSX, **params)
    assert xlsx.headers["content-type"] == XLSX
    assert xlsx.headers["content-disposition"].startswith("attachment; filename=")
    assert_sheet(xlsx.content, items, STATS_MONEY, columns=columns)
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as archive:
        cells = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<v>2000000.00</v>" in cells  # the Decimal's own text, not a float's

    as_csv = _get(api, "/v1/loans/stats", world.bank, "text/csv", **params)
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert not as_csv.content.startswith(b"\xef\xbb\xbf")
    rows = table(as_csv.text)
    assert [r["group"] for r in rows] == [i["group"] for i in items]
    assert rows[-1]["disbursed_amount"] == "2000000.00"

    # Chinese headers in both files; a byte-order mark on CSV when asked.
    zh = _get(api, "/v1/loans/stats", world.bank, XLSX, **params, headers="zh")
    assert workbook(zh.content)[0][:3] == ["分组", "申请笔数", "批准笔数"]
    bom = _get(api, "/v1/loans/stats", world.bank, "text/csv", **params, headers="zh", bom=True)
    assert bom.content.startswith(b"\xef\xbb\xbf")
    text = bom.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("分组,申请笔数,批准笔数")
    assert text.splitlines()[1:] == as_csv.text.splitlines()[1:]


def test_the_applications_list_as_a_whole_file(
    api: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole filtered list of the caller's bank, however many batches it is read in."""
    monkeypatch.setattr(tabular, "FILE_BATCH", 2)  # six applications: three batches
    items = walk(api, "/v1/loans/applications", world.bank, 2)
    assert [i["id"] for i in items] == world.app_ids
    columns = [
        *(c for c in items[0] if c != "guarantee_fee"),
        "guarantee_fee.fee_rate",
        "guarantee_fee.fee",
        "guarantee_fee.waived",
        "guarantee_fee.payable_fee",
    ]
    xlsx = _get(api, "/v1/loans/applications", world.bank, XLSX, limit=1)
    header, _ = workbook(xlsx.content)
    order = [header.index(c) for c in columns]
    book_rows = [[cells[i] for i in order] for cells in workbook(xlsx.content)[1]]
    assert len(book_rows) == len(items)
    for cells, item in zip(book_rows, items, strict=True):
        for cell, column in zip(cells, columns, strict=True):
            assert_cell(cell, flat(item, column), APPLICATION_MONEY, column)

    as_csv = table(_get(api, "/v1/loans/applications", world.bank, "text/csv").text)
    assert [r["id"] for r in as_csv] == world.app_ids
    assert {r["bank_code"] for r in as_csv} == {items[0]["bank_code"]}  # the caller's own
    assert [r["amount"] for r in as_csv] == [i["amount"] for i in items]

    # Filters and the cursor apply to files as to pages.
    approved = _get(api, "/v1/loans/applications", world.bank, "text/csv", status="approved")
    assert [r["id"] for r in table(approved.text)] == [world.app_ids[1]]
    first = api.get("/v1/loans/applications", headers=world.bank, params={"limit": 2}).json()
    rest = _get(api, "/v1/loans/applications", world.bank, "text/csv", cursor=first["next_cursor"])
    assert [r["id"] for r in table(rest.text)] == world.app_ids[2:]


def test_the_ranking_as_a_whole_file(api: TestClient, world: World, admin_token: str) -> None:
    admin = bearer(admin_token)
    params = {"period": world.period, "district": "高港区"}
    pages = walk(api, "/v1/scoring/rankings", admin, 2, **params)
    assert len(pages) == 4
    of = {"period": world.period, "model_version": "TZ-2025.1"}
    items = [{**of, **i} for i in pages]
    columns = ["period", "model_version", *pages[0]]
    xlsx = _get(api, "/v1/scoring/rankings", admin, XLSX, **params)
    assert_sheet(xlsx.content, items, set(), columns=columns)
    header, rows = workbook(xlsx.content)
    assert rows[0][header.index("total_exact")].number_format == "0.0000"

    as_csv = table(_get(api, "/v1/scoring/rankings", admin, "text/csv", **params).text)
    assert [r["uscc"] for r in as_csv] == [i["uscc"] for i in pages]
    assert [r["categories"] for r in as_csv] == ["|".join(i["categories"]) for i in pages]
    # A text cell is never a formula: quoted in CSV, a plain string in XLSX.
    name = next(i["name"] for i in pages if i["name"].startswith("="))
    assert f"'{name}" in {r["name"] for r in as_csv}
    names = [row[header.index("name")] for row in rows]
    assert any(c.value == name and c.data_type == "s" for c in names)


def test_the_waivers_as_a_file(api: TestClient, world: World, admin_token: str) -> None:
    admin = bearer(admin_token)
    path = f"/v1/guarantee/waivers/{world.period + 1}"
    items = walk(api, path, admin, 2)
    assert [i["rank"] for i in items] == [1, 2, 3, 4, 5]
    xlsx = _get(api, path, admin, XLSX)
    assert_sheet(xlsx.content, items, set(), columns=list(items[0]))
    zh = workbook(_get(api, path, admin, XLSX, headers="zh").content)[0]
    assert zh == ["排名", "统一社会信用代码", "积分", "排名年度", "积分模型版本"]


def test_the_feature_export_as_xlsx_keeps_its_cursor(
    api: TestClient, factory: Factory, periods: PeriodPool, admin_token: str
) -> None:
    """The same rows and cursor as NDJSON, typed by the data dictionary; pulls chained by
    `X-Next-Cursor` deliver every row exactly once."""
    admin = bearer(admin_token)
    firm = f"FX{uuid.uuid4().hex[:8].upper()}"
    token = bearer(factory.token("credit_firm", firm_code=firm))
    usccs = factory.ranked(periods.fresh(), [A_INDICATORS, B_INDICATORS, {}, {}])
    granted = (datetime.now(SHANGHAI) - timedelta(days=1)).isoformat()
    for uscc in usccs:
        body = {"uscc": uscc, "firm_code": firm, "granted_at": granted, "evidence_ref": "授权书"}
        consent = api.post("/v1/admin/consents", headers=admin, json=body)
        assert consent.status_code == 201, consent.text
    revoke = api.post(f"/v1/admin/consents/{consent.json()['id']}/revoke", headers=admin)
    assert revoke.status_code == 200, revoke.text

    ndjson = _get(api, "/v1/guarantee/features", token, "application/x-ndjson")
    lines = [json.loads(line) for line in ndjson.text.splitlines()]
    rows, cursor = lines[:-1], ndjson.headers["x-next-cursor"]
    assert [r["uscc"] for r in rows] == usccs
    assert [r["deleted"] for r in rows] == [False, False, False, True]
    before = datetime.now(SHANGHAI).isoformat()
    xlsx = _get(api, "/v1/guarantee/features", {**token, "X-Request-ID": f"xlsx-{firm}"}, XLSX)
    assert xlsx.headers["x-next-cursor"] == cursor
    assert xlsx.headers["x-feature-schema-version"] == "1.0"
    schema = api.get("/v1/guarantee/features/schema", headers=token).json()
    names = [f["name"] for f in schema["features"]]
    assert_sheet(xlsx.content, rows, set(), columns=names)
    header, cells = workbook(xlsx.content)
    assert cells[0][header.index("points_invention_patents")].number_format == "0.0000"

    trail = api.get("/v1/admin/audit", headers=admin, params={"since": before, "limit": 500})
    pull = next(e for e in trail.json()["items"] if e["request_id"] == f"xlsx-{firm}")
    assert pull["detail"]["rows"] == len(rows)  # audited once the file was sent

    # Nothing changed since the cursor: an empty sheet, the same cursor.
    again = _get(api, "/v1/guarantee/features", token, XLSX, since=cursor)
    assert workbook(again.content) == (names, [])
    assert again.headers["x-next-cursor"] == cursor
    # Chained pulls of two rows: every row once.
    seen: list[Any] = []
    since = None
    for _ in range(3):
        page = _get(
            api,
            "/v1/guarantee/features",
            token,
            XLSX,
            limit=2,
            **({"since": since} if since else {}),
        )
        seen += [row[header.index("uscc")].value for row in workbook(page.content)[1]]
        since = page.headers["x-next-cursor"]
    assert seen == usccs


# ---------------------------------------------------------------- content negotiation


@pytest.mark.parametrize(
    ("path", "offered"),
    [
        ("/v1/loans/banks", ["application/json"]),  # JSON only: no code of its own
        ("/v1/loans/stats", ["application/json", "text/csv", XLSX]),
        ("/v1/guarantee/waivers/2030", ["application/json", "text/csv", XLSX]),
        ("/v1/admin/clients", ["application/json"]),  # the gateway's own
    ],
)
def test_an_accept_nothing_matches_is_406(
    api: TestClient, admin_token: str, path: str, offered: list[str]
) -> None:
    params = _window()
    for accept in ("image/png", "text/csv;q=0, application/*;q=0, image/*"):
        r = api.get(path, headers={**bearer(admin_token), "Accept": accept}, params=params)
        assert r.status_code == 406, r.text
        assert r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        assert problem["type"].endswith("/problems/not-acceptable")
        assert problem["status"] == 406
        assert problem["offered"] == offered


def test_accept_is_weighed(api: TestClient, world: World) -> None:
    def media(accept: str) -> str:
        r = _get(api, "/v1/loans/stats", world.bank, accept, **_window())
        return str(r.headers["content-type"]).split(";")[0]

    assert media("*/*") == "application/json"
    json_answer = _get(api, "/v1/loans/stats", world.bank, "application/json", **_window())
    assert json_answer.headers["vary"] == "Accept"
    assert media("text/*") == "text/csv"
    assert media("application/json;q=0, */*") == "text/csv"
    assert media("application/json;q=0.5, text/csv;q=0.4, */*;q=0.9") == XLSX
    assert media("text/csv;q=1, application/json;q=0.999") == "text/csv"
    # Errors are problem+json whatever Accept says.
    bad = api.get(
        "/v1/loans/stats",
        headers={**world.bank, "Accept": "text/csv"},
        params={"from": "2026-02-01", "to": "2026-01-01"},
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


def test_the_document_declares_every_media_type(api: TestClient) -> None:
    doc = api.get("/openapi.json").json()
    for path in ("/v1/loans/stats", "/v1/loans/applications", "/v1/scoring/rankings"):
        content = doc["paths"][path]["get"]["responses"]["200"]["content"]
        assert list(content) == ["application/json", "text/csv", XLSX], path
    export = doc["paths"]["/v1/guarantee/features"]["get"]["responses"]
    assert list(export["200"]["content"]) == ["application/x-ndjson", "text/csv", XLSX]
    # Every route negotiates (JSON-only ones too), so every operation declares its 406.
    undeclared = [
        f"{method.upper()} {path}"
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if "406" not in operation["responses"]
    ]
    assert undeclared == []
