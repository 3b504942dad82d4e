"""泰信保 waiver and fees, consents, and the credit-firm feature export."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from services.guarantee.export import export_page
from services.guarantee.fees import fee
from services.guarantee.models import ExportPull
from shared import changefeed as feed
from shared import clock
from shared.as_of import Versions
from shared.auth.tenancy import OneFirm
from tests.factories import Creds, bearer, enterprise, get_token, indicators, new_uscc
from tests.periods import PeriodPool

MODEL = {"model_version": "TZ-2025.1"}


@pytest.mark.parametrize(
    ("amount", "rate", "months", "expected"),
    [
        ("2850000.00", "0.012", 12, "34200.00"),
        ("2850000.00", "0.012", 7, "19950.00"),
        ("1234567.89", "0.0125", 5, "6430.04"),  # 6430.0411…
        ("100.00", "0.0105", 1, "0.09"),  # 0.0875 → half up
        ("100.00", "0.0102", 1, "0.09"),  # 0.085 exactly → half up
        ("9999999999999.99", "0.0199", 360, "5969999999999.99"),  # ….994: beyond a float
    ],
)
def test_fee_arithmetic_is_exact(amount: str, rate: str, months: int, expected: str) -> None:
    assert fee(Decimal(amount), Decimal(rate), months) == Decimal(expected)


def _ranked(api: TestClient, admin: dict[str, str], period: int, n: int) -> list[str]:
    """n enterprises with distinct points in `period` (more patents → higher rank)."""
    usccs = [new_uscc() for _ in range(n)]
    r = api.put(
        "/v1/admin/enterprises",
        headers=admin,
        json=[enterprise(u, name=f"企业{i}") for i, u in enumerate(usccs)],
    )
    assert r.status_code == 200, r.text
    rows = [
        indicators(
            u,
            invention_patents=i % 7,
            utility_models=i // 7 % 10,
            software_copyrights=i // 70,
            revenue=f"{1000000 + i * 1000}.00",
            total_staff=10,
        )
        for i, u in enumerate(usccs)
    ]
    assert api.put(f"/v1/admin/indicators/{period}", headers=admin, json=rows).status_code == 200
    assert (
        api.post(f"/v1/admin/points/{period}/recompute", headers=admin, json=MODEL).status_code
        == 200
    )
    ranking: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"period": period, "limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/v1/scoring/rankings", headers=admin, params=params).json()
        ranking += [e["uscc"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return ranking


@pytest.fixture(scope="module")
def admin(admin_token: str) -> dict[str, str]:
    return bearer(admin_token)


@dataclass(frozen=True)
class Ranked:
    """101 enterprises ranked in `period`, best first; nobody ranks the year before it, and
    nobody else sets fees for the waiver year after it."""

    period: int
    usccs: list[str]

    @property
    def waiver_year(self) -> int:
        return self.period + 1


@pytest.fixture(scope="module")
def ranked_101(api: TestClient, admin: dict[str, str], periods: PeriodPool) -> Ranked:
    period = periods.fresh(previous=True, following=True)
    return Ranked(period, _ranked(api, admin, period, 101))


# Every `versions` field null: the answer rests on no ranking run, model or rate.
NO_VERSIONS = dict.fromkeys(Versions.model_fields)


def test_waiver_boundary_rank_100_and_101(
    api: TestClient, admin: dict[str, str], ranked_101: Ranked
) -> None:
    ranking, year = ranked_101.usccs, ranked_101.waiver_year
    at_100 = api.get(
        f"/v1/guarantee/enterprises/{ranking[99]}/waiver", headers=admin, params={"year": year}
    ).json()
    assert at_100["waived"] is True
    assert at_100["reason"] == "top-100"
    assert at_100["basis"] == {
        "ranking_period": ranked_101.period,
        "rank": 100,
        "rank_total": 101,
        "model_version": "TZ-2025.1",
    }
    at_101 = api.get(
        f"/v1/guarantee/enterprises/{ranking[100]}/waiver", headers=admin, params={"year": year}
    ).json()
    assert (at_101["waived"], at_101["reason"], at_101["basis"]["rank"]) == (
        False,
        "outside-top-100",
        101,
    )
    missing = api.get(
        f"/v1/guarantee/enterprises/{ranking[0]}/waiver",
        headers=admin,
        params={"year": ranked_101.period},
    ).json()  # nobody ranks the year before
    assert missing == {
        "uscc": ranking[0],
        "year": ranked_101.period,
        "waived": False,
        "basis": None,
        "reason": "ranking-unavailable",
        "versions": {**NO_VERSIONS},
    }
    top = api.get(f"/v1/guarantee/waivers/{year}", headers=admin, params={"limit": 100}).json()
    assert [t["uscc"] for t in top["items"]] == ranking[:100]
    assert top["next_cursor"] is None
    as_csv = api.get(f"/v1/guarantee/waivers/{year}", headers={**admin, "Accept": "text/csv"})
    assert len(list(csv.DictReader(io.StringIO(as_csv.text)))) == 100


def test_waiver_follows_a_republished_model(
    api: TestClient, admin: dict[str, str], period: int
) -> None:
    ranking = _ranked(api, admin, period, 3)
    model = api.get("/v1/scoring/models/TZ-2025.1", headers=admin).json()["definition"]
    model["version"] = "TEST-TXB-" + uuid.uuid4().hex[:8]
    api.post("/v1/admin/models", headers=admin, json=model)
    api.post(f"/v1/admin/models/{model['version']}/publish", headers=admin)
    api.post(
        f"/v1/admin/points/{period}/recompute",
        headers=admin,
        json={"model_version": model["version"]},
    )
    w = api.get(
        f"/v1/guarantee/enterprises/{ranking[0]}/waiver", headers=admin, params={"year": period + 1}
    ).json()
    assert w["basis"]["model_version"] == model["version"]


def test_fee_quote_with_rate_history_and_waiver(
    api: TestClient, admin: dict[str, str], ranked_101: Ranked
) -> None:
    ranking, year = ranked_101.usccs, ranked_101.waiver_year
    assert (
        api.post(
            "/v1/admin/fee-rates", headers=admin, json={"effective_year": year, "rate": "0.0150"}
        ).status_code
        == 201
    )
    assert (
        api.post(
            "/v1/admin/fee-rates",
            headers=admin,
            json={"effective_year": year, "rate": "0.0120", "note": "corrected"},
        ).status_code
        == 201
    )
    waived = api.post(
        "/v1/guarantee/quotes",
        headers=admin,
        json={"uscc": ranking[0], "amount": "2850000.00", "term_months": 12, "year": year},
    ).json()
    assert (waived["fee_rate"], waived["fee"], waived["waived"], waived["payable_fee"]) == (
        "0.0120",
        "34200.00",
        True,
        "0.00",
    )
    paying = api.post(
        "/v1/guarantee/quotes",
        headers=admin,
        json={"uscc": ranking[100], "amount": "2850000.00", "term_months": 7, "year": year},
    ).json()
    assert (paying["fee"], paying["payable_fee"], paying["waived"]) == (
        "19950.00",
        "19950.00",
        False,
    )
    history = api.get("/v1/guarantee/fee-rates", headers=admin).json()["items"]
    assert [h["rate"] for h in history if h["effective_year"] == year][:2] == ["0.0120", "0.0150"]
    bad = api.post(
        "/v1/guarantee/quotes",
        headers=admin,
        json={"uscc": ranking[0], "amount": 2850000.0, "term_months": 12},
    )
    assert bad.status_code == 422


# ---------------------------------------------------------------- export


def _pull(
    api: TestClient,
    token: str,
    since: str | None = None,
    accept: str = "application/x-ndjson",
    limit: int | None = None,
) -> tuple[list[dict[str, Any]], str]:
    params: dict[str, Any] = {}
    if since:
        params["since"] = since
    if limit:
        params["limit"] = limit
    r = api.get(
        "/v1/guarantee/features", headers={**bearer(token), "Accept": accept}, params=params
    )
    assert r.status_code == 200, r.text
    lines = [json.loads(line) for line in r.text.splitlines() if line]
    assert lines[-1] == {"next_cursor": r.headers["x-next-cursor"]}
    return lines[:-1], r.headers["x-next-cursor"]


def _consent(
    api: TestClient, admin: dict[str, str], uscc: str, firm: str, expires_at: str | None = None
) -> str:
    body = {
        "uscc": uscc,
        "firm_code": firm,
        "evidence_ref": "授权书-2026-001",
        "granted_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
    }
    if expires_at:
        body["expires_at"] = expires_at
    r = api.post("/v1/admin/consents", headers=admin, json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_export_full_incremental_tombstones_isolation_and_replay(
    api: TestClient,
    admin: dict[str, str],
    make_client: Callable[..., Creds],
    db: sessionmaker[Session],
    period: int,
) -> None:
    suffix = uuid.uuid4().hex[:6].upper()
    firm_a, firm_b = f"CRA_{suffix}", f"CRB_{suffix}"
    token_a = get_token(api, make_client("credit_firm", name="甲征信", firm_code=firm_a))
    token_b = get_token(api, make_client("credit_firm", name="乙征信", firm_code=firm_b))
    e1, e2, e3 = _ranked(api, admin, period, 3)
    # Everything before these consents is history the firms start from.
    _, start_a = _pull(api, token_a)
    _, start_b = _pull(api, token_b)

    c1 = _consent(api, admin, e1, firm_a)
    _consent(api, admin, e2, firm_a)
    _consent(api, admin, e2, firm_b)  # overlapping: e2 shared with both firms
    rows_a, cursor_a = _pull(api, token_a, start_a)
    assert sorted(r["uscc"] for r in rows_a) == sorted([e1, e2])
    assert all(r["feature_schema_version"] == "1.0" and r["deleted"] is False for r in rows_a)
    row1 = next(r for r in rows_a if r["uscc"] == e1)
    assert row1["period"] == period
    assert row1["model_version"] == "TZ-2025.1"
    assert {
        "points",
        "rank",
        "rank_total",
        "percentile",
        "points_invention_patents",
        "is_high_tech",
        "growth_stage",
        "txb_waived",
    } <= set(row1)
    rows_b, cursor_b = _pull(api, token_b, start_b)
    assert [r["uscc"] for r in rows_b] == [e2]  # never e1 or e3

    replay, replay_cursor = _pull(api, token_a, start_a)
    assert replay == rows_a
    assert replay_cursor == cursor_a
    nothing, same = _pull(api, token_a, cursor_a)
    assert nothing == []
    assert same == cursor_a

    # A recompute changes e1, e2, e3: firm A gets e1 and e2 once, firm B only e2.
    api.post(f"/v1/admin/points/{period}/recompute", headers=admin, json=MODEL)
    again_a, cursor_a = _pull(api, token_a, cursor_a)
    assert sorted(r["uscc"] for r in again_a) == sorted([e1, e2])
    again_b, cursor_b = _pull(api, token_b, cursor_b)
    assert [r["uscc"] for r in again_b] == [e2]

    # Revocation: a tombstone for firm A only.
    assert api.post(f"/v1/admin/consents/{c1}/revoke", headers=admin).status_code == 200
    assert api.post(f"/v1/admin/consents/{c1}/revoke", headers=admin).status_code == 409
    gone, cursor_a = _pull(api, token_a, cursor_a)
    assert gone == [{"uscc": e1, "deleted": True, "feature_schema_version": "1.0"}]
    assert _pull(api, token_b, cursor_b)[0] == []

    # Expiry: a consent that runs out yields a tombstone, once. The clock is set past the
    # expiry (tokens live 15 minutes, so token_b is still good then).
    soon = clock.now() + timedelta(minutes=1)
    _consent(api, admin, e3, firm_b, expires_at=soon.isoformat())
    granted, cursor_b = _pull(api, token_b, cursor_b)
    assert [r["uscc"] for r in granted] == [e3]
    with clock.frozen_at(soon + timedelta(seconds=1)):
        expired, cursor_b = _pull(api, token_b, cursor_b)
        assert expired == [{"uscc": e3, "deleted": True, "feature_schema_version": "1.0"}]
        assert _pull(api, token_b, cursor_b)[0] == []

    # After a recompute, firm A no longer gets e1 (revoked) and never gets e3.
    api.post(f"/v1/admin/points/{period}/recompute", headers=admin, json=MODEL)
    assert [r["uscc"] for r in _pull(api, token_a, cursor_a)[0]] == [e2]

    # Cursors are bound to their firm and cannot be forged.
    foreign = api.get("/v1/guarantee/features", headers=bearer(token_b), params={"since": cursor_a})
    assert foreign.status_code == 400
    assert foreign.json()["type"].endswith("/problems/invalid-cursor")
    forged = api.get(
        "/v1/guarantee/features", headers=bearer(token_a), params={"since": cursor_a[:-2] + "xx"}
    )
    assert forged.status_code == 400

    with db() as session:
        pulls = session.scalars(select(ExportPull).where(ExportPull.firm_code == firm_a)).all()
    assert len(pulls) >= 6
    assert any(p.rows == 2 for p in pulls)


def test_export_csv_paging_and_roles(
    api: TestClient,
    admin: dict[str, str],
    make_client: Callable[..., Creds],
    bank_token: str,
    period: int,
) -> None:
    firm = "CRC_" + uuid.uuid4().hex[:6].upper()
    token = get_token(api, make_client("credit_firm", name="丙征信", firm_code=firm))
    _, start = _pull(api, token)
    usccs = _ranked(api, admin, period, 5)
    for u in usccs:
        _consent(api, admin, u, firm)
    page1, c1 = _pull(api, token, start, limit=2)
    page2, c2 = _pull(api, token, c1, limit=2)
    page3, c3 = _pull(api, token, c2, limit=2)
    got = [r["uscc"] for r in page1 + page2 + page3]
    assert len(page1) == len(page2) == 2
    assert sorted(got) == sorted(usccs)
    assert len(set(got)) == 5
    r = api.get(
        "/v1/guarantee/features",
        headers={**bearer(token), "Accept": "text/csv"},
        params={"since": start},
    )
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert r.headers["content-type"].startswith("text/csv")
    assert sorted(row["uscc"] for row in table) == sorted(usccs)
    assert r.headers["x-next-cursor"] == c3 or table

    schema = api.get("/v1/guarantee/features/schema", headers=bearer(token)).json()
    names = [f["name"] for f in schema["features"]]
    assert schema["feature_schema_version"] == "1.0"
    assert set(table[0]) == set(names)
    assert all(f["definition"] and f["type"] for f in schema["features"])

    assert api.get("/v1/guarantee/features", headers=bearer(bank_token)).status_code == 403
    admin_export = api.get("/v1/guarantee/features", headers=admin)
    assert admin_export.status_code == 403
    assert api.get("/v1/guarantee/consents", headers=bearer(bank_token)).status_code == 403
    listed = api.get("/v1/guarantee/consents", headers=admin, params={"firm_code": firm}).json()
    assert len(listed["items"]) == 5
    assert all(c["live"] for c in listed["items"])


def test_consent_validation(api: TestClient, admin: dict[str, str]) -> None:
    u = new_uscc()
    base = {
        "uscc": u,
        "firm_code": "CRX",
        "evidence_ref": "x",
        "granted_at": "2026-01-01T00:00:00+08:00",
    }
    assert api.post("/v1/admin/consents", headers=admin, json=base).status_code == 404
    api.put("/v1/admin/enterprises", headers=admin, json=[enterprise(u)])
    for bad in (
        {**base, "expires_at": "2025-12-31T00:00:00+08:00"},
        {**base, "granted_at": "2026-01-01T00:00:00"},
        {**base, "granted_at": "2099-01-01T00:00:00+08:00"},
        {**base, "firm_code": "lower"},
        {**base, "revoked_at": "2026-02-01T00:00:00+08:00"},
    ):
        assert api.post("/v1/admin/consents", headers=admin, json=bad).status_code == 422, bad


def test_export_pulls_appear_in_the_audit_trail(
    api: TestClient, admin: dict[str, str], make_client: Callable[..., Creds]
) -> None:
    firm = "CRD_" + uuid.uuid4().hex[:6].upper()
    token = get_token(api, make_client("credit_firm", name="丁征信", firm_code=firm))
    before = datetime.now(UTC).isoformat()
    r = api.get("/v1/guarantee/features", headers={**bearer(token), "X-Request-ID": "pull-1"})
    assert r.status_code == 200
    trail = api.get(
        "/v1/admin/audit", headers=admin, params={"since": before, "limit": 500}
    ).json()["items"]
    pull = next(e for e in trail if e["source"] == "export-pull" and e["request_id"] == "pull-1")
    assert pull["detail"]["firm_code"] == firm
    assert pull["method"] == "GET"


def test_export_row_values_agree_with_scoring_and_csv_with_ndjson(
    api: TestClient, admin: dict[str, str], make_client: Callable[..., Creds], period: int
) -> None:
    """The database builds the export's rows: each value must be what scoring says, the keys
    in data-dictionary order, and the CSV the same cells as the NDJSON, tombstones included."""
    firm = "CRD_" + uuid.uuid4().hex[:6].upper()
    token = get_token(api, make_client("credit_firm", name="丁征信", firm_code=firm))
    _, start = _pull(api, token)
    usccs = _ranked(api, admin, period, 3)
    api.put(
        "/v1/admin/enterprises",
        headers=admin,
        json=[enterprise(usccs[0], categories=["high_tech", "gazelle"], stage="mature")],
    )
    consents = [_consent(api, admin, u, firm) for u in usccs]
    assert api.post(f"/v1/admin/consents/{consents[2]}/revoke", headers=admin).status_code == 200

    rows, _ = _pull(api, token, start)
    assert [r["uscc"] for r in rows] == usccs  # feed order: consents in the order granted
    names = [
        f["name"]
        for f in api.get("/v1/guarantee/features/schema", headers=admin).json()["features"]
    ]
    for row in rows[:2]:
        assert list(row) == names
        points = api.get(
            f"/v1/scoring/enterprises/{row['uscc']}/points",
            headers=admin,
            params={"period": period},
        ).json()
        for key in ("period", "model_version", "points", "rank", "rank_total", "percentile"):
            assert row[key] == points[key], key
        for item in points["breakdown"]:
            if not item["indicator"].startswith("bonus:"):
                assert Decimal(row[f"points_{item['indicator']}"]) == Decimal(item["points"])
        facts = api.get(f"/v1/scoring/enterprises/{row['uscc']}", headers=admin).json()
        for category in ("tech_sme", "high_tech", "gazelle", "potential_unicorn"):
            assert row[f"is_{category}"] is (category in facts["categories"])
        assert row["growth_stage"] == facts["stage"]
        assert row["txb_waiver_year"] == period + 1
        assert row["txb_waived"] is True  # three ranked: all in the top 100
        assert row["deleted"] is False
    assert rows[0]["is_high_tech"] is True
    assert rows[0]["growth_stage"] == "mature"
    assert rows[2] == {"uscc": usccs[2], "deleted": True, "feature_schema_version": "1.0"}

    r = api.get(
        "/v1/guarantee/features",
        headers={**bearer(token), "Accept": "text/csv"},
        params={"since": start},
    )
    assert r.content.count(b"\r\n") == 4  # header + 3 rows, CRLF
    header, *cells = list(csv.reader(io.StringIO(r.text)))
    assert header == names

    def as_cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    for row, line in zip(rows, cells, strict=True):
        assert line == [as_cell(row.get(name)) for name in names]


def test_rates_and_consent_times_take_only_their_documented_text(
    api: TestClient, admin: dict[str, str]
) -> None:
    """Found by fuzzing: a JSON number was read as a rate (a float) or as a Unix time."""
    before = api.get("/v1/guarantee/fee-rates", headers=admin).json()
    for rate in (0.012, 4.83578635833513e-217, "0.01200", "1", "-0.01", "0.0120 "):
        r = api.post(
            "/v1/admin/fee-rates", headers=admin, json={"effective_year": 2030, "rate": rate}
        )
        assert r.status_code == 422, (rate, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    u = new_uscc()
    api.put("/v1/admin/enterprises", headers=admin, json=[enterprise(u)])
    base = {"uscc": u, "firm_code": "CRX", "evidence_ref": "授权书"}
    for granted_at in (0.5, "0.5", 1700000000, "2026-01-01"):
        r = api.post("/v1/admin/consents", headers=admin, json={**base, "granted_at": granted_at})
        assert r.status_code == 422, (granted_at, r.text)
    assert api.get("/v1/guarantee/fee-rates", headers=admin).json() == before  # nothing written


def test_a_pull_in_progress_does_not_hold_up_feed_writers(db: sessionmaker[Session]) -> None:
    """Found in review: the pull's shared feed lock lasted until its stream ended, so a slow
    download made grants, revocations and recomputes wait — then fail at the lock timeout."""
    with db.begin() as marking:  # what a pull does first, in a transaction of its own
        high = feed.high_water(marking)
    reader = db()
    try:
        reader.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        page = export_page(reader, OneFirm("CRZ_NONE"), 0, 10, high=high)  # before it streams
        held = reader.execute(
            text(
                "SELECT count(*) FROM pg_locks "
                "WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
        ).scalar_one()
        assert held == 0
        with db.begin() as writer:
            writer.execute(text("SET LOCAL lock_timeout = '500ms'"))
            feed.record(writer, [(new_uscc(), "CRZ_NONE", "consent-granted")])
        # The reader's page ends at its mark: the new entry is past it.
        assert export_page(reader, OneFirm("CRZ_NONE"), page.until, 10, high=high).rows == []
    finally:
        reader.close()
