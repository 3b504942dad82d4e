"""The what-if report of a draft model (`GET /v1/scoring/models/{version}/impact`) against
what actually happens when it is published: a period and its copy hold the same enterprises
and indicators; the report on the period must equal the copy's recompute under the draft
(every rank), the change of the waiver list and of the products' quotes — while the report
itself writes nothing."""

from __future__ import annotations

import copy
import io
import json
import random
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from services.loans.eligibility import product_shifts
from services.scoring import impact
from shared import clock, vocab
from tests.cli_runner import run_cli
from tests.factories import DEFAULT_MODEL, Factory, bearer, enterprise, indicators, new_uscc
from tests.periods import PeriodPool
from tests.test_files import XLSX

FIRMS = 130  # more than the top 100, so the draft can move firms in and out of it


@dataclass(frozen=True)
class World:
    admin: dict[str, str]
    period: int  # ranked with the default model
    twin: int  # the same enterprises and indicators, also ranked with the default model
    usccs: list[str]
    draft: str  # the default model with the invention patents' weight doubled
    products: list[str]


def _facts(rng: random.Random, uscc: str) -> dict[str, Any]:
    staff = rng.randint(5, 300)
    return indicators(
        uscc,
        invention_patents=rng.choice([0, 0, 1, 2, 3, 5, 8]),
        utility_models=rng.randint(0, 12),
        software_copyrights=rng.randint(0, 8),
        rd_expense=f"{rng.randint(0, 30_000_000)}.00",
        revenue=f"{rng.choice([0, rng.randint(1_000_000, 300_000_000)])}.00",
        rd_staff=rng.randint(0, staff),
        total_staff=staff,
        equity_financing=f"{rng.randint(0, 20_000_000)}.00",
        awards_provincial=rng.choice([0, 0, 1, 2]),
        awards_national=rng.choice([0, 0, 0, 1]),
    )


def _doubled_patents(api: TestClient, admin: dict[str, str]) -> str:
    model = copy.deepcopy(
        api.get(f"/v1/scoring/models/{DEFAULT_MODEL}", headers=admin).json()["definition"]
    )
    model["version"] = "IMPACT-" + uuid.uuid4().hex[:8]
    patents = next(i for i in model["indicators"] if i["indicator"] == "invention_patents")
    patents["weight"] = str(Decimal(patents["weight"]) * 2)
    created = api.post("/v1/admin/models", headers=admin, json=model)
    assert created.status_code == 201, created.text
    return str(model["version"])


@pytest.fixture(scope="module")
def world(factory: Factory, periods: PeriodPool, api: TestClient) -> World:
    rng = random.Random(16)
    period, twin = periods.fresh(following=True), periods.fresh(following=True)
    usccs = [new_uscc() for _ in range(FIRMS)]
    factory.enterprises(
        [
            enterprise(
                u,
                district=rng.choice(vocab.DISTRICTS),
                stage=rng.choice(vocab.STAGES),
                industry=rng.choice(["health", "equipment", "ict"]),
                categories=rng.sample(vocab.CATEGORIES, rng.randint(0, 2)),
            )
            for u in usccs
        ]
    )
    facts = [_facts(rng, u) for u in usccs]
    for year in (period, twin):
        factory.indicators(year, facts)
        factory.recompute(year)
    median = api.get(
        "/v1/scoring/distribution", headers=factory.admin, params={"period": period}
    ).json()["quantiles"]["p50"]
    bank = factory.bank()
    low = int(median)
    products = [
        factory.product(
            bank,
            min_points=low,
            limit_tiers=[
                {"min_points": low, "max_amount": "1000000.00"},
                {"min_points": low + 15, "max_amount": "2000000.00"},
                {"min_points": low + 40, "max_amount": "4000000.00"},
            ],
        ),
        factory.product(bank, min_points=low - 10, eligible_categories=["high_tech"]),
    ]
    return World(factory.admin, period, twin, usccs, _doubled_patents(api, factory.admin), products)


