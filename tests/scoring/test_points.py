"""Enterprises, indicators, the default model, recompute, points: through the gateway."""

from __future__ import annotations

import copy
import json
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from services.scoring.models import IndicatorRow, Points
from tests.factories import (
    A_INDICATORS,
    A_POINTS,
    A_PREVIOUS_REVENUE,
    B_INDICATORS,
    B_POINTS,
    bearer,
    enterprise,
    indicators,
    new_uscc,
)
from tests.periods import PeriodPool

DEFAULT = {"model_version": "TZ-2025.1"}  # other tests publish newer versions


@pytest.fixture
def admin(admin_token: str) -> dict[str, str]:
    return bearer(admin_token)


def _load(api: TestClient, admin: dict[str, str], periods: PeriodPool) -> tuple[int, str, str]:
    """Enterprises a (A_INDICATORS, with last year's revenue) and b (B_INDICATORS) with the
    indicators of a fresh period, not yet recomputed: (period, a, b)."""
    period = periods.fresh(previous=True)
    a, b = new_uscc(), new_uscc()
    r = api.put(
        "/v1/admin/enterprises",
        headers=admin,
        json=[
            enterprise(a, name="榕兴医疗", categories=["high_tech", "tech_sme"]),
            enterprise(b, name="初创科技", stage="startup", district="泰兴市", industry="ict"),
        ],
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"received": 2, "created": 2, "updated": 0}
    r = api.put(
        f"/v1/admin/indicators/{period - 1}",
        headers=admin,
        json=[indicators(a, revenue=A_PREVIOUS_REVENUE)],
    )
    assert r.status_code == 200, r.text
    r = api.put(
        f"/v1/admin/indicators/{period}",
        headers=admin,
        json=[indicators(a, **A_INDICATORS), indicators(b, **B_INDICATORS)],
    )
    assert r.status_code == 200, r.text
    return period, a, b


def test_hand_computed_points_under_the_default_model(
    api: TestClient, admin: dict[str, str], periods: PeriodPool
) -> None:
    period, a, b = _load(api, admin, periods)
    run = api.post(f"/v1/admin/points/{period}/recompute", headers=admin, json=DEFAULT)
    assert run.status_code == 200, run.text
    assert run.json()["model_version"] == "TZ-2025.1"
    assert run.json()["enterprise_count"] == 2

    pa = api.get(
        f"/v1/scoring/enterprises/{a}/points", headers=admin, params={"period": period}
    ).json()
    assert pa["points"] == A_POINTS == 174
    assert pa["model_version"] == "TZ-2025.1"
    assert (pa["rank"], pa["rank_total"], pa["percentile"]) == (1, 2, 50.0)
    items = {i["indicator"]: i for i in pa["breakdown"]}
    assert items["software_copyrights"]["points"] == "10.0000"
    assert items["software_copyrights"]["cap"] == "10.0000"
    assert "capped" in items["software_copyrights"]["note"]
    assert items["rd_intensity"]["value"] == "0.1"
    assert items["revenue_growth"]["value"] == "0.25"
    assert sum(float(i["points"]) for i in pa["breakdown"]) == float(pa["total_exact"])

    pb = api.get(
        f"/v1/scoring/enterprises/{b}/points", headers=admin, params={"period": period}
    ).json()
    assert pb["points"] == B_POINTS == 86
    growth = next(i for i in pb["breakdown"] if i["indicator"] == "revenue_growth")
    assert growth["value"] is None
    assert growth["points"] == "0.0000"
    assert "previous period" in growth["note"]


