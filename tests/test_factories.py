"""The test factories make what they promise: every application state, ranked enterprises with
the expected points, fresh periods that never repeat and never hold another test's data."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import (
    A_INDICATORS,
    A_POINTS,
    APPLICATION_STATES,
    B_INDICATORS,
    Factory,
    enterprise,
    indicators,
)
from tests.periods import PeriodPool, scoring_data_in


def test_period_pool_never_hands_out_a_year_twice() -> None:
    pool = PeriodPool(2001, 2012)
    taken: list[int] = []
    for previous, following in [(False, False), (True, False), (False, True), (True, True)]:
        p = pool.fresh(previous=previous, following=following)
        taken += [p] + ([p - 1] if previous else []) + ([p + 1] if following else [])
    assert len(taken) == len(set(taken)) == 8
    assert min(taken) >= 2001
    assert [pool.fresh() for _ in range(4)] == [2009, 2010, 2011, 2012]
    with pytest.raises(RuntimeError, match="used up"):
        pool.fresh()


def test_period_pool_refuses_a_year_another_test_wrote_without_it(
    factory: Factory, periods: PeriodPool, db: sessionmaker[Session]
) -> None:
    used, clean = periods.fresh(), periods.fresh()
    (u,) = factory.enterprises([enterprise()])
    factory.indicators(used, [indicators(u)])  # as a test with a fixed year would
    pool = PeriodPool(used, clean, in_use=scoring_data_in(db))
    with pytest.raises(RuntimeError, match=f"period {used} already has scoring data"):
        pool.fresh()
    assert pool.fresh() == clean  # the collided year is gone, the next one is handed out


def test_ranked_enterprises_and_an_application_in_every_state(
    factory: Factory, periods: PeriodPool
) -> None:
    period = periods.fresh(previous=True)
    strong, weak = factory.ranked(
        period,
        [A_INDICATORS, B_INDICATORS],
        enterprise_overrides=[
            {"categories": ["high_tech", "tech_sme"]},
            {"stage": "startup", "industry": "ict"},
        ],
    )
    factory.indicators(period - 1, [indicators(strong, revenue="80000000.00")])
    factory.recompute(period)
    points = factory.api.get(
        f"/v1/scoring/enterprises/{strong}/points", headers=factory.admin, params={"period": period}
    ).json()
    assert points["points"] == A_POINTS
    bank = factory.bank()
    product = factory.product(bank, min_points=80)
    for state in APPLICATION_STATES:
        app = factory.application(bank, product, strong, state=state)
        seen = factory.api.get(
            f"/v1/loans/applications/{app.id}", headers={"Authorization": f"Bearer {app.token}"}
        )
        assert seen.status_code == 200
        assert seen.json()["status"] == state
        assert seen.headers["ETag"] == app.etag
    with pytest.raises(ValueError, match="unknown state"):
        factory.application(bank, product, weak, state="lost")
