"""The statistics' rollups equal the bare aggregate of `loan_application` after every kind of
write: the lifecycle through the API, concurrent submissions and decisions on a real server,
a rolled-back transaction, a calendar reload, operators' bulk UPDATE and DELETE, and the
migrations' backfill of a database that already has applications. The median comes from the
decision days' histogram (migration 0011), and is held to `percentile_cont(0.5)` over the
applications."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bench import loans as bench_loans
from services.loans import stats
from shared import migrate
from shared.auth.tenancy import AllBanks, BankVisibility, OneBank
from shared.db import make_engine, make_sessionmaker
from tests.factories import bearer, new_key
from tests.loans.world import World, application

EVER = (date(2000, 1, 1), date(2100, 12, 31))

# What the endpoint computed before the rollup: one scan of the applications (the reference).
REFERENCE = """
    SELECT {group} AS grp,
           count(*) AS applications,
           count(approved_amount) AS approved,
           count(*) FILTER (WHERE status = 'rejected') AS rejected,
           count(*) FILTER (WHERE status = 'withdrawn') AS withdrawn,
           count(decided_at) AS decided,
           count(*) FILTER (WHERE disbursed_count > 0) AS disbursed_count,
           coalesce(sum(disbursed_total), 0) AS disbursed_amount,
           coalesce(sum(decision_working_days), 0) AS days_sum,
           count(decision_working_days) AS days_n,
           count(*) FILTER (WHERE on_time) AS on_time_n,
           count(on_time) AS on_time_of,
           count(*) FILTER (WHERE status = 'overdue') AS overdue_count,
           count(*) FILTER (WHERE status = 'submitted' AND decision_due_at < now())
               AS decision_overdue_count,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY decision_working_days) AS median,
           count(approved_amount)::float8 / nullif(count(decided_at), 0) AS approval_ratio
    FROM loan_application
    WHERE submitted_date BETWEEN :from_date AND :to_date {bank}
    {grouping}
"""
COLUMNS = {
    "bank": "bank_code",
    "product": "product_code",
    "district": "district",
    "industry": "industry",
    "stage": "stage",
    "month": "to_char(submitted_date, 'YYYY-MM')",
}

# The rollup's rows as a GROUP BY of the table would make them (no row counts zero).
TABLE_REFERENCE = """
    SELECT submitted_date, bank_code, product_code, d.dimension, d.value,
           count(*), count(approved_amount), count(*) FILTER (WHERE status = 'rejected'),
           count(*) FILTER (WHERE status = 'withdrawn'), count(decided_at),
           count(*) FILTER (WHERE disbursed_count > 0), sum(disbursed_total),
           coalesce(sum(decision_working_days), 0), count(decision_working_days),
           count(*) FILTER (WHERE on_time), count(on_time),
           count(*) FILTER (WHERE status = 'overdue'),
           count(*) FILTER (WHERE status = 'submitted')
    FROM loan_application CROSS JOIN LATERAL (VALUES ('none', ''), ('district', district),
        ('industry', industry), ('stage', stage)) AS d(dimension, value)
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
"""
TABLE = """
    SELECT day, bank_code, product_code, dimension, value, applications, approved, rejected,
           withdrawn, decided, disbursed_count, disbursed_amount, days_sum, days_n, on_time_n,
           on_time_of, overdue_count, awaiting_decision
    FROM loan_stats_day ORDER BY 1, 2, 3, 4, 5
"""

# The decision days' histogram as a GROUP BY of the table would make it.
DAYS_REFERENCE = """
    SELECT submitted_date, bank_code, product_code, d.dimension, d.value,
           decision_working_days, count(*)
    FROM loan_application CROSS JOIN LATERAL (VALUES ('none', ''), ('district', district),
        ('industry', industry), ('stage', stage)) AS d(dimension, value)
    WHERE decision_working_days IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
"""
DAYS = """
    SELECT day, bank_code, product_code, dimension, value, working_days, decided
    FROM loan_stats_decision_days ORDER BY 1, 2, 3, 4, 5, 6
"""


def reference(
    session: Session, seen: BankVisibility, span: tuple[date, date], group_by: str | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The figures `stats.stats` must return, from the bare aggregate."""
    bank, tenant = (
        ("AND bank_code = :bank", {"bank": seen.code}) if isinstance(seen, OneBank) else ("", {})
    )
    column = COLUMNS[group_by] if group_by else "NULL"
    grouping = f"GROUP BY {column} ORDER BY {column}" if group_by else ""
    sql = REFERENCE.format(group=column, bank=bank, grouping=grouping)
    params = {"from_date": span[0], "to_date": span[1], **tenant}
    raw = [dict(r._mapping) for r in session.execute(text(sql), params)]
    rows = [_row(r) for r in raw if r["applications"]] if group_by else []
    # The total's own aggregate (a median is no sum of the groups').
    whole = REFERENCE.format(group="NULL", bank=bank, grouping="")
    return rows, _row(dict(session.execute(text(whole), params).one()._mapping))