def test_a_new_model_version_changes_points_and_old_rows_keep_their_model(
    api: TestClient, admin: dict[str, str], db: sessionmaker[Session], periods: PeriodPool
) -> None:
    period, a, _ = _load(api, admin, periods)
    assert (
        api.post(f"/v1/admin/points/{period}/recompute", headers=admin, json=DEFAULT).status_code
        == 200
    )
    model = copy.deepcopy(
        api.get("/v1/scoring/models/TZ-2025.1", headers=admin).json()["definition"]
    )
    model["version"] = "TEST-PATENTS-20-" + uuid.uuid4().hex[:8]
    patents = next(i for i in model["indicators"] if i["indicator"] == "invention_patents")
    patents["transform"] = {"type": "linear", "per_unit": "20", "cap": "100"}
    created = api.post("/v1/admin/models", headers=admin, json=model)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "draft"
    location = api.get(created.headers["location"], headers=admin)
    assert location.json()["version"] == model["version"]
    draft_run = api.post(
        f"/v1/admin/points/{period}/recompute",
        headers=admin,
        json={"model_version": model["version"]},
    )
    assert draft_run.status_code == 409  # drafts cannot compute points
    assert (
        api.post(f"/v1/admin/models/{model['version']}/publish", headers=admin).status_code == 200
    )
    immutable = api.put(f"/v1/admin/models/{model['version']}", headers=admin, json=model)
    assert immutable.status_code == 409
    assert immutable.json()["type"].endswith("/problems/model-published")

    run = api.post(
        f"/v1/admin/points/{period}/recompute",
        headers=admin,
        json={"model_version": model["version"]},
    )
    assert run.status_code == 200
    now = api.get(
        f"/v1/scoring/enterprises/{a}/points", headers=admin, params={"period": period}
    ).json()
    assert now["model_version"] == model["version"]
    assert now["points"] == A_POINTS + 30  # 3 patents × 20 instead of × 10
    with db() as session:
        old = session.scalars(
            select(Points).where(
                Points.period == period, Points.model_version == "TZ-2025.1", Points.uscc == a
            )
        ).one()
    assert old.points == A_POINTS
    assert old.model_version == "TZ-2025.1"


def test_recompute_is_idempotent(
    api: TestClient, admin: dict[str, str], db: sessionmaker[Session], periods: PeriodPool
) -> None:
    period, a, _ = _load(api, admin, periods)
    first = api.post(f"/v1/admin/points/{period}/recompute", headers=admin, json=DEFAULT).json()
    before = api.get(
        f"/v1/scoring/enterprises/{a}/points", headers=admin, params={"period": period}
    ).json()
    second = api.post(f"/v1/admin/points/{period}/recompute", headers=admin, json=DEFAULT).json()
    after = api.get(
        f"/v1/scoring/enterprises/{a}/points", headers=admin, params={"period": period}
    ).json()
    assert second["id"] != first["id"]
    for key in ("points", "total_exact", "rank", "rank_total", "breakdown", "model_version"):
        assert before[key] == after[key]
    assert (before["versions"]["ranking_run"], after["versions"]["ranking_run"]) == (
        first["id"],
        second["id"],
    )
    # The first run's points are kept beside the second's (history, `?as_of=`), each run whole.
    with db() as session:
        by_run = dict(
            session.execute(
                select(Points.run_id, func.count())
                .where(Points.period == period)
                .group_by(Points.run_id)
            ).all()
        )
        kept = session.get(Points, (first["id"], a))
    assert by_run == {first["id"]: 2, second["id"]: 2}
    assert kept is not None
    assert (kept.points, kept.rank) == (before["points"], before["rank"])


