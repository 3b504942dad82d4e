"""A ranking's change against the period before (`previous_rank`, `previous_points`) and the
points distribution filtered like the ranking, each against an independent SQL computation
over `sc_points`, as JSON and as files."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import (
    A_INDICATORS,
    B_INDICATORS,
    Factory,
    bearer,
    enterprise,
    indicators,
    new_uscc,
)
from tests.periods import PeriodPool
from tests.test_files import XLSX, workbook
from tests.test_lists import walk

DISTRICTS = ["高港区", "高港区", "海陵区", "高港区", "兴化市", "海陵区"]
CATEGORIES = [["high_tech"], ["tech_sme"], ["high_tech"], [], ["high_tech", "tech_sme"], []]


@dataclass(frozen=True)
class Periods:
    admin: dict[str, str]
    bank: dict[str, str]
    period: int  # ranked; so is period - 1, with all but the last enterprise
    usccs: list[str]


@pytest.fixture(scope="module")
def ranked(factory: Factory, periods: PeriodPool) -> Periods:
    period = periods.fresh(previous=True)
    usccs = [new_uscc() for _ in DISTRICTS]
    factory.enterprises(
        [
            enterprise(u, district=d, categories=c)
            for u, d, c in zip(usccs, DISTRICTS, CATEGORIES, strict=True)
        ]
    )
    before: list[dict[str, Any]] = [
        A_INDICATORS,
        B_INDICATORS,
        {"invention_patents": 5},
        {},
        {"utility_models": 3},
    ]
    factory.indicators(period - 1, [_facts(u, f) for u, f in zip(usccs, before, strict=False)])
    factory.recompute(period - 1)
    factory.recompute(period - 1)  # the latest run is the ranking
    now: list[dict[str, Any]] = [
        {},
        A_INDICATORS,
        B_INDICATORS,
        {"invention_patents": 1},
        A_INDICATORS,
        {},
    ]
    factory.indicators(period, [_facts(u, f) for u, f in zip(usccs, now, strict=True)])
    factory.recompute(period)
    bank = factory.bank()
    return Periods(factory.admin, bearer(factory.bank_token(bank)), period, usccs)


def _facts(uscc: str, overrides: dict[str, Any]) -> dict[str, Any]:
    return indicators(uscc, **overrides)


# Each enterprise's overall rank and points in the latest ranking of the period before.
PREVIOUS = """
    SELECT p.uscc, prev.rank, prev.points
    FROM sc_points p
    JOIN sc_ranking r ON r.period = p.period AND r.model_version = p.model_version
    LEFT JOIN (
        sc_points prev JOIN sc_ranking rp
            ON rp.period = prev.period AND rp.model_version = prev.model_version
    ) ON prev.uscc = p.uscc AND prev.period = p.period - 1
    WHERE p.period = :period
"""


def previous(db: sessionmaker[Session], period: int) -> dict[str, tuple[int | None, ...]]:
    with db.begin() as session:
        rows = session.execute(text(PREVIOUS), {"period": period})
        return {r.uscc: (r.rank, r.points) for r in rows}


@pytest.mark.parametrize("filters", [{}, {"district": "高港区"}, {"category": "high_tech"}])
def test_each_entry_has_its_overall_standing_in_the_period_before(
    api: TestClient, ranked: Periods, db: sessionmaker[Session], filters: dict[str, str]
) -> None:
    entries = walk(api, "/v1/scoring/rankings", ranked.bank, 2, period=ranked.period, **filters)
    assert entries, filters
    before = previous(db, ranked.period)
    assert {e["uscc"]: (e["previous_rank"], e["previous_points"]) for e in entries} == {
        e["uscc"]: before[e["uscc"]] for e in entries
    }
    if filters:  # re-ranked within the filter; the previous rank stays the city-wide one
        assert [e["rank"] for e in entries] == list(range(1, len(entries) + 1))
    newcomer = ranked.usccs[-1]  # not ranked in the period before
    assert before[newcomer] == (None, None)
    assert all(v != (None, None) for u, v in before.items() if u != newcomer)
    assert len({v[0] for v in before.values()}) == len(before)  # ranks were unique then too


def test_the_change_is_in_the_ranking_files(api: TestClient, ranked: Periods) -> None:
    entries = walk(api, "/v1/scoring/rankings", ranked.bank, 500, period=ranked.period)
    r = api.get(
        "/v1/scoring/rankings",
        headers={**ranked.bank, "Accept": "text/csv"},
        params={"period": ranked.period},
    )
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(row["previous_rank"], row["previous_points"]) for row in rows] == [
        ("" if e["previous_rank"] is None else str(e["previous_rank"]),
         "" if e["previous_points"] is None else str(e["previous_points"]))
        for e in entries
    ]  # fmt: skip


# ---------------------------------------------------------------- distribution

QUANTILES = {"p10": 0.1, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p90": 0.9, "p99": 0.99}
FILTERED = """
    SELECT count(*) AS n, min(p.points) AS lo, max(p.points) AS hi, avg(p.points) AS mean,
           {quantiles}
    FROM sc_points p JOIN sc_ranking r ON r.period = p.period AND r.model_version = p.model_version
    JOIN sc_enterprise e ON e.uscc = p.uscc
    WHERE p.period = :period
      AND (CAST(:district AS text) IS NULL OR e.district = :district)
      AND (CAST(:category AS text) IS NULL OR CAST(:category AS varchar) = ANY(e.categories))
