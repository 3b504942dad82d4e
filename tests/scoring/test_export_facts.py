"""The export facts view scoring owns (`sc_export_facts`): its documented columns, one row per
enterprise — the latest period's ranking, under the model that ranking is of."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from services.scoring.queries import EXPORT_FACT_COLUMNS, EXPORT_FACTS_VIEW
from tests.factories import bearer, enterprise, indicators, new_uscc
from tests.periods import PeriodPool

DEFAULT = {"model_version": "TZ-2025.1"}


@pytest.fixture
def admin(admin_token: str) -> dict[str, str]:
    return bearer(admin_token)


def _facts(db: sessionmaker[Session], usccs: list[str]) -> dict[str, Any]:
    with db() as session:
        rows = session.execute(
            text(f"SELECT * FROM {EXPORT_FACTS_VIEW} WHERE uscc = ANY(:usccs)"),  # noqa: S608
            {"usccs": usccs},
        ).all()
    facts = {row.uscc: row for row in rows}
    assert len(facts) == len(rows)  # one row per enterprise
    return facts


def test_the_view_has_the_documented_columns(db: sessionmaker[Session]) -> None:
    with db() as session:
        columns = session.scalars(
            text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = :view ORDER BY ordinal_position"
            ),
            {"view": EXPORT_FACTS_VIEW},
        ).all()
    assert columns == ["uscc", *EXPORT_FACT_COLUMNS]


def test_one_row_per_enterprise_from_its_latest_ranking(
    api: TestClient, admin: dict[str, str], db: sessionmaker[Session], periods: PeriodPool
) -> None:
    earlier_period = periods.fresh(following=True)
    later_period = earlier_period + 1
    both, earlier_only, never = new_uscc(), new_uscc(), new_uscc()
    api.put(
        "/v1/admin/enterprises",
        headers=admin,
        json=[enterprise(u, categories=["high_tech"]) for u in (both, earlier_only, never)],
    )
    earlier = [indicators(u, invention_patents=2) for u in (both, earlier_only)]
    assert api.put(f"/v1/admin/indicators/{earlier_period}", headers=admin, json=earlier).is_success
    later = [indicators(both, invention_patents=5, revenue="1000000.00")]
    assert api.put(f"/v1/admin/indicators/{later_period}", headers=admin, json=later).is_success
    for period in (earlier_period, later_period):
        r = api.post(f"/v1/admin/points/{period}/recompute", headers=admin, json=DEFAULT)
        assert r.status_code == 200, r.text

    facts = _facts(db, [both, earlier_only, never])
    assert set(facts) == {both, earlier_only}  # no points, no row
    assert (facts[both].period, facts[earlier_only].period) == (later_period, earlier_period)
    points = api.get(
        f"/v1/scoring/enterprises/{both}/points", headers=admin, params={"period": later_period}
    ).json()
    row = facts[both]
    assert (row.model_version, row.points, row.rank, row.rank_total, row.percentile) == (
        points["model_version"],
        points["points"],
        points["rank"],
        points["rank_total"],
        points["percentile"],
    )
    assert {k: Decimal(v) for k, v in row.indicator_points.items()} == {
        i["indicator"]: Decimal(i["points"])
        for i in points["breakdown"]
        if not i["indicator"].startswith("bonus:")
    }
    assert any(i["indicator"].startswith("bonus:") for i in points["breakdown"])
    assert (row.district, row.industry_code, row.stage, row.categories) == (
        "海陵区",
        "health",
        "growth",
        ["high_tech"],
    )

    # The later period re-ranked under another model: the row follows the ranking, and the
    # first model's points of that period (still stored) do not make a second row.
    model = api.get("/v1/scoring/models/TZ-2025.1", headers=admin).json()["definition"]
    model["version"] = "TEST-VIEW-" + uuid.uuid4().hex[:8]
    assert api.post("/v1/admin/models", headers=admin, json=model).status_code == 201
    assert api.post(f"/v1/admin/models/{model['version']}/publish", headers=admin).is_success
    r = api.post(
        f"/v1/admin/points/{later_period}/recompute",
        headers=admin,
        json={"model_version": model["version"]},
    )
    assert r.status_code == 200, r.text
    after = _facts(db, [both])
    assert (after[both].period, after[both].model_version) == (later_period, model["version"])
