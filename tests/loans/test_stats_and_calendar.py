"""Statistics (JSON and CSV, bank-scoped) and the calendar endpoints."""

from __future__ import annotations

import csv
import io
import subprocess
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient

from shared.as_of import Versions
from shared.clock import frozen_at
from tests.factories import Creds, bearer, get_token, new_key
from tests.loans.world import World, application
from tests.processes import INNOCREDIT


def _decide(api: TestClient, w: World, app_id: str, outcome: str, decided_at: str) -> None:
    body: dict[str, object] = {"outcome": outcome, "reason_codes": [], "decided_at": decided_at}
    if outcome == "approved":
        body |= {"approved_amount": "1000000.00", "annual_rate": "0.0400"}
    r = api.post(f"/v1/loans/applications/{app_id}/decision", headers=w.a(new_key()), json=body)
    assert r.status_code == 200, r.text


def test_stats_count_money_and_deadlines_exactly(api: TestClient, world: World) -> None:
    day = "2025-03-"  # a month nobody else uses
    made = []
    for n in range(4):
        r = api.post(
            "/v1/loans/applications",
            headers=world.a(new_key()),
            json=application(world, amount="1000000.00", submitted_at=f"{day}1{n}T10:00:00+08:00"),
        )
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    _decide(api, world, made[0], "approved", f"{day}11T10:00:00+08:00")  # 1 day, on time
    _decide(api, world, made[1], "approved", f"{day}18T10:00:00+08:00")  # late
    _decide(api, world, made[2], "rejected", f"{day}13T10:00:00+08:00")
    api.post(
        f"/v1/loans/applications/{made[0]}/disbursements",
        headers=world.a(new_key()),
        json={"amount": "999999.99", "disbursed_at": f"{day}12T10:00:00+08:00", "reference": "S1"},
    )
    params = {"from": f"{day}01", "to": f"{day}31", "group_by": "bank"}
    stats = api.get("/v1/loans/stats", headers=bearer(world.bureau), params=params).json()
    row = next(g for g in stats["groups"] if g["group"] == world.bank_a)
    assert row["applications"] == 4
    assert row["approved"] == 2
    assert row["rejected"] == 1
    assert row["decided"] == 3
    assert row["disbursed_count"] == 1
    assert row["disbursed_amount"] == "999999.99"
    assert row["on_time_rate"] == round(2 / 3, 4)
    assert row["decision_overdue_count"] == 1  # the undecided one, long past due
    assert Decimal(stats["total"]["disbursed_amount"]) >= Decimal("999999.99")

    own = api.get("/v1/loans/stats", headers=world.b(), params=params).json()
    assert own["bank_code"] == world.bank_b
    assert all(g["group"] == world.bank_b for g in own["groups"])
    assert own["total"]["applications"] == 0

    as_csv = api.get(
        "/v1/loans/stats",
        headers={**bearer(world.bureau), "Accept": "text/csv"},
        params={**params, "group_by": "month"},
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert rows[-1]["group"] == "TOTAL"
    assert any(r["group"] == "2025-03" for r in rows)

    bad = api.get(
        "/v1/loans/stats",
        headers=bearer(world.bureau),
        params={"from": "2025-03-31", "to": "2025-03-01"},
    )
    assert bad.status_code == 422
    firm = api.get(
        "/v1/loans/stats", headers=bearer(world.admin), params={**params, "group_by": "nonsense"}
    )
    assert firm.status_code == 422


def test_calendar_sources_and_deadline_endpoint(api: TestClient, world: World) -> None:
    c2026 = api.get("/v1/loans/calendar/2026", headers=world.a()).json()
    assert c2026["source"] == "bundled"
    assert "2026-10-10" in c2026["make_up_workdays"]
    assert api.get("/v1/loans/calendar/2099", headers=world.a()).json()["source"] == "statutory"
    assert api.get("/v1/loans/calendar/2000", headers=world.a()).json()["source"] == "weekdays"
    d = api.get(
        "/v1/loans/deadline",
        headers=world.a(),
        params={"submitted_at": "2026-11-20T10:00:00+08:00"},
    ).json()
    assert d == {
        "submitted_at": "2026-11-20T02:00:00Z",
        "submitted_date": "2026-11-20",
        "due_at": "2026-11-24T15:59:59Z",
        "provisional": False,
        "versions": {
            **dict.fromkeys(Versions.model_fields),
            "calendar": [{"year": 2026, "source": "bundled", "loaded_at": None}],
        },
    }
    naive = api.get(
        "/v1/loans/deadline", headers=world.a(), params={"submitted_at": "2026-11-20T10:00:00"}
    )
    assert naive.status_code == 422


def _deadline(api: TestClient, w: World, submitted_at: str) -> tuple[str, bool]:
    r = api.get("/v1/loans/deadline", headers=w.a(), params={"submitted_at": submitted_at})
    assert r.status_code == 200, r.text
    return r.json()["due_at"], r.json()["provisional"]


def test_a_provisional_year_knows_its_statutory_holidays(
    api: TestClient, world: World, make_client: Callable[..., Creds]
) -> None:
    c2027 = api.get("/v1/loans/calendar/2027", headers=world.a()).json()
    assert c2027 == {
        "year": 2027,
        "source": "statutory",
        "holidays": [
            "2027-01-01",
            *(f"2027-02-0{d}" for d in (5, 6, 7, 8)),  # 除夕, 初一–初三
            "2027-04-05",
            "2027-05-01",
            "2027-05-02",
            "2027-06-09",
            "2027-09-15",
            "2027-10-01",
            "2027-10-02",
            "2027-10-03",
        ],
        "make_up_workdays": [],  # unknown until the State Council's notice is loaded
    }
    # Thursday 31 December → Tuesday 5 January: New Year's Day is off, the weekend too.
    assert _deadline(api, world, "2026-12-31T10:00:00+08:00") == (
        "2027-01-05T15:59:59Z",
        True,
    )
    # Thursday 4 February → Wednesday 10 February: 除夕 (Friday) to 初三 (Monday) are off.
    assert _deadline(api, world, "2027-02-04T10:00:00+08:00") == (
        "2027-02-10T15:59:59Z",
        True,
    )
    # An application submitted on the last Thursday of 2026 gets the same deadline.
    with frozen_at(datetime.fromisoformat("2026-12-31T10:00:00+08:00")):
        token = get_token(api, make_client("bank", name="泰州银行", bank_code=world.bank_a))
        r = api.post(
            "/v1/loans/applications",
            headers={**bearer(token), "Idempotency-Key": new_key()},
            json=application(world),
        )
    assert r.status_code == 201, r.text
    assert (r.json()["decision_due_at"], r.json()["deadline_provisional"]) == (
        "2027-01-05T15:59:59Z",
        True,
    )


def test_a_loaded_year_replaces_its_statutory_holidays_completely(
    api: TestClient, world: World
) -> None:
    # Tuesday 31 December 2097: 1 January 2098 (a Wednesday) is statutory, so Friday the 3rd.
    assert api.get("/v1/loans/calendar/2098", headers=world.a()).json()["source"] == "statutory"
    assert _deadline(api, world, "2097-12-31T10:00:00+08:00") == (
        "2098-01-03T15:59:59Z",
        True,
    )
    loaded = api.put(
        "/v1/admin/calendar/2098",
        headers=bearer(world.admin),
        json={"holidays": ["2098-10-01"], "make_up_workdays": []},
    )
    assert loaded.status_code == 200, loaded.text
    got = api.get("/v1/loans/calendar/2098", headers=world.a()).json()
    assert (got["source"], got["holidays"]) == ("loaded", ["2098-10-01"])
    assert _deadline(api, world, "2097-12-31T10:00:00+08:00") == (
        "2098-01-02T15:59:59Z",
        False,
    )


def test_loading_a_year_makes_open_provisional_deadlines_exact(
    api: TestClient, world: World
) -> None:
    # 2003 is before what chinese-calendar knows: weekdays only, provisional.
    r = api.post(
        "/v1/loans/applications",
        headers=world.a(new_key()),
        json=application(world, submitted_at="2003-09-30T10:00:00+08:00"),
    )
    assert r.status_code == 201, r.text
    app = r.json()
    assert app["deadline_provisional"] is True
    assert app["decision_due_at"] == "2003-10-02T15:59:59Z"
    bad = api.put(
        "/v1/admin/calendar/2003",
        headers=bearer(world.admin),
        json={"holidays": ["2003-10-01", "2004-01-01"], "make_up_workdays": []},
    )
    assert bad.status_code == 422
    loaded = api.put(
        "/v1/admin/calendar/2003",
        headers=bearer(world.admin),
        json={
            "holidays": [f"2003-10-0{d}" for d in range(1, 8)],
            "make_up_workdays": ["2003-09-27", "2003-09-28"],
        },
    )
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["recomputed_applications"] >= 1
    after = api.get(f"/v1/loans/applications/{app['id']}", headers=world.a()).json()
    assert after["deadline_provisional"] is False
    assert after["decision_due_at"] == "2003-10-09T15:59:59Z"
    events = api.get(f"/v1/loans/applications/{app['id']}/events", headers=world.a()).json()[
        "items"
    ]
    assert events[-1]["type"] == "deadline-recomputed"
    assert api.get("/v1/loans/calendar/2003", headers=world.a()).json()["source"] == "loaded"
    denied = api.put(
        "/v1/admin/calendar/2003", headers=world.a(), json={"holidays": [], "make_up_workdays": []}
    )
    assert denied.status_code == 403


def test_calendar_upload_as_csv_and_from_the_cli(
    api: TestClient, world: World, database_url: str, tmp_path: Path
) -> None:
    csv_body = "\ufeffdate,kind\n2002-10-01,holiday\n2002-10-02,holiday\n2002-09-28,workday\n"
    r = api.put(
        "/v1/admin/calendar/2002",
        headers={**bearer(world.admin), "Content-Type": "text/csv"},
        content=csv_body.encode(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["holidays"] == ["2002-10-01", "2002-10-02"]
    assert r.json()["make_up_workdays"] == ["2002-09-28"]
    bad = api.put(
        "/v1/admin/calendar/2002",
        headers={**bearer(world.admin), "Content-Type": "text/csv"},
        content=b"date,kind\n2002-13-01,holiday\n2002-10-03,vacation\n",
    )
    assert bad.status_code == 422
    assert {e["loc"][1] for e in bad.json()["errors"]} == {1, 2}

    schedule = tmp_path / "2001.csv"
    schedule.write_text("date,kind\n2001-10-01,holiday\n2001-09-29,workday\n", encoding="utf-8")
    done = subprocess.run(
        [*INNOCREDIT, "calendar", "load", str(schedule)],
        # The direct load; tests/governance/ proposes one with four eyes on.
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin", "INNOCREDIT_FOUR_EYES": "none"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "calendar 2001 loaded" in done.stdout
    got = api.get("/v1/loans/calendar/2001", headers=world.a()).json()
    assert got == {
        "year": 2001,
        "source": "loaded",
        "holidays": ["2001-10-01"],
        "make_up_workdays": ["2001-09-29"],
    }
