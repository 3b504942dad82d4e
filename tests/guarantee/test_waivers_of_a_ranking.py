"""The 泰信保 waiver status of a ranking page is a join with `GET /v1/guarantee/waivers/{period
+ 1}` by USCC — no waiver rule on the page: that list is the ranking's top 100 of `period`,
readable by every `guarantee:read` caller, banks included, and agrees with the waiver each
enterprise is told."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.guarantee.waiver import TOP
from tests.factories import Factory, bearer
from tests.periods import PeriodPool
from tests.test_lists import walk

RANKED = TOP + 3  # the top 100 and a few beyond it


@pytest.fixture(scope="module")
def period(factory: Factory, periods: PeriodPool) -> int:
    year = periods.fresh(following=True)
    # Distinct patents, so points (and ranks) differ; the first is the strongest.
    factory.ranked(year, [{"invention_patents": RANKED - i} for i in range(RANKED)])
    return year


@pytest.mark.parametrize("role", ["bank", "bureau", "admin"])
def test_the_waiver_list_is_the_rankings_top_100_for_every_reader(
    api: TestClient, factory: Factory, period: int, role: str
) -> None:
    token = factory.bank_token(factory.bank()) if role == "bank" else factory.token(role)
    who = bearer(token)
    ranking = walk(api, "/v1/scoring/rankings", who, 500, period=period)
    assert len(ranking) == RANKED
    waived = walk(api, f"/v1/guarantee/waivers/{period + 1}", who, 30)
    assert [w["uscc"] for w in waived] == [e["uscc"] for e in ranking if e["rank"] <= TOP]
    assert {w["ranking_period"] for w in waived} == {period}
    # The page's join: a ranking entry is waived when its USCC is listed.
    listed = {w["uscc"] for w in waived}
    for entry in ranking[TOP - 2 : TOP + 2]:  # either side of the line
        told = api.get(
            f"/v1/guarantee/enterprises/{entry['uscc']}/waiver",
            headers=who,
            params={"year": period + 1},
        ).json()
        assert told["waived"] is (entry["uscc"] in listed), (entry, told)
