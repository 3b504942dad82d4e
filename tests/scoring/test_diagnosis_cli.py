"""`innocredit diagnosis render`: a district's documents, each issued with its row and listed
in index.csv; the batch builds for every firm exactly the diagnosis the API answers; a
period without a ranking leaves nothing behind."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.loans.eligibility import product_ladders
from services.scoring.diagnosis_batch import PeriodBook
from services.scoring.documents import grouped
from services.scoring.models import DiagnosisDocument
from services.scoring.paths_read import firm_of, rank_of, rank_threshold
from shared.clock import today
from tests.cli_runner import run_cli
from tests.factories import Factory, bearer, enterprise, indicators, new_uscc
from tests.pdf_tools import text_of

DISTRICTS = ("高港区", "海陵区", "兴化市")


@pytest.fixture(scope="module")
def ranked(factory: Factory, periods: Any) -> tuple[int, dict[str, str]]:
    """40 firms: 30 of one stage and industry (just enough for peers by industry), the rest
    by stage; a previous year for revenue growth. The period, and each firm's district."""
    period = periods.fresh(previous=True)
    usccs = [new_uscc() for _ in range(40)]
    district = {u: DISTRICTS[i % 3] for i, u in enumerate(usccs)}
    rows = [
        enterprise(
            u,
            name=f"批量企业{i}",
            district=district[u],
            industry="health" if i < 30 else "ict",
            stage="growth" if i < 36 else "startup",
            categories=["high_tech"] if i % 4 == 0 else ["tech_sme"],
        )
        for i, u in enumerate(usccs)
    ]
    factory.enterprises(rows)
    factory.indicators(
        period - 1,
        [indicators(u, revenue=f"{10_000_000 + 500_000 * i}.00") for i, u in enumerate(usccs)],
    )
    factory.indicators(
        period,
        [
            indicators(
                u,
                invention_patents=i % 7,
                utility_models=(3 * i) % 5,
                rd_expense=f"{200_000 * (i % 9 + 1)}.00",
                revenue=f"{12_000_000 + 250_000 * (i % 11)}.00",
                rd_staff=i % 6,
                total_staff=30,
                equity_financing=f"{1_000_000 * (i % 3)}.00",
                awards_provincial=i % 2,
            )
            for i, u in enumerate(usccs)
        ],
    )
    factory.recompute(period)
    return period, district


def test_the_batch_builds_the_api_s_diagnosis(
    api: TestClient, admin_token: str, db: sessionmaker[Session], ranked: tuple[int, dict[str, str]]
) -> None:
    period, district = ranked
    with db() as session:
        book = PeriodBook.read(session, period, product_ladders, today())
    assert sorted(book.usccs()) == sorted(district)
    for uscc in district:
        answer = api.get(
            f"/v1/scoring/enterprises/{uscc}/diagnosis",
            params={"period": period},
            headers=bearer(admin_token),
        )
        assert answer.status_code == 200
        assert book.diagnosis(uscc).model_dump(mode="json") == answer.json(), uscc
    assert any(d.peer_group["industry"] for d in map(book.diagnosis, district))


def test_render_a_district(
    tmp_path: Path, database_url: str, db: sessionmaker[Session], ranked: tuple[int, dict[str, str]]
) -> None:
    period, district = ranked
    out = tmp_path / "out"
    ran = run_cli(
        ["diagnosis", "render", "--period", str(period), "--out", str(out),
         "--district", "高港区", "--base-url", "https://innocredit.example"],
        {"DATABASE_URL": database_url},
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    mine = {u for u, d in district.items() if d == "高港区"}
    assert ran.stdout.strip().startswith(f"rendered {len(mine)} documents (高港区) in ")
    files = {p.name for p in out.iterdir()}
    assert files == {"index.csv"} | {f"diagnosis-{period}-{u}.pdf" for u in mine}
    with (out / "index.csv").open(encoding="utf-8") as f:
        index = list(csv.DictReader(f))
    assert [r["uscc"] for r in index] == sorted(
        (r["uscc"] for r in index),
        key=lambda u: int(next(x["rank"] for x in index if x["uscc"] == u)),
    )
    with db() as session:
        rows = {
            r.uscc: r
            for r in session.scalars(
                select(DiagnosisDocument).where(DiagnosisDocument.period == period)
            )
        }
    assert set(rows) == mine
    for line in index:
        row = rows[line["uscc"]]
        pdf = (out / line["file"]).read_bytes()
        assert hashlib.sha256(pdf).hexdigest() == row.sha256 == line["sha256"]
        assert line["code"] == grouped(row.code)
        assert (row.issued_by, row.issued_role, row.issued_to) == (
            "cli",
            "cli",
            "泰州市科学技术局 批量签发",
        )
    text = text_of((out / index[0]["file"]).read_bytes())
    assert f"https://innocredit.example/v1/scoring/diagnosis-documents/{index[0]['code']}" in text
    assert "泰州市科学技术局批量签发" in text


def test_a_period_without_a_ranking_leaves_nothing(
    tmp_path: Path, database_url: str, db: sessionmaker[Session], period: int
) -> None:
    out = tmp_path / "out"
    ran = run_cli(
        ["diagnosis", "render", "--period", str(period), "--out", str(out)],
        {"DATABASE_URL": database_url},
    )
    assert ran.returncode == 1
    assert f"No points have been computed for period {period}" in ran.stderr
    assert list(out.iterdir()) == []
    with db() as session:
        found = session.scalars(
            select(DiagnosisDocument).where(DiagnosisDocument.period == period)
        ).first()
    assert found is None


def test_the_batch_s_run_order_ranks_as_the_database_does(
    db: sessionmaker[Session], ranked: tuple[int, dict[str, str]]
) -> None:
    """The in-memory order the batch's paths use gives the thresholds and ranks the SQL of the
    paths route gives, for every firm, every rank target and totals around each firm's."""
    period, district = ranked
    with db() as session:
        book = PeriodBook.read(session, period, product_ladders, today())
        for uscc in district:
            firm = book.firms[uscc]
            in_memory = firm_of(
                firm.row, firm.points_row, book.ranking, book.model, firm.stage, firm.industry,
                firm.categories, book.order,
            )  # fmt: skip
            by_sql = replace(in_memory, order=None)
            for n in (1, 2, 7, 20, 39, 40, 41):
                assert rank_threshold(session, in_memory, n) == rank_threshold(session, by_sql, n)
            for other in book.firms.values():
                for total in (other.total_exact, other.total_exact + Decimal("0.0001")):
                    assert rank_of(session, in_memory, total) == rank_of(session, by_sql, total)
