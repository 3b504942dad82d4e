"""Drift between runs (`GET /v1/scoring/drift`) on a two-period world made so that the bins,
the PSI and the missing-value rates can be worked out by hand; run against run, and the
runs whose points are gone."""

from __future__ import annotations

import copy
import io
import json
import math
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from services.scoring.psi import compare
from tests.cli_runner import run_cli
from tests.factories import DEFAULT_MODEL, Factory, bearer, enterprise, indicators, new_uscc
from tests.periods import PeriodPool
from tests.test_files import XLSX

N = 20


@dataclass(frozen=True)
class World:
    admin: dict[str, str]
    period: int  # ranked; so is period - 1, the baseline
    runs: dict[int, int]  # period → its ranking's run


@pytest.fixture(scope="module")
def world(factory: Factory, periods: PeriodPool) -> World:
    period = periods.fresh(previous=True)
    usccs = [new_uscc() for _ in range(N)]
    factory.enterprises([enterprise(u) for u in usccs])
    # Baseline: patents 1..20; revenue 0 for the first 5 (R&D intensity missing, and next
    # period's growth undefined); no period before it, so growth is missing for all.
    factory.indicators(
        period - 1,
        [
            indicators(
                u,
                invention_patents=i + 1,
                revenue="0.00" if i < 5 else "1000000.00",
                rd_expense="100000.00",
            )
            for i, u in enumerate(usccs)
        ],
    )
    # Now: every firm has 1 patent; revenue 0 for the first 2 only.
    factory.indicators(
        period,
        [
            indicators(
                u,
                invention_patents=1,
                revenue="0.00" if i < 2 else "2000000.00",
                rd_expense="100000.00",
            )
            for i, u in enumerate(usccs)
        ],
    )
    runs = {p: factory.recompute(p)["id"] for p in (period - 1, period)}
    return World(factory.admin, period, runs)


