"""Applications by decision deadline (`GET /v1/loans/applications?decision_due=…`) and the
working days an undecided one has waited (`working_days_elapsed`).

The windows are checked as pure functions on known weeks (a Friday, National Day, a make-up
Saturday); the list against PostgreSQL's own reading of each deadline's Asia/Shanghai date,
for a bank and the bureau, paged, as a file, combined with `product_code`; the elapsed days
against the `decision_working_days` a decision made today records."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from services.loans.applications import DueWindow, Elapsed, due_window
from services.loans.calendar import WorkCalendar
from services.loans.models import Application
from services.loans.schedule import work_calendar
from shared.clock import SHANGHAI, today
from tests.factories import A_INDICATORS, Factory, bearer, new_key
from tests.periods import PeriodPool
from tests.test_lists import walk


def _at(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.min, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("on", "overdue", "due_today", "tomorrow"),
    [
        # A Wednesday: Thursday is tomorrow.
        ("2026-11-25", "2026-11-25", ("2026-11-25", "2026-11-26"), ("2026-11-26", "2026-11-27")),
        # A Friday: the weekend and Monday (deadlines fall on working days).
        ("2026-11-27", "2026-11-27", ("2026-11-27", "2026-11-28"), ("2026-11-28", "2026-12-01")),
        # The eve of National Day (1-7 October off): the next working day is Thursday 8 October.
        ("2026-09-30", "2026-09-30", ("2026-09-30", "2026-10-01"), ("2026-10-01", "2026-10-09")),
        # A make-up Saturday is a working day; Sunday is not, Monday is.
        ("2026-10-10", "2026-10-10", ("2026-10-10", "2026-10-11"), ("2026-10-11", "2026-10-13")),
    ],
)
def test_the_windows_are_business_dates(
    on: str, overdue: str, due_today: tuple[str, str], tomorrow: tuple[str, str]
) -> None:
    calendar, day = WorkCalendar(), date.fromisoformat(on)
    assert due_window("overdue", calendar, day) == DueWindow(None, _at(overdue))
    assert due_window("today", calendar, day) == DueWindow(*map(_at, due_today))
    assert due_window("tomorrow", calendar, day) == DueWindow(*map(_at, tomorrow))


def test_elapsed_counts_as_a_decision_would_and_only_while_undecided() -> None:
    loaded: list[int] = []

    def calendar() -> WorkCalendar:
        loaded.append(1)
        return WorkCalendar()

    # Friday 2026-09-25 to Friday 2026-10-09: Monday to Wednesday, National Day, Thursday
    # and Friday.
    elapsed = Elapsed(calendar, date(2026, 10, 9))
    waiting = Application(status="submitted", submitted_date=date(2026, 9, 25))
    assert elapsed(Application(status="approved", submitted_date=date(2026, 9, 25))) is None
    assert elapsed(Application(status="withdrawn", submitted_date=date(2026, 9, 25))) is None
    assert loaded == []  # no calendar read for the decided
    assert elapsed(waiting) == 5  # 28, 29, 30 September, 8 and 9 October
    assert elapsed(Application(status="submitted", submitted_date=date(2026, 10, 9))) == 0
    assert loaded == [1]  # read once


@dataclass(frozen=True)
class Due:
    bank: dict[str, str]
    other: dict[str, str]
    product: str
    second_product: str
    ids: dict[str, str]  # what each application is for → its id
    bank_code: str


# Each undecided application's deadline: days after today, or "next" for the next working day
# and "after" for the day after it; and the window that lists it.
DEADLINES: dict[str, tuple[int | str, str | None]] = {
    "long overdue": (-40, "overdue"),
    "overdue": (-1, "overdue"),
    "today": (0, "today"),
    "today, second product": (0, "today"),
    "tomorrow": ("next", "tomorrow"),
    "later": ("after", None),
}


@pytest.fixture(scope="module")
def due(factory: Factory, periods: PeriodPool, db: sessionmaker[Session]) -> Due:
    bank, other = factory.bank(), factory.bank()
    product, second, other_product = (factory.product(b) for b in (bank, bank, other))
    (uscc,) = factory.ranked(periods.fresh(), [A_INDICATORS])
    month_ago = datetime.now(UTC) - timedelta(days=30)
    ids = {
        name: factory.application(
            bank, second if "second" in name else product, uscc, submitted_at=month_ago
        ).id
        for name in DEADLINES
    }
    ids["decided"] = factory.application(bank, product, uscc, state="approved").id
    ids["other bank"] = factory.application(other, other_product, uscc).id
    day = today()
    with db.begin() as session:
        next_working, _ = work_calendar(session).add_working_days(day, 1)
        moved = {
            **{
                name: day + timedelta(days=shift)
                if isinstance(shift, int)
                else next_working + timedelta(days=int(shift == "after"))
                for name, (shift, _) in DEADLINES.items()
            },
            "decided": day,
            "other bank": day,
        }
        for name, on in moved.items():  # 23:59:59 of the day, as every deadline is
            session.execute(
                text("UPDATE loan_application SET decision_due_at = :at WHERE id = :id"),
                {"at": datetime.combine(on, time(23, 59, 59), tzinfo=SHANGHAI), "id": ids[name]},
            )
    return Due(
        bearer(factory.bank_token(bank)),
        bearer(factory.bank_token(other)),
        product,
        second,
        ids,
        bank,
    )


# PostgreSQL's reading: the Shanghai date of each undecided application's deadline.
EXPECTED = """
    SELECT id::text FROM loan_application
    WHERE status = 'submitted' AND bank_code = ANY(:banks) AND {when}
    ORDER BY decision_due_at, id
