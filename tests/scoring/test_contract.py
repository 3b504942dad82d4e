"""Black-box tests of the scoring service against the public contract (CONTRACT.md, OpenAPI).

Every test takes its periods from the pool (tests/periods.py) and makes its own enterprises: the
database is shared by the whole session and never cleaned. Module fixtures build read-only data
sets once.
"""

from __future__ import annotations

import itertools
import math
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.factories import Creds, bearer, enterprise, get_token, indicators, new_uscc
from tests.periods import PeriodPool

DEFAULT = {"model_version": "TZ-2025.1"}  # other tests publish newer versions
DISTRICTS = ["海陵区", "高港区", "姜堰区", "兴化市", "靖江市", "泰兴市"]
OTHER_INDUSTRIES = ["health", "equipment", "materials", "energy", "other"]
MODEL_INDICATORS = {
    "invention_patents",
    "utility_models",
    "software_copyrights",
    "rd_expense",
    "rd_intensity",
    "rd_staff_ratio",
    "revenue",
    "revenue_growth",
    "equity_financing",
    "awards_provincial",
    "awards_national",
}
RULE_IDS = {
    "policy.txb-waiver",
    "policy.jbgs-subsidy",
    "policy.high-tech-recognition",
    "policy.tech-sme-evaluation",
    "policy.gazelle-cultivation",
    "policy.rd-super-deduction",
    "service.ip-layout",
    "service.rd-accounting",
    "service.equity-financing",
    "service.talent",
    "service.innovation-credit",
}
# The only keys under which a JSON number with a fraction may appear (none of them money).
FLOAT_KEYS = {"percentile", "mean", "lower", "upper", "p10", "p25", "p50", "p75", "p90", "p99"}
MONEY = re.compile(r"^\d{1,13}\.\d{2}$")
CSV_HEADER = "uscc,name,district,industry,stage,categories,founded_on"


# ---------------------------------------------------------------------------------------------
# helpers


@pytest.fixture
def admin(admin_token: str) -> dict[str, str]:
    return bearer(admin_token)


def _put_enterprises(api: TestClient, headers: dict[str, str], rows: list[dict[str, Any]]) -> None:
    r = api.put("/v1/admin/enterprises", headers=headers, json=rows)
    assert r.status_code == 200, r.text


def _put_indicators(
    api: TestClient, headers: dict[str, str], period: int, rows: list[dict[str, Any]]
) -> None:
    r = api.put(f"/v1/admin/indicators/{period}", headers=headers, json=rows)
    assert r.status_code == 200, r.text


def _recompute(api: TestClient, headers: dict[str, str], period: int) -> None:
    r = api.post(f"/v1/admin/points/{period}/recompute", headers=headers, json=DEFAULT)
    assert r.status_code == 200, r.text