def _drift(api: TestClient, admin: dict[str, str], **params: Any) -> dict[str, Any]:
    response = api.get("/v1/scoring/drift", headers=admin, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _points(db: sessionmaker[Session], run: int) -> list[float]:
    with db() as session:
        return [
            float(p)
            for p in session.scalars(
                text("SELECT points FROM sc_points WHERE run_id = :r"), {"r": run}
            )
        ]


def test_period_against_the_period_before(
    api: TestClient, db: sessionmaker[Session], world: World
) -> None:
    report = _drift(api, world.admin, period=world.period)  # baseline: the period before
    assert (report["period"], report["baseline_period"]) == (world.period, world.period - 1)
    assert (report["run_id"], report["baseline_run_id"]) == (
        world.runs[world.period],
        world.runs[world.period - 1],
    )
    by_name = {i["indicator"]: i for i in report["indicators"]}
    assert len(by_name) == 14

    patents = by_name["invention_patents"]["stability"]
    # Baseline deciles of 1..20 are 2, 4, …, 18: ten bins of two; now all 20 in the first.
    assert [(b["lower"], b["upper"]) for b in patents["bins"]][:2] == [(None, 2), (2, 4)]
    assert [b["baseline"] for b in patents["bins"]] == [2] * 10
    assert [b["actual"] for b in patents["bins"]] == [20] + [0] * 9
    # 0.9·ln(1/0.1) + 9·(0.025 − 0.1)·ln(0.025/0.1): the empty bins count 0.5 of 20.
    assert patents["psi"] == pytest.approx(0.9 * math.log(10) + 9 * 0.075 * math.log(4), abs=1e-12)
    assert patents["band"] == "significant"
    # χ²: the first bin's column (2, 20) expects 11 each: 2·9²/11; the others (2, 0) 1 each: 2.
    assert patents["chi2"] == pytest.approx(2 * 81 / 11 + 9 * 2, abs=1e-12)
    assert patents["dof"] == 9
    assert patents["p_value"] < 0.001

    intensity = by_name["rd_intensity"]
    assert (intensity["baseline_missing_rate"], intensity["missing_rate"]) == (0.25, 0.1)
    missing_bin = intensity["stability"]["bins"][-1]
    assert missing_bin["missing"]
    assert (missing_bin["baseline"], missing_bin["actual"]) == (5, 2)
    growth = by_name["revenue_growth"]
    assert (growth["baseline_missing_rate"], growth["missing_rate"]) == (1.0, 0.25)
    staff = by_name["total_staff"]
    assert staff["missing_rate"] == 0
    assert staff["stability"]["psi"] == 0  # 10 everywhere: one bin, nothing to test
    assert staff["stability"]["p_value"] is None

    points = report["points"]
    expected = compare(
        _points(db, world.runs[world.period - 1]), _points(db, world.runs[world.period])
    )
    assert points["psi"] == pytest.approx(expected.psi, abs=1e-12)
    assert (points["baseline_count"], points["actual_count"]) == (N, N)


def test_runs_by_id_are_the_same_comparison(api: TestClient, world: World) -> None:
    by_period = _drift(api, world.admin, period=world.period, baseline_period=world.period - 1)
    by_run = _drift(
        api, world.admin, run=world.runs[world.period], baseline_run=world.runs[world.period - 1]
    )
    assert by_run == by_period


def test_two_runs_of_one_period_compare_points_only(
    api: TestClient, factory: Factory, periods: PeriodPool
) -> None:
    admin = factory.admin
    period = periods.fresh()
    factory.ranked(period, [{"invention_patents": n} for n in range(8)])
    first = api.get("/v1/scoring/runs", headers=admin, params={"period": period}).json()
    model = copy.deepcopy(
        api.get(f"/v1/scoring/models/{DEFAULT_MODEL}", headers=admin).json()["definition"]
    )
    model["version"] = "DRIFT-" + uuid.uuid4().hex[:8]
    patents = next(i for i in model["indicators"] if i["indicator"] == "invention_patents")
    patents["weight"] = str(Decimal(patents["weight"]) * 3)
    assert api.post("/v1/admin/models", headers=admin, json=model).status_code == 201
    assert (
        api.post(f"/v1/admin/models/{model['version']}/publish", headers=admin).status_code == 200
    )
    second = factory.recompute(period, model["version"])
    report = _drift(api, admin, run=second["id"], baseline_run=first["items"][0]["id"])
    assert report["indicators"] is None
    assert report["model_version"] == model["version"]
    assert report["baseline_model_version"] == DEFAULT_MODEL
    assert report["points"]["psi"] > 0


def test_an_earlier_run_of_the_same_model_is_still_comparable(
    api: TestClient, factory: Factory, periods: PeriodPool
) -> None:
    # Every run's points are kept (migration 0013): a second recompute with the same model
    # makes a new ranking beside the first, so the two compare, and identically.
    period = periods.fresh()
    factory.ranked(period, [{"invention_patents": n} for n in range(4)])
    old = factory.recompute(period)
    new = factory.recompute(period)
    report = _drift(api, factory.admin, run=old["id"], baseline_run=new["id"])
    assert (report["run_id"], report["baseline_run_id"]) == (old["id"], new["id"])
    assert report["points"]["psi"] == 0
    assert report["points"]["actual_count"] == report["points"]["baseline_count"] == 4
    unknown = api.get(
        "/v1/scoring/drift",
        headers=factory.admin,
        params={"run": new["id"] + 10_000_000, "baseline_run": new["id"]},
    )
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("/problems/points-not-found")


def test_bad_questions_are_problems(
    api: TestClient, factory: Factory, periods: PeriodPool, world: World
) -> None:
    admin = factory.admin
    run = world.runs[world.period]
    cases = [
        ({"run": run}, ["baseline_run"]),
        ({"baseline_run": run}, ["run"]),
        ({"run": run, "baseline_run": run, "period": world.period}, ["period"]),
    ]
    for params, fields in cases:
        response = api.get("/v1/scoring/drift", headers=admin, params=params)
        assert response.status_code == 422, response.text
        assert [e["loc"][-1] for e in response.json()["errors"]] == fields
    unknown = api.get(
        "/v1/scoring/drift", headers=admin, params={"run": 2**62, "baseline_run": run}
    )
    assert unknown.status_code == 404
    no_baseline = api.get(
        "/v1/scoring/drift",
        headers=admin,
        params={"period": world.period, "baseline_period": periods.fresh()},
    )
    assert no_baseline.status_code == 404
    assert no_baseline.json()["type"].endswith("/problems/points-not-found")
    bank = bearer(factory.bank_token(factory.bank()))
    assert (
        api.get("/v1/scoring/drift", headers=bank, params={"period": world.period}).status_code
        == 403
    )


def test_the_workbook(api: TestClient, world: World) -> None:
    report = _drift(api, world.admin, period=world.period)
    response = api.get(
        "/v1/scoring/drift",
        headers={**world.admin, "Accept": XLSX},
        params={"period": world.period},
    )
    assert response.status_code == 200, response.text
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["summary", "stability", "bins"]
    rows = list(book["stability"].iter_rows(values_only=True))
    assert rows[0][:4] == ("quantity", "label", "psi", "band")
    assert [r[0] for r in rows[1:]] == ["points"] + [i["indicator"] for i in report["indicators"]]
    patents = next(r for r in rows if r[0] == "invention_patents")
    assert patents[2] == pytest.approx(
        next(i for i in report["indicators"] if i["indicator"] == "invention_patents")["stability"][
            "psi"
        ]
    )
    bins = list(book["bins"].iter_rows(values_only=True))[1:]
    assert len(bins) == len(report["points"]["bins"]) + sum(
        len(i["stability"]["bins"]) for i in report["indicators"]
    )


def test_the_command_line_gives_the_apis_drift(
    api: TestClient, world: World, database_url: str
) -> None:
    ran = run_cli(
        ["points", "drift", "--period", str(world.period)], {"DATABASE_URL": database_url}
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == _drift(api, world.admin, period=world.period)
