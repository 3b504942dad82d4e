"""What is kept (migration 0013): the current lookups stay one statement on the points' key,
a published model is immutable in the database, and every change appends a version."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.loans.models import BankVersion, CalendarLoad, ProductVersion
from services.scoring import queries, ranking
from services.scoring.models import EnterpriseVersion
from tests.factories import Factory, enterprise, new_uscc


@contextmanager
def _statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements (with their parameters) executed meanwhile."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _plan(session: Session, statement: str, parameters: Any) -> str:
    """The plan of a statement as a big table would get it (the test's tables are tiny, so
    a sequential scan would win here)."""
    session.execute(text("SET LOCAL enable_seqscan = off"))
    session.execute(text("SET LOCAL enable_bitmapscan = off"))
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute("EXPLAIN " + statement, parameters)
    return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("with_period", [True, False])
def test_the_current_points_lookup_is_one_statement_on_the_key(
    factory: Factory, period: int, db: sessionmaker[Session], engine: Engine, with_period: bool
) -> None:
    usccs = factory.ranked(period, [{"invention_patents": 3}, {"invention_patents": 1}])
    factory.recompute(period)  # a second run: the first one's points stay beside it
    with db() as session, _statements(engine) as seen:
        points, of_period = ranking.points_of(session, usccs[0], period if with_period else None)
        snapshot = queries.current_points(session, usccs[0], period)
    assert (points.run_id, snapshot and snapshot.run_id) == (of_period.run_id, of_period.run_id)
    assert len(seen) == 2  # one each
    with db() as session:
        for statement, parameters in seen:
            assert "pk_sc_points" in _plan(session, statement, parameters)


def test_a_published_model_cannot_be_changed_or_deleted_even_by_sql(
    db: sessionmaker[Session],
) -> None:
    for sql in (
        "UPDATE sc_model SET definition = definition WHERE version = 'TZ-2025.1'",
        "DELETE FROM sc_model WHERE version = 'TZ-2025.1'",
    ):
        with db() as session, pytest.raises(IntegrityError, match="is published"):
            session.execute(text(sql))


def test_a_draft_still_changes(
    api: TestClient, factory: Factory, db: sessionmaker[Session]
) -> None:
    model = api.get("/v1/scoring/models/TZ-2025.1", headers=factory.admin).json()["definition"]
    model["version"] = "TEST-DRAFT-" + new_uscc()[-8:]
    assert api.post("/v1/admin/models", headers=factory.admin, json=model).status_code == 201
    with db() as session:
        changed = session.execute(
            text("UPDATE sc_model SET definition = definition WHERE version = :v"),
            {"v": model["version"]},
        )
        assert changed.rowcount == 1  # type: ignore[attr-defined]
        session.rollback()


def _count(session: Session, column: Any, value: str | int) -> int:
    return int(session.scalar(select(func.count()).where(column == value)) or 0)


def test_every_change_appends_a_version_and_a_repeat_appends_none(
    api: TestClient, factory: Factory, db: sessionmaker[Session]
) -> None:
    bank = factory.bank(name="旧名")
    factory.bank(bank, name="旧名")
    factory.bank(bank, name="新名")
    product = factory.product(bank, min_points=80)
    factory.product(bank, product, min_points=80)
    factory.product(bank, product, min_points=90)
    uscc = new_uscc()
    factory.enterprises([enterprise(uscc, name="甲公司")])
    factory.enterprises([enterprise(uscc, name="甲公司")])
    factory.enterprises([enterprise(uscc, name="乙公司")])
    for holidays in (["2095-10-01"], ["2095-10-01", "2095-10-02"]):
        loaded = api.put(
            "/v1/admin/calendar/2095",
            headers=factory.admin,
            json={"holidays": holidays, "make_up_workdays": []},
        )
        assert loaded.status_code == 200, loaded.text
    with db() as session:
        names = session.scalars(
            select(BankVersion.name).where(BankVersion.code == bank).order_by(BankVersion.id)
        ).all()
        points = session.scalars(
            select(ProductVersion.min_points)
            .where(ProductVersion.code == product)
            .order_by(ProductVersion.id)
        ).all()
        firms = session.scalars(
            select(EnterpriseVersion.name)
            .where(EnterpriseVersion.uscc == uscc)
            .order_by(EnterpriseVersion.id)
        ).all()
        loads = _count(session, CalendarLoad.year, 2095)
    assert (list(names), list(points), list(firms), loads) == (
        ["旧名", "新名"],
        [80, 90],
        ["甲公司", "乙公司"],
        2,
    )