def _row(aggregate: dict[str, Any]) -> dict[str, Any]:
    """A reference row as the endpoint shows it; its approval rate from the SQL's own ratio."""
    ratio = aggregate["approval_ratio"]
    return {
        **stats._stats_row(aggregate),
        "approval_rate": None if ratio is None else round(ratio, 4),
    }


def assert_tables(db: sessionmaker[Session], *, days: bool = True) -> None:
    """The rollup table (and, with `days`, the decision days' histogram) equals its GROUP BY."""
    with db.begin() as session:
        assert [tuple(r) for r in session.execute(text(TABLE))] == [
            tuple(r) for r in session.execute(text(TABLE_REFERENCE))
        ]
        if days:
            assert [tuple(r) for r in session.execute(text(DAYS))] == [
                tuple(r) for r in session.execute(text(DAYS_REFERENCE))
            ]


def assert_exact(db: sessionmaker[Session], *banks: str) -> None:
    """The rollup tables equal their GROUP BY, and every stats call (each group_by and the
    total, every bank's and each of `banks`', over all time and over one month) equals the
    bare aggregate — the median `percentile_cont(0.5)`, the approval rate approved / decided."""
    assert_tables(db)
    spans = (EVER, (date.today().replace(day=1), date.today()))
    seens: list[BankVisibility] = [AllBanks(), *(OneBank(b) for b in banks)]
    for seen in seens:
        for span in spans:
            for group_by in (None, *stats.GROUPS):
                with db.begin() as session:
                    mine = stats.stats(
                        session, seen, from_date=span[0], to_date=span[1], group_by=group_by
                    )
                    expected = reference(session, seen, span, group_by)
                assert mine == expected, (seen, span, group_by)


def _submit(api: TestClient, w: World, **overrides: object) -> str:
    r = api.post("/v1/loans/applications", headers=w.a(new_key()), json=application(w, **overrides))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _call(api: TestClient, w: World, app_id: str, what: str, body: object) -> None:
    r = api.post(f"/v1/loans/applications/{app_id}/{what}", headers=w.a(new_key()), json=body)
    assert r.status_code in (200, 201), r.text


APPROVE = {"outcome": "approved", "approved_amount": "2000000.00", "annual_rate": "0.0400"}


def test_the_lifecycle_keeps_the_rollup_exact(
    api: TestClient, world: World, db: sessionmaker[Session]
) -> None:
    late = _submit(api, world, submitted_at="2025-02-10T10:00:00+08:00")  # long past due
    assert_exact(db, world.bank_a)
    now = _submit(api, world)  # its deadline still ahead: not decision-overdue
    assert_exact(db, world.bank_a)
    approved = _submit(api, world, submitted_at="2025-02-11T09:00:00+08:00")
    _call(api, world, approved, "decision", {**APPROVE, "decided_at": "2025-02-12T10:00:00+08:00"})
    assert_exact(db, world.bank_a)
    _call(
        api,
        world,
        approved,
        "disbursements",
        {"amount": "1500000.00", "disbursed_at": "2025-02-13T10:00:00+08:00", "reference": "R1"},
    )
    _call(
        api,
        world,
        approved,
        "disbursements",
        {"amount": "0.01", "disbursed_at": "2025-02-14T10:00:00+08:00", "reference": "R2"},
    )
    assert_exact(db, world.bank_a)
    for status in ("current", "overdue", "repaid"):
        _call(
            api,
            world,
            approved,
            "repayment-status",
            {"status": status, "outstanding_principal": "0.00", "as_of": "2025-06-30"},
        )
        assert_exact(db, world.bank_a)
    rejected = _submit(api, world, submitted_at="2025-02-11T11:00:00+08:00")
    _call(
        api,
        world,
        rejected,
        "decision",
        {
            "outcome": "rejected",
            "reason_codes": ["low-points"],
            "decided_at": "2025-02-20T10:00:00+08:00",
        },
    )
    _call(api, world, late, "withdraw", {})
    _call(api, world, now, "withdraw", {})
    assert_exact(db, world.bank_a, world.bank_b)