def _load(
    api: TestClient,
    headers: dict[str, str],
    period: int,
    rows: list[tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    """Upload enterprises and their indicators for a period, then recompute it."""
    _put_enterprises(api, headers, [e for e, _ in rows])
    _put_indicators(api, headers, period, [i for _, i in rows])
    _recompute(api, headers, period)


def _walk(
    api: TestClient, headers: dict[str, str], period: int, limit: int = 500, **filters: str
) -> tuple[list[dict[str, Any]], int, int]:
    """Every item of a ranking, page by page: (items, number of pages, rank_total)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    totals: set[int] = set()
    while True:
        params: dict[str, Any] = {"period": period, "limit": limit, **filters}
        if cursor is not None:
            params["cursor"] = cursor
        r = api.get("/v1/scoring/rankings", headers=headers, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= limit
        items.extend(body["items"])
        totals.add(body["rank_total"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert body["items"], "a page with a next cursor must not be empty"
        assert pages < 500
    assert len(totals) == 1, f"rank_total changed between pages: {totals}"
    return items, pages, totals.pop()


def _order_key(item: dict[str, Any]) -> tuple[int, Decimal, str]:
    return (-item["points"], -Decimal(item["total_exact"]), item["uscc"])


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"].endswith(f"/problems/{slug}"), body
    assert body["status"] == status
    for key in ("title", "detail", "instance", "request_id"):
        assert key in body, body
    return body


def _float_keys(node: Any, key: str = "") -> Iterator[str]:
    """The keys of every non-integral JSON number in a document."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _float_keys(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _float_keys(v, key)
    elif isinstance(node, float):
        yield key


def _diagnosis(api: TestClient, headers: dict[str, str], uscc: str, period: int) -> Any:
    r = api.get(
        f"/v1/scoring/enterprises/{uscc}/diagnosis", headers=headers, params={"period": period}
    )
    assert r.status_code == 200, r.text
    return r.json()


def _rule_ids(items: list[dict[str, Any]]) -> set[str]:
    return {i["rule_id"] for i in items}


# ---------------------------------------------------------------------------------------------
# a period with 105 enterprises, read-only for every test below that uses it


@dataclass(frozen=True)
class Big:
    period: int
    rows: dict[str, tuple[dict[str, Any], dict[str, Any]]]  # uscc → (enterprise, indicators)
    by_index: list[str]  # uscc of row i


BIG_N = 105


def _big_row(i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    u = new_uscc()
    categories = [["tech_sme"], ["high_tech", "tech_sme"], []][i % 3]
    if i % 10 == 0:
        categories = [*categories, "gazelle"]
    ent = enterprise(
        u,
        name=f"泰州测试企业{i:03d}",
        district=DISTRICTS[i % 6],
        # 35 ICT enterprises, 30 of them at the growth stage: exactly the peer-group threshold.
        industry="ict" if i < 35 else OTHER_INDUSTRIES[i % 5],
        stage="startup" if i % 7 == 0 else "growth",
        categories=categories,
    )
    ind = indicators(
        u,
        invention_patents=i % 5,
        utility_models=i % 3,
        rd_expense=f"{200000 + 3000 * i}.00",
        revenue=f"{5000000 + 10000 * i}.00",
        rd_staff=i % 20,
        total_staff=50,
    )
    return ent, ind


@pytest.fixture(scope="module")
def big(api: TestClient, admin_token: str, periods: PeriodPool) -> Big:
    headers = bearer(admin_token)
    rows = [_big_row(i) for i in range(BIG_N)]
    period = periods.fresh()
    _load(api, headers, period, rows)  # one bulk upload each
    return Big(
        period=period,
        rows={e["uscc"]: (e, ind) for e, ind in rows},
        by_index=[e["uscc"] for e, _ in rows],
    )


def test_ranking_lists_everyone_in_documented_order(
    api: TestClient, admin: dict[str, str], big: Big
) -> None:
    items, pages, rank_total = _walk(api, admin, big.period)
    assert pages == 1
    assert rank_total == BIG_N
    assert {i["uscc"] for i in items} == set(big.rows)
    assert [i["rank"] for i in items] == list(range(1, BIG_N + 1))
    assert [i["overall_rank"] for i in items] == list(range(1, BIG_N + 1))
    assert items == sorted(items, key=_order_key)
    percentiles = [i["percentile"] for i in items]
    assert all(0 <= p <= 100 for p in percentiles)
    assert percentiles == sorted(percentiles, reverse=True)
    for item in items:
        ent, _ = big.rows[item["uscc"]]
        assert (item["name"], item["district"], item["industry"], item["stage"]) == (
            ent["name"],
            ent["district"],
            ent["industry"],
            ent["stage"],
        )
        assert sorted(item["categories"]) == sorted(ent["categories"])
        assert isinstance(item["points"], int)
        assert item["points"] == int(Decimal(item["total_exact"]).quantize(Decimal(1)))
    for item in (items[0], items[49], items[-1]):  # the points endpoint agrees
        p = api.get(
            f"/v1/scoring/enterprises/{item['uscc']}/points",
            headers=admin,
            params={"period": big.period},
        ).json()
        assert (p["rank"], p["rank_total"], p["points"], p["total_exact"]) == (
            item["rank"],
            BIG_N,
            item["points"],
            item["total_exact"],
        )
        assert p["percentile"] == item["percentile"]


def test_cursor_pagination_has_no_gaps_or_duplicates(
    api: TestClient, admin: dict[str, str], big: Big
) -> None:
    full, _, _ = _walk(api, admin, big.period)
    paged, pages, rank_total = _walk(api, admin, big.period, limit=7)
    assert pages == math.ceil(BIG_N / 7)
    assert rank_total == BIG_N
    assert [i["uscc"] for i in paged] == [i["uscc"] for i in full]
    assert [i["rank"] for i in paged] == list(range(1, BIG_N + 1))
    again, _, _ = _walk(api, admin, big.period, limit=7)
    assert again == paged  # stable
    # a page size that divides the total exactly ends with a null cursor, not an empty page
    exact, pages, _ = _walk(api, admin, big.period, limit=35)
    assert pages == 3
    assert [i["uscc"] for i in exact] == [i["uscc"] for i in full]
    one = api.get(
        "/v1/scoring/rankings", headers=admin, params={"period": big.period, "limit": 1}
    ).json()
    assert len(one["items"]) == 1
    assert one["next_cursor"]


@pytest.mark.parametrize(
    "filters",
    [
        {"district": "靖江市"},
        {"industry": "ict"},
        {"industry": "energy"},
        {"category": "high_tech"},
        {"category": "gazelle"},
        {"district": "海陵区", "category": "tech_sme"},
    ],
    ids=["district", "industry-ict", "industry-energy", "category", "gazelle", "combined"],
)
def test_filtered_rankings_are_reranked_within_the_filter(
    api: TestClient, admin: dict[str, str], big: Big, filters: dict[str, str]
) -> None:
    full, _, _ = _walk(api, admin, big.period)

    def matches(item: dict[str, Any]) -> bool:
        ent, _ = big.rows[item["uscc"]]
        return (
            ent["district"] == filters.get("district", ent["district"])
            and ent["industry"] == filters.get("industry", ent["industry"])
            and ("category" not in filters or filters["category"] in ent["categories"])
        )

    expected = [i for i in full if matches(i)]
    assert 0 < len(expected) < BIG_N
    got, _, rank_total = _walk(api, admin, big.period, limit=4, **filters)
    assert [i["uscc"] for i in got] == [i["uscc"] for i in expected]
    assert [i["rank"] for i in got] == list(range(1, len(expected) + 1))
    assert [i["overall_rank"] for i in got] == [i["rank"] for i in expected]
    assert rank_total == len(expected)
    assert all(0 <= i["percentile"] <= 100 for i in got)


@pytest.mark.parametrize("limit", ["0", "501", "-1", "abc"])
def test_limit_out_of_bounds_is_422(
    api: TestClient, admin: dict[str, str], big: Big, limit: str
) -> None:
    r = api.get(
        "/v1/scoring/rankings", headers=admin, params={"period": big.period, "limit": limit}
    )
    body = _problem(r, 422, "validation-error")
    assert body["errors"]
    assert body["errors"][0]["loc"][-1] == "limit"


def test_limit_bounds_inclusive(api: TestClient, admin: dict[str, str], big: Big) -> None:
    for limit, size in ((1, 1), (500, BIG_N)):
        r = api.get(
            "/v1/scoring/rankings", headers=admin, params={"period": big.period, "limit": limit}
        )
        assert r.status_code == 200, r.text
        assert len(r.json()["items"]) == size
    default = api.get("/v1/scoring/rankings", headers=admin, params={"period": big.period})
    assert len(default.json()["items"]) == 50


def test_forged_cursor_is_400_invalid_cursor(
    api: TestClient, admin: dict[str, str], big: Big
) -> None:
    real = api.get(
        "/v1/scoring/rankings", headers=admin, params={"period": big.period, "limit": 5}
    ).json()["next_cursor"]
    assert isinstance(real, str)
    middle = len(real) // 2
    flipped = real[:middle] + ("A" if real[middle] != "A" else "B") + real[middle + 1 :]
    for cursor in ("abc", "eyJyYW5rIjogMX0", flipped, real + "x", real[:-4]):
        r = api.get(
            "/v1/scoring/rankings",
            headers=admin,
            params={"period": big.period, "limit": 5, "cursor": cursor},
        )
        _problem(r, 400, "invalid-cursor")


def test_distribution_counts_and_quantiles(
    api: TestClient, admin: dict[str, str], big: Big
) -> None:
    full, _, _ = _walk(api, admin, big.period)
    points = [i["points"] for i in full]
    for bins in (1, 3, 7, 20, 64, 200):
        r = api.get(
            "/v1/scoring/distribution", headers=admin, params={"period": big.period, "bins": bins}
        )
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["period"] == big.period
        assert d["model_version"] == "TZ-2025.1"
        assert d["count"] == BIG_N
        assert (d["min"], d["max"]) == (min(points), max(points))
        assert d["mean"] == pytest.approx(sum(points) / len(points), abs=0.01)
        hist = d["histogram"]
        assert len(hist) == bins
        assert sum(b["count"] for b in hist) == BIG_N, f"bins={bins}"
        assert hist[0]["lower"] == pytest.approx(min(points))
        assert hist[-1]["upper"] == pytest.approx(max(points))
        for left, right in itertools.pairwise(hist):
            assert left["upper"] == pytest.approx(right["lower"])
        assert hist[0]["count"] >= points.count(min(points))
        assert hist[-1]["count"] >= points.count(max(points))
        q = d["quantiles"]
        values = [q[k] for k in ("p10", "p25", "p50", "p75", "p90", "p99") if k in q]
        assert len(values) >= 3
        assert values == sorted(values)
        assert all(min(points) <= v <= max(points) for v in values)
        ordered = sorted(points)
        assert ordered[BIG_N // 2 - 1] <= q["p50"] <= ordered[BIG_N // 2 + 1]
    for bad in ("0", "201", "-3", "x"):
        r = api.get(
            "/v1/scoring/distribution", headers=admin, params={"period": big.period, "bins": bad}
        )
        _problem(r, 422, "validation-error")


def test_diagnosis_waiver_only_for_the_top_100(
    api: TestClient, admin: dict[str, str], big: Big
) -> None:
    full, _, _ = _walk(api, admin, big.period)
    for position in (0, 99, 100, BIG_N - 1):
        item = full[position]
        d = _diagnosis(api, admin, item["uscc"], big.period)
        assert (d["rank"], d["rank_total"], d["points"]) == (position + 1, BIG_N, item["points"])
        waiver = [p for p in d["policies"] if p["rule_id"] == "policy.txb-waiver"]
        if position + 1 <= 100:
            assert len(waiver) == 1, d["policies"]
            assert str(big.period + 1) in waiver[0]["title"]
            assert f"Ranked {position + 1} of {BIG_N} in {big.period}" in waiver[0]["detail"]
        else:
            assert waiver == [], f"rank {position + 1} must not get the 泰信保 waiver"


def test_diagnosis_peer_groups(api: TestClient, admin: dict[str, str], big: Big) -> None:
    growth = sum(1 for e, _ in big.rows.values() if e["stage"] == "growth")
    startup = BIG_N - growth
    ict_growth = sum(
        1 for e, _ in big.rows.values() if e["stage"] == "growth" and e["industry"] == "ict"
    )
    assert ict_growth == 30
    # row 1: ICT, growth → 30 peers of the same stage and industry (the threshold is "at least 30")
    peer = _diagnosis(api, admin, big.by_index[1], big.period)["peer_group"]
    assert (peer["stage"], peer["industry"], peer["size"]) == ("growth", "ict", 30)
    # row 36: equipment, growth → too few of its industry, so every growth enterprise
    peer = _diagnosis(api, admin, big.by_index[36], big.period)["peer_group"]
    assert big.rows[big.by_index[36]][0]["industry"] == "equipment"
    assert (peer["stage"], peer["industry"], peer["size"]) == ("growth", None, growth)
    # row 0: start-up
    peer = _diagnosis(api, admin, big.by_index[0], big.period)["peer_group"]
    assert (peer["stage"], peer["industry"], peer["size"]) == ("startup", None, startup)
    # percentiles are taken within that peer group: the ICT rows have the lowest R&D expense
    # of all growth enterprises, yet row 34 has the highest among its 30 ICT peers
    top_ict = _diagnosis(api, admin, big.by_index[34], big.period)
    assert top_ict["peer_group"]["industry"] == "ict"
    pct = {i["indicator"]: i["percentile"] for i in top_ict["indicators"]}
    assert pct["rd_expense"] >= 90, pct
    low_equipment = _diagnosis(api, admin, big.by_index[36], big.period)
    pct = {i["indicator"]: i["percentile"] for i in low_equipment["indicators"]}
    assert pct["rd_expense"] <= 50, pct  # among all 90 growth enterprises it is mid-table


def test_diagnosis_ranks_in_district_and_industry_are_the_filtered_rankings(
    api: TestClient, admin: dict[str, str], big: Big
) -> None:
    for index in (0, 7, 36, 60, BIG_N - 1):
        u = big.by_index[index]
        ent, _ = big.rows[u]
        d = _diagnosis(api, admin, u, big.period)
        by_district, _, of_district = _walk(api, admin, big.period, district=ent["district"])
        by_industry, _, of_industry = _walk(api, admin, big.period, industry=ent["industry"])
        district_rank = next(i["rank"] for i in by_district if i["uscc"] == u)
        industry_rank = next(i["rank"] for i in by_industry if i["uscc"] == u)
        assert d["ranks"]["district"] == {
            "code": None,
            "name": ent["district"],
            "rank": district_rank,
            "of": of_district,
        }
        assert (d["ranks"]["industry"]["code"], d["ranks"]["industry"]["rank"]) == (
            ent["industry"],
            industry_rank,
        )
        assert d["ranks"]["industry"]["of"] == of_industry
        assert d["enterprise"]["district"] == ent["district"]
        assert sorted(d["enterprise"]["categories"]) == sorted(ent["categories"])
        points = api.get(
            f"/v1/scoring/enterprises/{u}/points", headers=admin, params={"period": big.period}
        ).json()
        assert (d["total_exact"], d["breakdown"]) == (points["total_exact"], points["breakdown"])


def test_diagnosis_percentiles_strengths_and_weaknesses(
    api: TestClient, admin: dict[str, str], big: Big
) -> None:
    startups = [u for u in big.by_index if big.rows[u][0]["stage"] == "startup"]
    assert len(startups) == 15
    diagnoses = [_diagnosis(api, admin, u, big.period) for u in startups]
    rd_pcts = []
    seen: dict[tuple[str, str | None], set[float]] = {}
    for u, d in zip(startups, diagnoses, strict=True):
        for i in d["indicators"]:
            seen.setdefault((i["indicator"], i["value"]), set()).add(i["percentile"])
        assert d["uscc"] == u
        pct = {i["indicator"]: i["percentile"] for i in d["indicators"]}
        assert set(pct) == MODEL_INDICATORS
        assert all(0 <= p <= 100 for p in pct.values()), pct
        strengths, weaknesses = set(d["strengths"]), set(d["weaknesses"])
        assert strengths <= MODEL_INDICATORS
        assert weaknesses <= MODEL_INDICATORS
        assert not strengths & weaknesses
        assert all(pct[s] >= 50 for s in strengths), (pct, strengths)
        assert all(pct[w] <= 50 for w in weaknesses), (pct, weaknesses)
        if strengths and weaknesses:
            assert min(pct[s] for s in strengths) > max(pct[w] for w in weaknesses)
        for item in d["policies"] + d["services"]:
            assert item["rule_id"] in RULE_IDS
            assert item["title"]
            assert item["detail"]
        rd_pcts.append(pct["rd_expense"])
    # equal values among the same peers stand at the same percentile
    assert all(len(p) == 1 for p in seen.values()), seen
    # R&D expense grows with the row number, so its percentile among the start-ups does too
    assert all(a < b for a, b in itertools.pairwise(rd_pcts)), rd_pcts
    # the lowest start-up (row 0) is weak somewhere, the highest (row 98) strong somewhere
    assert diagnoses[0]["weaknesses"]
    assert diagnoses[-1]["strengths"]


# ---------------------------------------------------------------------------------------------
# ties


def test_ties_are_broken_by_exact_total_then_uscc(
    api: TestClient, admin: dict[str, str], period: int
) -> None:
    codes = sorted(new_uscc() for _ in range(9))
    top, tied, bottom, a = codes[0], codes[1:7], codes[7], codes[8]

    def row(u: str, patents: int, rd: str) -> tuple[dict[str, Any], dict[str, Any]]:
        return enterprise(u), indicators(
            u, invention_patents=patents, rd_expense=rd, revenue="1000000.00"
        )

    rows = [
        row(top, 2, "100000.00"),
        row(a, 1, "109000.00"),  # 45.2994 → 45 points, the largest USCC of all
        *(row(u, 1, "103000.00") for u in tied),  # 45.1027 → 45 points, six identical
        row(bottom, 0, "100000.00"),
    ]
    _load(api, admin, period, list(reversed(rows)))
    items, _, rank_total = _walk(api, admin, period)
    assert rank_total == 9
    assert [i["uscc"] for i in items] == [top, a, *tied, bottom]
    assert [i["rank"] for i in items] == list(range(1, 10))
    assert items[1]["points"] == items[2]["points"] == 45
    assert Decimal(items[1]["total_exact"]) > Decimal(items[2]["total_exact"])
    assert len({i["total_exact"] for i in items[2:8]}) == 1
    for limit in (2, 3, 4):  # page boundaries inside the tied group
        paged, _, _ = _walk(api, admin, period, limit=limit)
        assert [i["uscc"] for i in paged] == [i["uscc"] for i in items], limit
    for item in items:  # the points endpoint gives the same unique ranks
        p = api.get(
            f"/v1/scoring/enterprises/{item['uscc']}/points",
            headers=admin,
            params={"period": period},
        ).json()
        assert (p["rank"], p["rank_total"]) == (item["rank"], 9)
    _recompute(api, admin, period)
    again, _, _ = _walk(api, admin, period)
    assert [i["uscc"] for i in again] == [i["uscc"] for i in items]


def test_tied_enterprises_share_a_percentile(
    api: TestClient, admin: dict[str, str], period: int
) -> None:
    top, *tied = (new_uscc() for _ in range(4))
    rows = [(enterprise(top), indicators(top, invention_patents=1))]
    rows += [(enterprise(u), indicators(u)) for u in tied]
    _load(api, admin, period, rows)
    items, _, _ = _walk(api, admin, period)
    assert items[0]["uscc"] == top
    assert len({(i["points"], i["total_exact"]) for i in items[1:]}) == 1
    percentiles = {i["percentile"] for i in items[1:]}
    assert len(percentiles) == 1, percentiles
    assert items[0]["percentile"] > percentiles.pop()


def test_distribution_when_everyone_has_the_same_points(
    api: TestClient, admin: dict[str, str], period: int
) -> None:
    codes = [new_uscc() for _ in range(3)]
    _load(api, admin, period, [(enterprise(u), indicators(u)) for u in codes])
    for bins in (1, 5):
        d = api.get(
            "/v1/scoring/distribution", headers=admin, params={"period": period, "bins": bins}
        )
        assert d.status_code == 200, d.text
        body = d.json()
        assert (body["count"], body["min"], body["max"]) == (3, 5, 5)
        assert sum(b["count"] for b in body["histogram"]) == 3
        assert all(v == 5 for v in body["quantiles"].values())


def test_rd_expense_without_revenue_is_scored(
    api: TestClient, admin: dict[str, str], period: int
) -> None:
    """R&D spend and no revenue yet (a start-up): intensity is undefined, not a crash."""
    u = new_uscc()
    _load(
        api,
        admin,
        period,
        [(enterprise(u, stage="startup"), indicators(u, rd_expense="1000000.00", total_staff=0))],
    )
    p = api.get(f"/v1/scoring/enterprises/{u}/points", headers=admin, params={"period": period})
    assert p.status_code == 200, p.text
    items = {i["indicator"]: i for i in p.json()["breakdown"]}
    assert items["rd_intensity"]["value"] is None
    assert items["rd_staff_ratio"]["value"] is None
    d = _diagnosis(api, admin, u, period)
    assert "service.rd-accounting" in _rule_ids(d["services"])  # intensity unknown
    assert "service.talent" in _rule_ids(d["services"])  # staff ratio unknown


# ---------------------------------------------------------------------------------------------
# diagnosis rules


def test_diagnosis_lists_follow_the_rules(
    api: TestClient, admin: dict[str, str], periods: PeriodPool
) -> None:
    period = periods.fresh(previous=True)
    e1, e2, e3, e4, e5, e6, e7, e8, e9 = (new_uscc() for _ in range(9))
    _put_enterprises(
        api,
        admin,
        [
            enterprise(e1, name="榕兴医疗", categories=["high_tech"]),
            enterprise(e2, categories=["tech_sme"]),
            enterprise(e3, stage="mature", categories=["tech_sme"]),
            enterprise(e4, stage="startup", categories=[]),
            enterprise(e5, categories=[]),
            enterprise(e6),
            enterprise(e7),
            enterprise(e8, stage="mature"),
            enterprise(e9, stage="startup"),
        ],
    )
    _put_indicators(api, admin, period - 1, [indicators(e1, revenue="80000000.00")])
    _put_indicators(
        api,
        admin,
        period,
        [
            indicators(
                e1,
                invention_patents=3,
                utility_models=4,
                software_copyrights=7,
                rd_expense="10000000.00",
                revenue="100000000.00",
                rd_staff=25,
                total_staff=100,
                equity_financing="10000000.00",
                awards_provincial=1,
            ),
            indicators(e2),
            indicators(e3, invention_patents=5, total_staff=600),
            indicators(
                e4,
                invention_patents=1,
                rd_expense="1000000.00",
                revenue="10000000.00",
                jbgs_funds_paid="500.00",
            ),
            # exactly on the thresholds: intensity 0.03, R&D staff ratio 0.10
            indicators(
                e5,
                invention_patents=4,
                rd_expense="300000.00",
                revenue="10000000.00",
                rd_staff=1,
                total_staff=10,
            ),
            indicators(e6, invention_patents=2),
            indicators(e7, invention_patents=2),
            indicators(e8),
            indicators(e9),
        ],
    )
    _recompute(api, admin, period)
    expected = {
        e1: (
            169,
            {
                "policy.txb-waiver",
                "policy.tech-sme-evaluation",
                "policy.gazelle-cultivation",
                "policy.rd-super-deduction",
            },
            {"service.innovation-credit"},
        ),
        e2: (
            5,
            {"policy.txb-waiver"},
            {
                "service.ip-layout",
                "service.rd-accounting",
                "service.equity-financing",
                "service.talent",
            },
        ),
        e3: (50, {"policy.txb-waiver"}, {"service.rd-accounting", "service.talent"}),
        e4: (
            64,
            {
                "policy.txb-waiver",
                "policy.jbgs-subsidy",
                "policy.high-tech-recognition",
                "policy.tech-sme-evaluation",
                "policy.rd-super-deduction",
            },
            {"service.equity-financing", "service.talent"},
        ),
        e5: (
            69,
            {
                "policy.txb-waiver",
                "policy.high-tech-recognition",
                "policy.tech-sme-evaluation",
                "policy.rd-super-deduction",
            },
            {"service.equity-financing"},
        ),
    }
    for u, (points, policies, services) in expected.items():
        d = _diagnosis(api, admin, u, period)
        assert d["points"] == points, u
        assert _rule_ids(d["policies"]) == policies, (u, d["policies"])
        assert _rule_ids(d["services"]) == services, (u, d["services"])
        for item in d["policies"] + d["services"]:
            assert item["rule_id"]
            assert "{" not in item["title"] + item["detail"], item  # every placeholder filled
            if item["rule_id"] != "policy.jbgs-subsidy":
                assert item.get("amount") is None


@pytest.mark.parametrize(
    ("paid", "amount"),
    [
        ("1000.05", "200.01"),
        ("12345.67", "2469.13"),
        ("500.00", "100.00"),
        ("0.03", "0.01"),  # 0.006 rounds half-up to a cent
        ("1234567890123.45", "246913578024.69"),  # beyond float precision
        ("9999999999999.99", "2000000000000.00"),
    ],
)
def test_jbgs_subsidy_is_exactly_20_percent(
    api: TestClient, admin: dict[str, str], period: int, paid: str, amount: str
) -> None:
    u, nothing_paid = new_uscc(), new_uscc()
    _load(
        api,
        admin,
        period,
        [
            (enterprise(u), indicators(u, jbgs_funds_paid=paid)),
            (enterprise(nothing_paid), indicators(nothing_paid)),
        ],
    )
    r = api.get(f"/v1/scoring/enterprises/{u}/diagnosis", headers=admin, params={"period": period})
    assert r.status_code == 200, r.text
    subsidy = [p for p in r.json()["policies"] if p["rule_id"] == "policy.jbgs-subsidy"]
    assert len(subsidy) == 1
    assert isinstance(subsidy[0]["amount"], str)
    assert MONEY.match(subsidy[0]["amount"])
    assert subsidy[0]["amount"] == amount
    assert f'"amount":"{amount}"' in r.content.decode().replace(" ", "")
    other = _diagnosis(api, admin, nothing_paid, period)
    assert "policy.jbgs-subsidy" not in _rule_ids(other["policies"])


# ---------------------------------------------------------------------------------------------
# errors


def test_not_found_problems(api: TestClient, admin: dict[str, str], periods: PeriodPool) -> None:
    period, never = periods.fresh(), periods.fresh()
    u, late = new_uscc(), new_uscc()
    _load(api, admin, period, [(enterprise(u), indicators(u))])
    unknown = new_uscc()
    for path in ("", "/points", "/diagnosis"):
        r = api.get(
            f"/v1/scoring/enterprises/{unknown}{path}", headers=admin, params={"period": period}
        )
        body = _problem(r, 404, "enterprise-not-found")
        assert body["instance"] == f"/v1/scoring/enterprises/{unknown}{path}"
    for path in (f"/enterprises/{u}/points", f"/enterprises/{u}/diagnosis"):
        r = api.get(f"/v1/scoring{path}", headers=admin, params={"period": never})
        body = _problem(r, 404, "points-not-found")
        assert str(never) in body["detail"]
    for path in ("/rankings", "/distribution"):
        r = api.get(f"/v1/scoring{path}", headers=admin, params={"period": never})
        _problem(r, 404, "points-not-found")
    # an enterprise registered after the recompute has no points in that period
    _put_enterprises(api, admin, [enterprise(late)])
    for path in ("/points", "/diagnosis"):
        r = api.get(
            f"/v1/scoring/enterprises/{late}{path}", headers=admin, params={"period": period}
        )
        _problem(r, 404, "points-not-found")


@pytest.mark.parametrize(
    "bad",
    [
        "91321200MA1N2X3Y47",  # wrong check digit
        "91321200MA1N2X3Y4",  # 17 characters
        "91321200MA1N2X3Y466",  # 19 characters
        "91321200MI1N2X3Y46",  # I is not in the charset
        "91321200ma1n2x3y47",  # lower case, wrong check digit
    ],
)
def test_invalid_uscc_in_path_is_422(api: TestClient, admin: dict[str, str], bad: str) -> None:
    for path in ("", "/points", "/diagnosis"):
        r = api.get(f"/v1/scoring/enterprises/{bad}{path}", headers=admin)
        _problem(r, 422, "invalid-uscc")


def test_lower_case_uscc_is_accepted_and_upper_cased(
    api: TestClient, admin: dict[str, str], period: int
) -> None:
    u = new_uscc()
    _load(api, admin, period, [(enterprise(u), indicators(u))])
    for path in ("", "/points", "/diagnosis"):
        r = api.get(
            f"/v1/scoring/enterprises/{u.lower()}{path}", headers=admin, params={"period": period}
        )
        assert r.status_code == 200, r.text
        assert r.json()["uscc"] == u


@pytest.mark.parametrize("bad", ["1999", "2101", "twenty"])
def test_period_out_of_range_is_422(api: TestClient, admin: dict[str, str], bad: str) -> None:
    u = new_uscc()
    for path in ("/rankings", "/distribution", f"/enterprises/{u}/points"):
        r = api.get(f"/v1/scoring{path}", headers=admin, params={"period": bad})
        _problem(r, 422, "validation-error")


# ---------------------------------------------------------------------------------------------
# wire format


def test_no_floats_for_money_and_chinese_unescaped(
    api: TestClient, admin: dict[str, str], period: int
) -> None:
    u, v = new_uscc(), new_uscc()
    _load(
        api,
        admin,
        period,
        [
            (
                enterprise(u, name="榕兴医疗", district="高港区", categories=["high_tech"]),
                indicators(
                    u,
                    invention_patents=3,
                    rd_expense="1234567.89",
                    revenue="98765432.10",
                    rd_staff=3,
                    total_staff=40,
                    equity_financing="2500000.50",
                    jbgs_funds_paid="3333.33",
                ),
            ),
            (enterprise(v, name="泰兴初创"), indicators(v)),
        ],
    )
    responses = [
        api.get(f"/v1/scoring/enterprises/{u}", headers=admin),
        api.get(f"/v1/scoring/enterprises/{u}/points", headers=admin, params={"period": period}),
        api.get(f"/v1/scoring/enterprises/{u}/diagnosis", headers=admin, params={"period": period}),
        api.get("/v1/scoring/rankings", headers=admin, params={"period": period}),
        api.get("/v1/scoring/distribution", headers=admin, params={"period": period}),
    ]
    for r in responses:
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        assert "charset" not in r.headers["content-type"] or "utf-8" in r.headers[
            "content-type"
        ].lower().replace("_", "-")
        assert b"\\u" not in r.content, r.content[:200]
        floats = set(_float_keys(r.json()))
        assert floats <= FLOAT_KEYS, f"{r.url}: floats under {floats - FLOAT_KEYS}"
    for r, text in zip(responses, ["榕兴医疗", "高新技术企业", "泰信保", "泰兴初创"], strict=False):
        assert text.encode() in r.content
    diagnosis = responses[2].json()
    assert "泰信保".encode() in responses[2].content
    amounts = [i["amount"] for i in diagnosis["policies"] + diagnosis["services"]]
    assert "666.67" in amounts  # 20% of 3333.33 = 666.666
    assert all(a is None or MONEY.match(a) for a in amounts)
    # errors are UTF-8 too
    missing = api.get(f"/v1/scoring/enterprises/{new_uscc()}", headers=admin)
    assert b"\\u" not in missing.content


# ---------------------------------------------------------------------------------------------
# bulk uploads


def _csv(admin: dict[str, str]) -> dict[str, str]:
    return {**admin, "Content-Type": "text/csv"}


def _csv_row(u: str, name: str = "甲企业") -> str:
    return f"{u},{name},海陵区,health,growth,tech_sme,2015-01-01"


EnterpriseCase = Callable[[str, str, str], tuple[dict[str, Any], set[int] | None]]


def _case_empty_csv(u: str, v: str, existing: str) -> tuple[dict[str, Any], set[int] | None]:
    return {"content": b"", "csv": True}, None


def _case_header_only(u: str, v: str, existing: str) -> tuple[dict[str, Any], set[int] | None]:
    return {"content": (CSV_HEADER + "\n").encode(), "csv": True}, None


def _case_no_header(u: str, v: str, existing: str) -> tuple[dict[str, Any], set[int] | None]:
    body = "\n".join([_csv_row(existing, "改名了"), _csv_row(u), _csv_row(v)]) + "\n"
    return {"content": body.encode(), "csv": True}, None


def _case_more_cells(u: str, v: str, existing: str) -> tuple[dict[str, Any], set[int] | None]:
    body = "\n".join(
        [CSV_HEADER, _csv_row(existing, "改名了"), _csv_row(u) + ",extra", _csv_row(v)]
    )
    return {"content": body.encode(), "csv": True}, {2}  # data rows count from 1


def _case_fewer_cells(u: str, v: str, existing: str) -> tuple[dict[str, Any], set[int] | None]:
    body = "\n".join(
        [
            CSV_HEADER,
            _csv_row(existing, "改名了"),
            f"{u},甲企业,海陵区,health,growth",  # categories and founded_on cells missing
            _csv_row(v),
        ]
    )
    return {"content": body.encode(), "csv": True}, {2}


def _case_duplicate(u: str, v: str, existing: str) -> tuple[dict[str, Any], set[int] | None]:
    rows = [enterprise(existing, name="改名了"), enterprise(u), enterprise(v), enterprise(u)]
    return {"json": rows}, {4}


def _case_duplicate_lower(u: str, v: str, existing: str) -> tuple[dict[str, Any], set[int] | None]:
    body = "\n".join([CSV_HEADER, _csv_row(existing, "改名了"), _csv_row(u), _csv_row(u.lower())])
    return {"content": body.encode(), "csv": True}, {3}


def _case_unknown_industry(u: str, v: str, existing: str) -> tuple[dict[str, Any], set[int] | None]:
    rows = [enterprise(existing, name="改名了"), enterprise(u, industry="mining"), enterprise(v)]
    return {"json": rows}, {2}


def _case_object_without_items(
    u: str, v: str, existing: str
) -> tuple[dict[str, Any], set[int] | None]:
    return {"json": {"rows": [enterprise(existing, name="改名了"), enterprise(u)]}}, None


def _case_items_with_unknown_key(
    u: str, v: str, existing: str
) -> tuple[dict[str, Any], set[int] | None]:
    rows = [enterprise(existing, name="改名了"), enterprise(u)]
    return {"json": {"items": rows, "period": 2025}}, None


def _case_unknown_column(u: str, v: str, existing: str) -> tuple[dict[str, Any], set[int] | None]:
    body = "\n".join(
        [CSV_HEADER + ",website", _csv_row(existing, "改名了") + ",x", _csv_row(u) + ",y"]
    )
    return {"content": body.encode(), "csv": True}, None


@pytest.mark.parametrize(
    "case",
    [
        _case_empty_csv,
        _case_header_only,
        _case_no_header,
        _case_more_cells,
        _case_fewer_cells,
        _case_duplicate,
        _case_duplicate_lower,
        _case_unknown_industry,
        _case_object_without_items,
        _case_items_with_unknown_key,
        _case_unknown_column,
    ],
    ids=lambda c: c.__name__.removeprefix("_case_"),
)
def test_bad_enterprise_file_is_rejected_whole(
    api: TestClient, admin: dict[str, str], case: EnterpriseCase
) -> None:
    existing, u, v = new_uscc(), new_uscc(), new_uscc()
    _put_enterprises(api, admin, [enterprise(existing, name="原名")])
    request, bad_rows = case(u, v, existing)
    headers = _csv(admin) if request.pop("csv", False) else admin
    r = api.put("/v1/admin/enterprises", headers=headers, **request)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    for key in ("type", "title", "status", "detail", "instance", "request_id"):
        assert key in body
    assert body["errors"], body
    for error in body["errors"]:
        assert error["loc"]
        assert error["msg"]
    if bad_rows is not None:
        assert {e["loc"][1] for e in body["errors"]} == bad_rows, body["errors"]
        assert all(e["loc"][0] == "row" for e in body["errors"])
    # nothing was written
    assert api.get(f"/v1/scoring/enterprises/{u}", headers=admin).status_code == 404
    assert api.get(f"/v1/scoring/enterprises/{v}", headers=admin).status_code == 404
    assert api.get(f"/v1/scoring/enterprises/{existing}", headers=admin).json()["name"] == "原名"


def test_bad_indicator_file_is_rejected_whole(
    api: TestClient, admin: dict[str, str], period: int
) -> None:
    a, b = new_uscc(), new_uscc()
    _load(
        api,
        admin,
        period,
        [
            (enterprise(a), indicators(a, invention_patents=2)),
            (enterprise(b), indicators(b, invention_patents=1)),
        ],
    )

    def points() -> list[int]:
        return [
            api.get(
                f"/v1/scoring/enterprises/{u}/points", headers=admin, params={"period": period}
            ).json()["points"]
            for u in (a, b)
        ]

    before = points()
    assert before == [25, 15]
    bad_files: list[tuple[Any, set[int] | None]] = [
        ([indicators(a, invention_patents=5), indicators(b, rd_expense=1000.5)], {2}),
        ([indicators(a, invention_patents=5), indicators(b, rd_expense=1000)], {2}),
        ([indicators(a, invention_patents=5), indicators(b, jbgs_funds_paid="1.005")], {2}),
        ([indicators(a, invention_patents=5), indicators(b), indicators(a)], {3}),
        ([indicators(a, invention_patents=5), indicators(b, revenue="-1.00")], {2}),
        ({"rows": [indicators(a, invention_patents=5)]}, None),
        ([], None),
    ]
    for body, rows in bad_files:
        r = api.put(f"/v1/admin/indicators/{period}", headers=admin, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        errors = r.json()["errors"]
        assert errors
        if rows is not None:
            assert {e["loc"][1] for e in errors} == rows, errors
    r = api.put(f"/v1/admin/indicators/{period}", headers=_csv(admin), content=b"")
    assert r.status_code == 422
    _recompute(api, admin, period)
    assert points() == before  # nothing was written


def test_csv_quoting_crlf_bom_and_column_order(api: TestClient, admin: dict[str, str]) -> None:
    u, v = new_uscc(), new_uscc()
    body = (
        "\ufeffname,founded_on,uscc,district,industry,stage,categories\r\n"
        f'"泰州,科技 ""新""",,{u.lower()},姜堰区,energy,seed,\r\n'
        f"兴化装备,2001-12-31,{v},兴化市,equipment,mature,leading_innovator|gazelle\r\n"
        "\r\n"
    )
    r = api.put("/v1/admin/enterprises", headers=_csv(admin), content=body.encode())
    assert r.status_code == 200, r.text
    assert r.json() == {"received": 2, "created": 2, "updated": 0}
    got = api.get(f"/v1/scoring/enterprises/{u}", headers=admin).json()
    assert (got["uscc"], got["name"], got["district"], got["industry"], got["stage"]) == (
        u,
        '泰州,科技 "新"',
        "姜堰区",
        "energy",
        "seed",
    )
    assert got["categories"] == []
    assert got["founded_on"] is None
    got = api.get(f"/v1/scoring/enterprises/{v}", headers=admin).json()
    assert got["categories"] == ["gazelle", "leading_innovator"]
    assert got["founded_on"] == "2001-12-31"


def test_csv_with_a_duplicated_header_column_is_rejected(
    api: TestClient, admin: dict[str, str]
) -> None:
    u, v = new_uscc(), new_uscc()
    _put_enterprises(api, admin, [enterprise(u, name="U原名"), enterprise(v, name="V原名")])
    body = f"{CSV_HEADER},uscc\n{_csv_row(v, '改名了')},{u}\n"
    r = api.put("/v1/admin/enterprises", headers=_csv(admin), content=body.encode())
    names = [api.get(f"/v1/scoring/enterprises/{x}", headers=admin).json()["name"] for x in (u, v)]
    assert names == ["U原名", "V原名"]
    assert r.status_code == 422, r.text


def test_boolean_count_is_rejected(api: TestClient, admin: dict[str, str], period: int) -> None:
    u = new_uscc()
    _put_enterprises(api, admin, [enterprise(u)])
    r = api.put(
        f"/v1/admin/indicators/{period}",
        headers=admin,
        json=[indicators(u, invention_patents=True)],
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"][:3] == ["row", 1, "invention_patents"]


def test_money_indicator_values_have_two_decimals(
    api: TestClient, admin: dict[str, str], period: int
) -> None:
    u = new_uscc()
    money = {
        "rd_expense": "1000000.00",
        "revenue": "2000000.50",
        "equity_financing": "3000000.25",
    }
    _load(api, admin, period, [(enterprise(u), indicators(u, **money))])
    p = api.get(f"/v1/scoring/enterprises/{u}/points", headers=admin, params={"period": period})
    d = _diagnosis(api, admin, u, period)
    for listing in (p.json()["breakdown"], d["indicators"]):
        values = {i["indicator"]: i["value"] for i in listing if i["indicator"] in money}
        assert values == money


def test_the_latest_recompute_is_the_ranking(
    api: TestClient, admin: dict[str, str], period: int
) -> None:
    a, b = new_uscc(), new_uscc()
    _load(
        api,
        admin,
        period,
        [
            (enterprise(a), indicators(a, invention_patents=3)),  # 35, or 65 with 20/patent
            (enterprise(b), indicators(b, awards_national=2, utility_models=1)),  # 37
        ],
    )
    definition = api.get("/v1/scoring/models/TZ-2025.1", headers=admin).json()["definition"]
    definition["version"] = "TEST-CONTRACT-" + uuid.uuid4().hex[:8]
    for rule in definition["indicators"]:
        if rule["indicator"] == "invention_patents":
            rule["transform"] = {"type": "linear", "per_unit": "20", "cap": "100"}
    version = definition["version"]
    assert api.post("/v1/admin/models", headers=admin, json=definition).status_code == 201
    assert api.post(f"/v1/admin/models/{version}/publish", headers=admin).status_code == 200

    def state() -> tuple[str, list[str], int, int, int, str, str]:
        ranking = api.get("/v1/scoring/rankings", headers=admin, params={"period": period}).json()
        points = api.get(
            f"/v1/scoring/enterprises/{a}/points", headers=admin, params={"period": period}
        ).json()
        diagnosis = _diagnosis(api, admin, a, period)
        dist = api.get("/v1/scoring/distribution", headers=admin, params={"period": period})
        assert ranking["model_version"] == points["model_version"] == diagnosis["model_version"]
        return (
            ranking["model_version"],
            [i["uscc"] for i in ranking["items"]],
            points["points"],
            diagnosis["points"],
            dist.json()["max"],
            dist.json()["model_version"],
            points["model_version"],
        )

    assert state() == ("TZ-2025.1", [b, a], 35, 35, 37, "TZ-2025.1", "TZ-2025.1")
    r = api.post(
        f"/v1/admin/points/{period}/recompute", headers=admin, json={"model_version": version}
    )
    assert r.status_code == 200, r.text
    assert state() == (version, [a, b], 65, 65, 65, version, version)
    _recompute(api, admin, period)  # back to the default model: the latest recompute wins
    assert state() == ("TZ-2025.1", [b, a], 35, 35, 37, "TZ-2025.1", "TZ-2025.1")


# ---------------------------------------------------------------------------------------------
# auth


def test_bank_reads_scoring_but_cannot_write(
    api: TestClient, admin: dict[str, str], bank_token: str, period: int
) -> None:
    u = new_uscc()
    _load(api, admin, period, [(enterprise(u), indicators(u))])
    bank = bearer(bank_token)
    for path in (
        f"/enterprises/{u}",
        f"/enterprises/{u}/points",
        f"/enterprises/{u}/diagnosis",
        "/rankings",
        "/distribution",
    ):
        r = api.get(f"/v1/scoring{path}", headers=bank, params={"period": period})
        assert r.status_code == 200, (path, r.text)
    writes = [
        ("PUT", "/v1/admin/enterprises", [enterprise(u, name="改名了")]),
        ("PUT", f"/v1/admin/indicators/{period}", [indicators(u, invention_patents=9)]),
        ("POST", f"/v1/admin/points/{period}/recompute", DEFAULT),
        ("POST", "/v1/admin/models/TZ-2025.1/publish", None),
    ]
    for method, path, body in writes:
        r = api.request(method, path, headers=bank, json=body)
        _problem(r, 403, "insufficient-scope")
    assert api.get(f"/v1/scoring/enterprises/{u}", headers=admin).json()["name"] == "测试企业"


def test_credit_firm_cannot_read_scoring(
    api: TestClient, admin: dict[str, str], make_client: Callable[..., Creds], period: int
) -> None:
    u = new_uscc()
    _load(api, admin, period, [(enterprise(u), indicators(u))])
    firm = bearer(get_token(api, make_client("credit_firm", name="征信公司", firm_code="ZXC1")))
    for path in (
        f"/enterprises/{u}",
        f"/enterprises/{u}/points",
        f"/enterprises/{u}/diagnosis",
        "/rankings",
        "/distribution",
    ):
        r = api.get(f"/v1/scoring{path}", headers=firm, params={"period": period})
        _problem(r, 403, "insufficient-scope")
    r = api.get("/v1/scoring/rankings", params={"period": period})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