def test_a_failure_midway_leaves_the_previous_points(
    api: TestClient, admin: dict[str, str], db: sessionmaker[Session], periods: PeriodPool
) -> None:
    period, a, _ = _load(api, admin, periods)
    assert (
        api.post(f"/v1/admin/points/{period}/recompute", headers=admin, json=DEFAULT).status_code
        == 200
    )
    # A model whose weights overflow the points column for one enterprise (b, the start-up,
    # whose stage weight is huge): the failure comes after other rows were already written.
    model = json.loads(
        json.dumps(api.get("/v1/scoring/models/TZ-2025.1", headers=admin).json()["definition"])
    )
    model["version"] = "TEST-OVERFLOW-" + uuid.uuid4().hex[:8]
    for rule in model["indicators"]:
        if rule["indicator"] == "invention_patents":
            rule["transform"] = {"type": "linear", "per_unit": "1000000000", "cap": "1000000000"}
            rule["weight"] = "100"
    model["stage_weights"]["startup"]["invention_patents"] = "100"
    api.post("/v1/admin/models", headers=admin, json=model)
    api.post(f"/v1/admin/models/{model['version']}/publish", headers=admin)
    failed = api.post(
        f"/v1/admin/points/{period}/recompute",
        headers=admin,
        json={"model_version": model["version"]},
    )
    assert failed.status_code == 422
    assert failed.json()["type"].endswith("/problems/points-out-of-range")
    still = api.get(
        f"/v1/scoring/enterprises/{a}/points", headers=admin, params={"period": period}
    ).json()
    assert (still["model_version"], still["points"]) == ("TZ-2025.1", A_POINTS)
    with db() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(Points)
                .where(Points.period == period, Points.model_version == model["version"])
            )
            == 0
        )


def test_bad_indicator_file_is_rejected_whole_with_row_numbers(
    api: TestClient, admin: dict[str, str], db: sessionmaker[Session], periods: PeriodPool
) -> None:
    period, a, b = _load(api, admin, periods)
    header = (
        "uscc,invention_patents,utility_models,software_copyrights,rd_expense,revenue,"
        "rd_staff,total_staff,equity_financing,awards_provincial,awards_national,"
        "jbgs_funds_paid"
    )
    unknown = new_uscc()
    lines = [
        header,
        f"{a},9,1,1,100.00,1000.00,1,10,0,0,0,0",  # good
        f"{b},-1,1,1,100.00,1000.00,1,10,0,0,0,0",  # negative count
        f"{unknown},1,1,1,100.00,1000.00,1,10,0,0,0,0",  # not in the database
        "91321200MA1N2X3Y47,1,1,1,100.00,1000.00,1,10,0,0,0,0",  # bad check digit
        f"{a},1,1,1,100.001,1000.00,20,10,0,0,0,0",  # 3 decimals; rd_staff > total_staff
    ]
    body = ("\ufeff" + "\n".join(lines) + "\n").encode()
    r = api.put(
        f"/v1/admin/indicators/{period}",
        headers={**admin, "Content-Type": "text/csv"},
        content=body,
    )
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["type"].endswith("/problems/invalid-uscc")
    rows = {e["loc"][1] for e in problem["errors"]}
    assert rows == {2, 4, 5}  # row 3 (unknown enterprise) is checked once rows parse
    fields = {(e["loc"][1], e["loc"][2]) for e in problem["errors"]}
    assert (2, "invention_patents") in fields
    assert (5, "rd_expense") in fields
    assert (5, "total_staff") in fields
    with db() as session:
        stored = session.get(IndicatorRow, (a, period))
    assert stored is not None
    assert stored.invention_patents == A_INDICATORS["invention_patents"]  # unchanged

    only_unknown = "\n".join([header, lines[1], lines[3]]).encode()
    r = api.put(
        f"/v1/admin/indicators/{period}",
        headers={**admin, "Content-Type": "text/csv"},
        content=only_unknown,
    )
    assert r.status_code == 422
    assert [e["loc"][:2] for e in r.json()["errors"]] == [["row", 2]]
    with db() as session:
        assert session.get(IndicatorRow, (a, period)).invention_patents == 3  # type: ignore[union-attr]


def test_csv_enterprises_with_bom_and_categories(api: TestClient, admin: dict[str, str]) -> None:
    u = new_uscc()
    csv = (
        "\ufeffuscc,name,district,industry,stage,categories,founded_on\n"
        f"{u.lower()},泰州新材料,靖江市,materials,mature,high_tech|gazelle,2009-03-01\n"
    )
    r = api.put(
        "/v1/admin/enterprises", headers={**admin, "Content-Type": "text/csv"}, content=csv.encode()
    )
    assert r.status_code == 200, r.text
    got = api.get(f"/v1/scoring/enterprises/{u}", headers=admin).json()
    assert got["categories"] == ["gazelle", "high_tech"]
    assert got["district"] == "靖江市"
    assert got["industry_name"] == "新材料"
    again = api.put(
        "/v1/admin/enterprises",
        headers=admin,
        json={
            "items": [
                enterprise(
                    u,
                    name="泰州新材料股份",
                    district="靖江市",
                    industry="materials",
                    stage="mature",
                )
            ]
        },
    )
    assert again.json() == {"received": 1, "created": 0, "updated": 1}