def test_concurrent_submissions_and_decisions_keep_the_rollup_exact(
    live_url: str, world: World, db: sessionmaker[Session]
) -> None:
    """Sixteen threads submit to one product on one day (the same rollup rows), then decide
    all of them at once: every request succeeds (no deadlock), the figures are exact."""

    def post(path: str, body: object) -> httpx.Response:
        with httpx.Client(timeout=60) as client:
            return client.post(f"{live_url}{path}", headers=world.a(new_key()), json=body)

    body = application(world, submitted_at="2025-04-08T10:00:00+08:00")
    with ThreadPoolExecutor(max_workers=16) as pool:
        made = list(pool.map(lambda _: post("/v1/loans/applications", body), range(16)))
    assert [r.status_code for r in made] == [201] * 16, [r.text for r in made]
    decisions = [APPROVE if n % 2 else {"outcome": "rejected"} for n in range(16)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        decided = list(
            pool.map(
                lambda pair: post(
                    f"/v1/loans/applications/{pair[0].json()['id']}/decision",
                    {**pair[1], "decided_at": "2025-04-09T10:00:00+08:00"},
                ),
                zip(made, decisions, strict=True),
            )
        )
    assert [r.status_code for r in decided] == [200] * 16, [r.text for r in decided]
    assert_exact(db, world.bank_a)


def test_a_rolled_back_write_leaves_the_rollup_as_it_was(
    api: TestClient, world: World, db: sessionmaker[Session]
) -> None:
    app_id = _submit(api, world, submitted_at="2025-05-06T10:00:00+08:00")
    with db.begin() as session:
        before = [tuple(r) for r in session.execute(text(TABLE))]
    session = db()
    try:
        session.execute(
            text(
                "UPDATE loan_application SET status = 'rejected', decided_at = now() WHERE id = :id"
            ),
            {"id": app_id},
        )
        session.execute(
            text(
                "INSERT INTO loan_application SELECT (md5(random()::text))::uuid, bank_code, "
                "product_code, uscc, amount, term_months, status, submitted_at, submitted_date"
                " + 1, decision_due_at, deadline_provisional, points_snapshot, rank_snapshot,"
                " rank_total_snapshot, model_version_snapshot, period_snapshot,"
                " max_amount_snapshot, district, industry, stage, guarantee_fee,"
                " approved_amount, annual_rate, decided_term_months, reason_codes, decided_at,"
                " decision_working_days, on_time, disbursed_total, disbursed_count,"
                " outstanding_principal, repayment_as_of, version, created_by, created_at,"
                " updated_at FROM loan_application WHERE id = :id"
            ),
            {"id": app_id},
        )
        changed = [tuple(r) for r in session.execute(text(TABLE))]
        assert changed != before  # the triggers did count it, inside the transaction
        session.rollback()
    finally:
        session.close()
    with db.begin() as session:
        assert [tuple(r) for r in session.execute(text(TABLE))] == before
    assert_exact(db, world.bank_a)


def test_a_calendar_reload_keeps_the_figures_exact(
    api: TestClient, world: World, db: sessionmaker[Session]
) -> None:
    """A reload moves the deadlines of open provisional applications (2002: before what
    chinese-calendar knows): the overdue-decision count follows them."""
    _submit(api, world, submitted_at="2002-09-30T10:00:00+08:00")
    assert_exact(db, world.bank_a)
    loaded = api.put(
        "/v1/admin/calendar/2002",
        headers=bearer(world.admin),
        json={"holidays": [f"2002-10-0{d}" for d in range(1, 8)], "make_up_workdays": []},
    )
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["recomputed_applications"] >= 1
    assert_exact(db, world.bank_a)


def test_bulk_update_and_delete_keep_the_rollup_exact(
    api: TestClient, world: World, db: sessionmaker[Session]
) -> None:
    """An operator's statements: many rows changed at once, some moved to another district
    and day, then deleted (their rollup rows go when they count nothing)."""
    made = [
        _submit(api, world, submitted_at=f"2025-07-{d:02d}T10:00:00+08:00") for d in (1, 1, 2, 3)
    ]
    with db.begin() as session:
        session.execute(
            text(
                "UPDATE loan_application SET status = 'rejected', decided_at = submitted_at, "
                "decision_working_days = 0, on_time = true WHERE id = ANY(:ids)"
            ),
            {"ids": made[:3]},
        )
    assert_exact(db, world.bank_a)
    with db.begin() as session:
        session.execute(
            text(
                "UPDATE loan_application SET district = '兴化市', "
                "submitted_date = submitted_date + 40 WHERE id = ANY(:ids)"
            ),
            {"ids": made},
        )
    assert_exact(db, world.bank_a)
    with db.begin() as session:
        empty = (
            "SELECT count(*) FROM loan_stats_day WHERE day BETWEEN '2025-08-10' AND '2025-08-12'"
        )
        assert session.execute(text(empty)).scalar_one() > 0
        for table in ("loan_application_event", "loan_disbursement"):
            session.execute(
                text(f"DELETE FROM {table} WHERE application_id = ANY(:ids)"),  # noqa: S608
                {"ids": made},
            )
        session.execute(text("DELETE FROM loan_application WHERE id = ANY(:ids)"), {"ids": made})
        assert session.execute(text(empty)).scalar_one() == 0  # emptied rows deleted
    assert_exact(db, world.bank_a)


def _seed(engine: Engine, applications: int) -> None:
    """The bench's banks and products, and its synthetic applications."""
    with engine.begin() as conn:
        for code, name in bench_loans.BANKS:
            conn.execute(
                text("INSERT INTO loan_bank (code, name) VALUES (:c, :n)"), {"c": code, "n": name}
            )
        for code, bank, name, min_points, _ in bench_loans.PRODUCTS:
            conn.execute(
                text(
                    "INSERT INTO loan_product (code, bank_code, name, min_points, limit_tiers,"
                    " term_min_months, term_max_months, rate_min, rate_max, guarantee,"
                    " active_from) VALUES (:c, :b, :n, :p, '[]', 6, 36, 0.03, 0.06, true,"
                    " '2000-01-01')"
                ),
                {"c": code, "b": bank, "n": name, "p": min_points},
            )
    bench_loans.generate(engine, applications, seed=7)


def test_the_migration_backfills_and_downgrades(new_database: Callable[[], str]) -> None:
    url = new_database()
    migrate.upgrade(url, "0008")
    engine = make_engine(url)
    try:
        _seed(engine, 3000)
        migrate.upgrade(url, "0009")
        db = make_sessionmaker(engine)
        with db.begin() as session:
            assert session.execute(text("SELECT count(*) FROM loan_stats_day")).scalar_one() > 0
        assert_tables(db, days=False)  # the histogram comes with 0011 (the next test)
        migrate.downgrade(url, "0008")
        with engine.begin() as conn:
            assert conn.execute(text("SELECT to_regclass('loan_stats_day')")).scalar() is None
            triggers = "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'loan_stats_day%'"
            assert conn.execute(text(triggers)).scalar_one() == 0
        bench_loans.generate(engine, 500, seed=8)  # written while nothing keeps a rollup
        migrate.upgrade(url, "head")
        assert_exact(db, "TZB")
        with engine.begin() as conn:  # no transition tables for TRUNCATE: its own trigger
            conn.execute(text("TRUNCATE loan_application CASCADE"))
            assert conn.execute(text("SELECT count(*) FROM loan_stats_day")).scalar_one() == 0
            emptied = conn.execute(text("SELECT count(*) FROM loan_stats_decision_days"))
            assert emptied.scalar_one() == 0
    finally:
        engine.dispose()


def test_the_decision_days_migration_backfills_and_downgrades(
    new_database: Callable[[], str],
) -> None:
    """0011 on a database with applications: the histogram is backfilled and kept from then
    on; its downgrade leaves the day rollup (0009) exact and working."""
    url = new_database()
    migrate.upgrade(url, "0010")
    engine = make_engine(url)
    histogram = "SELECT count(*), coalesce(sum(decided), 0) FROM loan_stats_decision_days"
    decided = "SELECT count(decision_working_days) FROM loan_application"
    try:
        _seed(engine, 3000)
        migrate.upgrade(url, "0011")
        db = make_sessionmaker(engine)
        with db.begin() as session:
            rows, counted = session.execute(text(histogram)).one()
            assert rows > 0
            # Each decided application counted once per dimension (none, district, industry,
            # stage).
            assert counted == 4 * session.execute(text(decided)).scalar_one() > 0
        assert_exact(db, "TZB")
        migrate.downgrade(url, "0010")
        with engine.begin() as conn:
            gone = "SELECT to_regclass('loan_stats_decision_days')"
            assert conn.execute(text(gone)).scalar() is None
            triggers = "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'loan_stats_decision%'"
            assert conn.execute(text(triggers)).scalar_one() == 0
        bench_loans.generate(engine, 500, seed=9)  # the day rollup alone keeps counting
        assert_tables(db, days=False)
        migrate.upgrade(url, "head")
        assert_exact(db, "TZB")
    finally:
        engine.dispose()


@pytest.mark.parametrize("group_by", [None, "month"])
def test_an_empty_range_has_zero_figures(db: sessionmaker[Session], group_by: str | None) -> None:
    with db.begin() as session:
        rows, total = stats.stats(
            session,
            AllBanks(),
            from_date=date(1999, 1, 1),
            to_date=date(1999, 12, 31),
            group_by=group_by,
        )
    assert rows == []
    assert total["applications"] == 0
    assert total["avg_decision_working_days"] is None
    assert str(total["disbursed_amount"]) == "0.00"


@pytest.mark.parametrize("seed", range(20))
def test_the_median_of_a_histogram_is_the_median_of_its_values(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.randint(0, 8) for _ in range(rng.randint(1, 40))]
    assert stats.median(Counter(values)) == statistics.median(values)
    assert stats.median({3: 0}) is None