def _report(api: TestClient, world: World, version: str, **params: Any) -> dict[str, Any]:
    response = api.get(
        f"/v1/scoring/models/{version}/impact",
        headers=world.admin,
        params={"period": world.period, **params},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _checksum(db: sessionmaker[Session], world: World) -> tuple[Any, ...]:
    with db() as session:
        return tuple(
            session.execute(
                text(
                    """
                    SELECT (SELECT md5(string_agg(concat_ws(',', period, model_version, uscc,
                                points, total_exact, rank, rank_total, below, run_id), ';'
                                ORDER BY period, model_version, uscc))
                            FROM sc_points WHERE period IN (:p, :t)),
                           (SELECT string_agg(concat_ws(',', period, run_id), ';'
                                ORDER BY period) FROM sc_ranking WHERE period IN (:p, :t)),
                           (SELECT count(*) FROM sc_recompute_run)
                    """
                ),
                {"p": world.period, "t": world.twin},
            ).one()
        )


def _staged_ranks(
    db: sessionmaker[Session], version: str, period: int, baseline: str | None = None
) -> tuple[dict[str, Any], dict[str, tuple[int, int]]]:
    """The report through the domain functions, and every enterprise's (baseline, version)
    rank from its temporary table, read in the same transaction (then rolled back)."""
    with db() as session:
        of = impact.basis(session, version, period, baseline)
        report = impact.impact(session, of, product_shifts, clock.today())
        ranks = {
            r.uscc: (r.base_rank, r.draft_rank)
            for r in session.execute(text("SELECT uscc, base_rank, draft_rank FROM sc_impact"))
        }
        session.rollback()
    return report, ranks


def _stored_ranks(db: sessionmaker[Session], period: int) -> dict[str, int]:
    with db() as session:
        rows = session.execute(
            text(
                "SELECT p.uscc, p.rank FROM sc_points p JOIN sc_ranking r "
                "ON r.period = p.period AND r.run_id = p.run_id WHERE p.period = :p"
            ),
            {"p": period},
        )
        return {r.uscc: r.rank for r in rows}


def _waived(api: TestClient, world: World, year: int) -> set[str]:
    response = api.get(f"/v1/guarantee/waivers/{year}", headers=world.admin, params={"limit": 200})
    assert response.status_code == 200, response.text
    return {e["uscc"] for e in response.json()["items"]}


def _quotes(api: TestClient, world: World, code: str) -> dict[str, tuple[bool, Decimal]]:
    out = {}
    for uscc in world.usccs:
        response = api.get(
            f"/v1/loans/products/{code}/quote", headers=world.admin, params={"uscc": uscc}
        )
        assert response.status_code == 200, response.text
        quote = response.json()
        out[uscc] = (quote["eligible"], Decimal(quote["max_amount"]))
    return out


def _shift_of(
    before: dict[str, tuple[bool, Decimal]], after: dict[str, tuple[bool, Decimal]]
) -> dict[str, Any]:
    both = [u for u in before if before[u][0] and after[u][0]]
    return {
        "eligible_before": sum(e for e, _ in before.values()),
        "eligible_after": sum(e for e, _ in after.values()),
        "gained": sum(after[u][0] and not before[u][0] for u in before),
        "lost": sum(before[u][0] and not after[u][0] for u in before),
        "tier_up": sum(after[u][1] > before[u][1] for u in both),
        "tier_down": sum(after[u][1] < before[u][1] for u in both),
        "max_amount_before": f"{sum((m for _, m in before.values()), Decimal('0.00')):.2f}",
        "max_amount_after": f"{sum((m for _, m in after.values()), Decimal('0.00')):.2f}",
    }


def test_the_ranking_model_against_itself_moves_nobody(
    api: TestClient, db: sessionmaker[Session], world: World
) -> None:
    report = _report(api, world, DEFAULT_MODEL)
    assert report["baseline"] == DEFAULT_MODEL
    assert report["baseline_source"] == "stored"
    assert report["enterprise_count"] == FIRMS
    assert report["rank_changes"]["moved"] == 0
    assert report["points_change"]["unchanged"] == FIRMS
    assert report["top"]["entering"] == report["top"]["leaving"] == []
    assert report["psi"]["psi"] == 0
    assert report["psi"]["band"] == "stable"
    # The scored ranks (tie order: points, exact total, USCC) are the stored ones.
    _, ranks = _staged_ranks(db, DEFAULT_MODEL, world.period)
    stored = _stored_ranks(db, world.period)
    assert {u: draft for u, (_, draft) in ranks.items()} == stored
    assert {u: base for u, (base, _) in ranks.items()} == stored


def test_a_draft_reports_what_publishing_it_does(
    api: TestClient, db: sessionmaker[Session], world: World
) -> None:
    before = _checksum(db, world)
    report = _report(api, world, world.draft)
    staged, ranks = _staged_ranks(db, world.draft, world.period)
    assert _checksum(db, world) == before  # sc_points, the ranking and the runs untouched
    assert report["version_status"] == "draft"
    assert report["baseline_source"] == "stored"
    assert report["rank_changes"]["moved"] > 0
    assert report["top"]["entering"], "the draft should move firms into the top 100"
    assert staged["rank_changes"]["moved"] == report["rank_changes"]["moved"]

    waived_before = _waived(api, world, world.twin + 1)
    quotes_before = {code: _quotes(api, world, code) for code in world.products}

    published = api.post(f"/v1/admin/models/{world.draft}/publish", headers=world.admin)
    assert published.status_code == 200, published.text
    run = api.post(
        f"/v1/admin/points/{world.twin}/recompute",
        headers=world.admin,
        json={"model_version": world.draft},
    )
    assert run.status_code == 200, run.text

    # Every rank of the draft is the rank the real recompute of the twin gives.
    assert {u: draft for u, (_, draft) in ranks.items()} == _stored_ranks(db, world.twin)
    # The top 100's change is the waiver list's change for the year after.
    waived_after = _waived(api, world, world.twin + 1)
    top = report["top"]
    assert {m["uscc"] for m in top["entering"]} == waived_after - waived_before
    assert {m["uscc"] for m in top["leaving"]} == waived_before - waived_after
    assert top["waiver_year"] == world.period + 1
    # Each product's shift is what the quotes say before and after.
    shifts = {p["product_code"]: p for p in report["products"]}
    for code in world.products:
        expected = _shift_of(quotes_before[code], _quotes(api, world, code))
        assert {k: shifts[code][k] for k in expected} == expected, code
    assert any(shifts[c]["gained"] or shifts[c]["lost"] for c in world.products)
    # The largest moves are real moves, the buckets count every enterprise once.
    changes = report["rank_changes"]
    assert sum(b["up"] + b["down"] + b["unchanged"] for b in changes["buckets"]) == FIRMS
    for mover in changes["largest_up"]:
        assert ranks[mover["uscc"]] == (mover["rank_before"], mover["rank_after"])
        assert mover["rank_after"] < mover["rank_before"]
    means = {(g["dimension"], g["value"]): g for g in report["groups"]}
    assert sum(g["count"] for (d, _), g in means.items() if d == "district") == FIRMS
    assert report["psi"]["bins"]


def test_the_workbook_holds_every_table(api: TestClient, world: World) -> None:
    report = _report(api, world, world.draft, baseline=DEFAULT_MODEL)
    response = api.get(
        f"/v1/scoring/models/{world.draft}/impact",
        headers={**world.admin, "Accept": XLSX},
        params={"period": world.period, "baseline": DEFAULT_MODEL, "headers": "zh"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [
        "summary",
        "rank_changes",
        "movers",
        "top100",
        "groups",
        "products",
        "psi",
    ]
    products = list(book["products"].iter_rows(values_only=True))
    assert products[0][0] == "产品代码"
    ours = {row[0]: row for row in products[1:] if row[0] in world.products}
    for entry in report["products"]:
        if entry["product_code"] in ours:
            row = ours[entry["product_code"]]
            assert row[4:8] == (
                entry["eligible_before"],
                entry["eligible_after"],
                entry["gained"],
                entry["lost"],
            )
            assert Decimal(str(row[10])) == Decimal(entry["max_amount_before"])
    top = list(book["top100"].iter_rows(values_only=True))[1:]
    assert len(top) == len(report["top"]["entering"]) + len(report["top"]["leaving"])
    summary: dict[Any, Any] = {
        row[0]: row[1] for row in list(book["summary"].iter_rows(values_only=True))[1:]
    }
    assert summary["version"] == world.draft
    assert float(str(summary["psi.psi"])) == pytest.approx(report["psi"]["psi"])


def test_a_changed_period_is_scored_for_its_baseline(
    api: TestClient, db: sessionmaker[Session], factory: Factory, periods: PeriodPool
) -> None:
    period = periods.fresh()
    usccs = factory.ranked(period, [{"invention_patents": n} for n in (1, 2, 3)])
    factory.indicators(period, [indicators(usccs[0], invention_patents=9)])
    report, ranks = _staged_ranks(db, DEFAULT_MODEL, period)
    assert report["baseline_source"] == "computed"
    assert report["rank_changes"]["moved"] == 0
    assert ranks[usccs[0]] == (1, 1)  # the new indicators, not the stored points (rank 3)
    assert _stored_ranks(db, period)[usccs[0]] == 3


def test_only_the_bureau_and_operators_see_it(
    api: TestClient, factory: Factory, world: World
) -> None:
    url = f"/v1/scoring/models/{world.draft}/impact"
    params = {"period": world.period}
    bank = bearer(factory.bank_token(factory.bank()))
    assert api.get(url, headers=bank, params=params).status_code == 403
    bureau = bearer(factory.token("bureau"))
    assert api.get(url, headers=bureau, params=params).status_code == 200


def test_bad_questions_are_problems(
    api: TestClient, factory: Factory, periods: PeriodPool, world: World
) -> None:
    admin = world.admin
    unknown = api.get("/v1/scoring/models/NO-SUCH/impact", headers=admin)
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("/problems/model-not-found")
    empty = periods.fresh()
    url = f"/v1/scoring/models/{DEFAULT_MODEL}/impact"
    unranked = api.get(url, headers=admin, params={"period": empty})
    assert unranked.status_code == 404
    assert unranked.json()["type"].endswith("/problems/points-not-found")
    no_data = api.get(url, headers=admin, params={"period": empty, "baseline": DEFAULT_MODEL})
    assert no_data.status_code == 422
    assert no_data.json()["type"].endswith("/problems/no-indicator-data")
    assert api.get(url, headers=admin, params={"period": 1999}).status_code == 422


def test_the_command_line_gives_the_apis_report(
    api: TestClient, world: World, database_url: str, tmp_path: Path
) -> None:
    """`innocredit models impact` (national periods take longer than a request may): the same
    report as the API, as JSON or the same workbook."""
    args = ["models", "impact", world.draft, "--period", str(world.period)]
    ran = run_cli(args, {"DATABASE_URL": database_url})
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == _report(api, world, world.draft)
    book = tmp_path / "impact.xlsx"
    ran = run_cli([*args, "--xlsx", str(book), "--zh"], {"DATABASE_URL": database_url})
    assert ran.returncode == 0, ran.stderr
    assert load_workbook(book).sheetnames[:2] == ["summary", "rank_changes"]
    assert next(load_workbook(book)["products"].iter_rows(values_only=True))[0] == "产品代码"
    unknown = run_cli(["models", "impact", "NO-SUCH-MODEL"], {"DATABASE_URL": database_url})
    assert unknown.returncode == 1
    assert "NO-SUCH-MODEL" in unknown.stderr