def test_unknown_enterprise_and_missing_period_are_404(
    api: TestClient, admin: dict[str, str], periods: PeriodPool
) -> None:
    unknown = new_uscc()
    r = api.get(f"/v1/scoring/enterprises/{unknown}", headers=admin)
    assert r.status_code == 404
    assert r.json()["type"].endswith("/problems/enterprise-not-found")
    period, a, _ = _load(api, admin, periods)  # not recomputed: no points yet
    r = api.get(f"/v1/scoring/enterprises/{a}/points", headers=admin, params={"period": period})
    assert r.status_code == 404
    assert r.json()["type"].endswith("/problems/points-not-found")
    assert str(period) in r.json()["detail"]
    bad = api.get("/v1/scoring/enterprises/91321200MA1N2X3Y47/points", headers=admin)
    assert bad.status_code == 422
    assert bad.json()["type"].endswith("/problems/invalid-uscc")


def test_bank_can_read_but_not_write(
    api: TestClient, bank_token: str, admin: dict[str, str]
) -> None:
    u = new_uscc()
    api.put("/v1/admin/enterprises", headers=admin, json=[enterprise(u)])
    assert api.get(f"/v1/scoring/enterprises/{u}", headers=bearer(bank_token)).status_code == 200
    r = api.put("/v1/admin/enterprises", headers=bearer(bank_token), json=[enterprise(u)])
    assert r.status_code == 403


def test_industries_are_a_managed_list(api: TestClient, admin: dict[str, str]) -> None:
    listed = api.get("/v1/scoring/industries", headers=admin).json()["items"]
    assert {"health", "equipment", "materials"} <= {i["code"] for i in listed}
    code = "test_" + uuid.uuid4().hex[:6]
    added = api.put(
        f"/v1/admin/industries/{code}", headers=admin, json={"name": "低空经济", "position": 7}
    )
    assert added.status_code == 200, added.text
    renamed = api.put(
        f"/v1/admin/industries/{code}", headers=admin, json={"name": "低空经济产业", "position": 7}
    )
    assert renamed.json()["name"] == "低空经济产业"
    u = new_uscc()
    ok = api.put("/v1/admin/enterprises", headers=admin, json=[enterprise(u, industry=code)])
    assert ok.status_code == 200
    bad = api.put(
        "/v1/admin/enterprises",
        headers=admin,
        json=[enterprise(new_uscc(), industry="no_such_industry")],
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["row", 1, "industry"]


def test_a_recompute_leaves_the_planner_knowing_the_new_period(
    api: TestClient, admin: dict[str, str], db: sessionmaker[Session], periods: PeriodPool
) -> None:
    """The recompute analyzes `sc_points` in its own transaction: a new period's rows are in
    the planner's statistics as soon as they are visible. Without it a points lookup was
    planned as a scan of the period's rank index filtered by USCC until autovacuum came by —
    every lookup reading the whole period (README, "National scale")."""
    period, _, _ = _load(api, admin, periods)
    api.post(f"/v1/admin/points/{period}/recompute", headers=admin, json=DEFAULT).raise_for_status()
    with db() as session:
        values = session.execute(
            text(
                "SELECT concat_ws(',', trim(most_common_vals::text, '{}'), "
                "trim(histogram_bounds::text, '{}')) "
                "FROM pg_stats WHERE tablename = 'sc_points' AND attname = 'period'"
            )
        ).scalar()
    assert str(period) in (values or "").split(","), f"period {period} not in {values!r}"