"""


def reference(db: sessionmaker[Session], period: int, **filters: str | None) -> dict[str, Any]:
    quantiles = ", ".join(
        f"percentile_cont({q}) WITHIN GROUP (ORDER BY p.points) AS {name}"
        for name, q in QUANTILES.items()
    )
    params = {"period": period, "district": None, "category": None, **filters}
    with db.begin() as session:
        row = session.execute(text(FILTERED.format(quantiles=quantiles)), params).one()
        points = session.execute(
            text(
                "SELECT p.points FROM sc_points p JOIN sc_ranking r ON r.period = p.period"
                " AND r.model_version = p.model_version JOIN sc_enterprise e ON e.uscc = p.uscc"
                " WHERE p.period = :period"
                " AND (CAST(:district AS text) IS NULL OR e.district = :district)"
                " AND (CAST(:category AS text) IS NULL"
                "      OR CAST(:category AS varchar) = ANY(e.categories))"
            ),
            params,
        )
        return {**row._asdict(), "points": sorted(p for (p,) in points)}


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"district": "高港区"},
        {"category": "high_tech"},
        {"district": "海陵区", "category": "high_tech"},
    ],
)
def test_the_distribution_is_over_the_filtered_enterprises(
    api: TestClient, ranked: Periods, db: sessionmaker[Session], filters: dict[str, str]
) -> None:
    r = api.get(
        "/v1/scoring/distribution",
        headers=ranked.bank,
        params={"period": ranked.period, **filters, "bins": 4},
    )
    assert r.status_code == 200, r.text
    got = r.json()
    want = reference(db, ranked.period, **filters)
    assert got["count"] == want["n"] == len(want["points"]) > 0
    assert (got["min"], got["max"]) == (want["lo"], want["hi"])
    assert got["mean"] == round(float(want["mean"]), 2)
    assert got["quantiles"] == {name: round(float(want[name]), 2) for name in QUANTILES}
    assert (got["district"], got["category"], got["industry"]) == (
        filters.get("district"),
        filters.get("category"),
        None,
    )
    # Every enterprise in exactly one bin, the last one closed at the max.
    bins = got["histogram"]
    assert len(bins) == 4
    assert sum(b["count"] for b in bins) == got["count"]
    for b in bins:
        inside = [
            p
            for p in want["points"]
            if b["lower"] <= p < b["upper"] or (b is bins[-1] and p == b["upper"])
        ]
        assert b["count"] == len(inside), (b, want["points"])


def test_a_filter_nobody_passes_has_an_empty_distribution(api: TestClient, ranked: Periods) -> None:
    r = api.get(
        "/v1/scoring/distribution",
        headers=ranked.bank,
        params={"period": ranked.period, "district": "靖江市", "category": "gazelle"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["count"], body["min"], body["max"], body["mean"]) == (0, None, None, None)
    assert (body["quantiles"], body["histogram"]) == ({}, [])


@pytest.mark.parametrize(
    ("name", "value"),
    [("district", "上海市"), ("category", "unicorn_x"), ("industry", "x" * 41), ("bins", "0")],
)
def test_bad_filters_are_422_problems(
    api: TestClient, ranked: Periods, name: str, value: str
) -> None:
    r = api.get(
        "/v1/scoring/distribution",
        headers=ranked.bank,
        params={"period": ranked.period, name: value},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["loc"] == ["query", name]


@pytest.mark.parametrize("accept", ["text/csv", XLSX])
def test_the_histogram_as_a_file(api: TestClient, ranked: Periods, accept: str) -> None:
    params = {"period": ranked.period, "district": "高港区", "bins": 3}
    body = api.get("/v1/scoring/distribution", headers=ranked.bank, params=params).json()
    r = api.get(
        "/v1/scoring/distribution", headers={**ranked.bank, "Accept": accept}, params=params
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(accept)
    columns = ["period", "model_version", "district", "industry", "category", "from", "to", "count"]
    rows: list[list[Any]]
    if accept == XLSX:
        header, cells = workbook(r.content)
        rows = [[c.value for c in row] for row in cells]
    else:
        lines = list(csv.reader(io.StringIO(r.text)))
        header, rows = lines[0], [list(line) for line in lines[1:]]
    assert header == columns
    assert len(rows) == 3
    for row, b in zip(rows, body["histogram"], strict=True):
        line = dict(zip(columns, row, strict=True))
        assert str(line["period"]) == str(ranked.period)
        assert line["district"] == "高港区"
        assert line["industry"] in (None, "")
        # Excel keeps 15 significant digits (59.666666666666664 is 59.66666666666666 there).
        assert float(line["from"]) == pytest.approx(b["lower"], rel=1e-14)
        assert float(line["to"]) == pytest.approx(b["upper"], rel=1e-14)
        assert int(line["count"]) == b["count"]
    zh = api.get(
        "/v1/scoring/distribution",
        headers={**ranked.bank, "Accept": accept},
        params={**params, "headers": "zh"},
    )
    assert zh.status_code == 200