"""
LOCAL_DUE = "(decision_due_at AT TIME ZONE 'Asia/Shanghai')::date"
LOCAL_TODAY = "(now() AT TIME ZONE 'Asia/Shanghai')::date"
WHEN = {
    "overdue": f"{LOCAL_DUE} < {LOCAL_TODAY}",
    "today": f"{LOCAL_DUE} = {LOCAL_TODAY}",
    "tomorrow": f"{LOCAL_DUE} > {LOCAL_TODAY} AND {LOCAL_DUE} <= :next_working",
}


def expected(db: sessionmaker[Session], due: str, banks: list[str]) -> list[str]:
    with db.begin() as session:
        next_working, _ = work_calendar(session).add_working_days(today(), 1)
        sql = EXPECTED.format(when=WHEN[due])  # fixed fragments
        found = session.execute(text(sql), {"banks": banks, "next_working": next_working})
        return [row[0] for row in found]


@pytest.fixture(autouse=True)
def _same_day() -> Any:
    """The lists and PostgreSQL read today's date at different instants: not across midnight."""
    day = today()
    yield
    if today() != day:
        pytest.skip("the Asia/Shanghai date changed during the test")


@pytest.mark.parametrize("bucket", ["overdue", "today", "tomorrow"])
def test_a_bank_lists_its_own_undecided_applications_by_deadline(
    api: TestClient, due: Due, db: sessionmaker[Session], bucket: str
) -> None:
    listed = walk(api, "/v1/loans/applications", due.bank, 1, decision_due=bucket)
    mine = expected(db, bucket, [due.bank_code])
    assert [i["id"] for i in listed] == mine
    named = {due.ids[name] for name, (_, listed_in) in DEADLINES.items() if listed_in == bucket}
    assert set(mine) == named  # PostgreSQL reads the fixture's deadlines as meant
    assert due.ids["decided"] not in mine
    assert all(i["status"] == "submitted" for i in listed)
    assert all(i["working_days_elapsed"] is not None for i in listed)
    deadlines = [i["decision_due_at"] for i in listed]
    assert deadlines == sorted(deadlines)


def test_the_bureau_sees_every_banks_and_a_bank_none_of_anothers(
    api: TestClient, due: Due, factory: Factory
) -> None:
    bureau = bearer(factory.token("bureau"))
    everyone = walk(api, "/v1/loans/applications", bureau, 500, decision_due="today")
    ids = [i["id"] for i in everyone]
    assert {due.ids["today"], due.ids["other bank"]} <= set(ids)
    others = walk(api, "/v1/loans/applications", due.other, 500, decision_due="today")
    assert [i["id"] for i in others] == [due.ids["other bank"]]


def test_decision_due_combines_with_product_code_and_status(api: TestClient, due: Due) -> None:
    def ids(**params: Any) -> list[str]:
        return [i["id"] for i in walk(api, "/v1/loans/applications", due.bank, 50, **params)]

    assert ids(decision_due="today", product_code=due.second_product) == [
        due.ids["today, second product"]
    ]
    assert set(ids(decision_due="today", status="submitted")) == {
        due.ids["today"],
        due.ids["today, second product"],
    }
    assert ids(decision_due="today", status="approved") == []  # undecided only


def test_a_cursor_of_one_window_is_no_good_for_another(api: TestClient, due: Due) -> None:
    first = api.get(
        "/v1/loans/applications", headers=due.bank, params={"decision_due": "overdue", "limit": 1}
    ).json()
    assert first["next_cursor"]
    for params in ({"decision_due": "today"}, {}):
        r = api.get(
            "/v1/loans/applications",
            headers=due.bank,
            params={**params, "cursor": first["next_cursor"]},
        )
        assert r.status_code == 400, r.text
        assert r.json()["type"].endswith("/problems/invalid-cursor")


@pytest.mark.parametrize("value", ["yesterday", "OVERDUE", ""])
def test_an_unknown_window_is_a_422_problem(api: TestClient, due: Due, value: str) -> None:
    r = api.get("/v1/loans/applications", headers=due.bank, params={"decision_due": value})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["loc"] == ["query", "decision_due"]


def test_the_window_as_a_file_is_the_same_list(api: TestClient, due: Due) -> None:
    pages = walk(api, "/v1/loans/applications", due.bank, 1, decision_due="overdue")
    r = api.get(
        "/v1/loans/applications",
        headers={**due.bank, "Accept": "text/csv"},
        params={"decision_due": "overdue"},
    )
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["id"] for row in rows] == [i["id"] for i in pages]
    assert [row["working_days_elapsed"] for row in rows] == [
        str(i["working_days_elapsed"]) for i in pages
    ]


def test_elapsed_is_what_a_decision_today_records(api: TestClient, due: Due) -> None:
    url = f"/v1/loans/applications/{due.ids['later']}"
    waiting = api.get(url, headers=due.bank).json()
    assert waiting["working_days_elapsed"] > 0  # submitted a month ago
    assert waiting["decision_working_days"] is None
    r = api.post(
        f"{url}/decision",
        headers={**due.bank, "Idempotency-Key": new_key()},
        json={"outcome": "rejected", "reason_codes": ["risk"]},
    )
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["decision_working_days"] == waiting["working_days_elapsed"]
    assert decided["working_days_elapsed"] is None
