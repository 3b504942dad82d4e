"""`?as_of=`: a past answer, given again byte for byte (issue 16 §4).

One world on the live app, the clock moved by hand through 2096: a period ranked with model
A, then model B published and the period recomputed, then a product and the fee rate changed,
then the 2096 calendar loaded, then an enterprise renamed. Before each change the test keeps
the bodies the service served; afterwards `as_of` each of those instants gives them again,
byte-equal. 2096 is this module's calendar year: no other test loads or reads it.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared.clock import use_clock
from shared.timestamps import format_instant
from tests.factories import (
    A_INDICATORS,
    B_INDICATORS,
    Creds,
    Factory,
    enterprise,
    get_token,
)
from tests.periods import PeriodPool

START = datetime(2096, 3, 5, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
STEP = timedelta(minutes=10)  # tokens live 15 minutes: a fresh one every step


@dataclass
class World:
    """The moving clock, a fresh operator at each instant, and the world's names."""

    api: TestClient
    make_client: Callable[..., Creds]
    now: datetime = START
    period: int = 0
    bank: str = ""
    product: str = ""
    firms: tuple[str, ...] = ()
    application: str = ""

    def factory(self) -> Factory:
        return Factory(self.api, get_token(self.api, self.make_client("admin")), self.make_client)

    def step(self) -> datetime:
        self.now += STEP
        return self.now

    def reads(self) -> dict[str, tuple[str, str, dict[str, Any], dict[str, Any] | None]]:
        """Every answer that depends on changing rules: (method, path, params, JSON body);
        a name ending in `.csv` is asked for as CSV."""
        a, p = self.firms[0], self.period
        ranking = {"period": p}
        return {
            "points": ("GET", f"/v1/scoring/enterprises/{a}/points", ranking, None),
            "diagnosis": ("GET", f"/v1/scoring/enterprises/{a}/diagnosis", ranking, None),
            "ranking": ("GET", "/v1/scoring/rankings", {**ranking, "limit": 2}, None),
            "ranking.csv": ("GET", "/v1/scoring/rankings", ranking, None),
            "distribution": ("GET", "/v1/scoring/distribution", {**ranking, "bins": 5}, None),
            "waiver": ("GET", f"/v1/guarantee/enterprises/{a}/waiver", {"year": p + 1}, None),
            "waivers": ("GET", f"/v1/guarantee/waivers/{p + 1}", {}, None),
            "loan quote": ("GET", f"/v1/loans/products/{self.product}/quote", {"uscc": a}, None),
            "fee quote": (
                "POST",
                "/v1/guarantee/quotes",
                {},
                {"uscc": a, "amount": "1000000.00", "term_months": 12, "year": p + 1},
            ),
            "deadline": (
                "GET",
                "/v1/loans/deadline",
                {"submitted_at": "2096-03-05T10:00:00+08:00"},
                None,
            ),
            "application deadline": (
                "GET",
                f"/v1/loans/applications/{self.application}/deadline",
                {},
                None,
            ),
        }

    def served(self, as_of: datetime | None = None) -> dict[str, bytes]:
        """The bodies served now (or `as_of`), every one 200."""
        admin = self.factory().admin
        out: dict[str, bytes] = {}
        for name, (method, path, params, body) in self.reads().items():
            query = {**params, **({"as_of": format_instant(as_of)} if as_of else {})}
            headers = {**admin, **({"Accept": "text/csv"} if name.endswith(".csv") else {})}
            r = self.api.request(method, path, params=query, json=body, headers=headers)
            assert r.status_code == 200, (name, r.text)
            out[name] = r.content
        return out


@pytest.fixture(scope="module")
def history(
    api: TestClient, make_client: Callable[..., Creds], periods: PeriodPool
) -> tuple[World, list[tuple[datetime, dict[str, bytes]]]]:
    """The world, and the bodies served at each instant before a change."""
    world = World(api, make_client)
    moment = [START]
    kept: list[tuple[datetime, dict[str, bytes]]] = []
    with use_clock(lambda: moment[0]):

        def keep() -> None:
            moment[0] = world.step()
            kept.append((moment[0], world.served()))
            moment[0] = world.step()

        make = world.factory()
        world.period = periods.fresh()
        world.firms = tuple(
            make.ranked(
                world.period,
                [A_INDICATORS, B_INDICATORS, {"invention_patents": 1}],
                enterprise_overrides=[{"name": "甲科技有限公司"}, {}, {}],
            )
        )
        world.bank = make.bank(name="泰州银行")
        world.product = make.product(world.bank, min_points=80)
        fee = {"effective_year": world.period + 1, "rate": "0.0100", "note": "as_of"}
        assert api.post("/v1/admin/fee-rates", headers=make.admin, json=fee).status_code == 201
        moment[0] += timedelta(minutes=1)  # the application comes a minute after the ranking
        world.application = make.application(
            world.bank, world.product, world.firms[0], submitted_at=moment[0]
        ).id
        keep()  # model A

        make = world.factory()
        model = copy.deepcopy(
            api.get("/v1/scoring/models/TZ-2025.1", headers=make.admin).json()["definition"]
        )
        model["version"] = "ASOF-B-" + uuid.uuid4().hex[:8]
        for rule in model["indicators"]:
            if rule["indicator"] == "invention_patents":
                rule["weight"] = str(2 * float(rule["weight"]))
        assert api.post("/v1/admin/models", headers=make.admin, json=model).status_code == 201
        published = api.post(f"/v1/admin/models/{model['version']}/publish", headers=make.admin)
        assert published.status_code == 200, published.text
        make.recompute(world.period, model["version"])
        keep()  # model B

        make = world.factory()
        make.product(world.bank, world.product, min_points=120)
        fee["rate"] = "0.0150"
        assert api.post("/v1/admin/fee-rates", headers=make.admin, json=fee).status_code == 201
        keep()  # the product and the fee rate changed

        make = world.factory()
        loaded = api.put(
            "/v1/admin/calendar/2096",
            headers=make.admin,
            json={"holidays": ["2096-03-06"], "make_up_workdays": []},
        )
        assert loaded.status_code == 200, loaded.text
        assert loaded.json()["recomputed_applications"] >= 1
        keep()  # the calendar loaded

        make = world.factory()
        make.enterprises([enterprise(world.firms[0], name="甲科技集团有限公司")])
        keep()  # the enterprise renamed (the current answer)
    return world, kept  # each test sets the clock after the world's last instant


def test_as_of_each_instant_gives_the_bodies_served_then(
    history: tuple[World, list[tuple[datetime, dict[str, bytes]]]],
) -> None:
    world, kept = history
    # Each change changed something: the captured answers are not all the same.
    for name in ("points", "ranking", "waiver", "loan quote", "fee quote", "deadline"):
        assert len({bodies[name] for _, bodies in kept}) > 1, name
    assert "甲科技集团有限公司".encode() not in kept[0][1]["ranking.csv"]
    assert "甲科技集团有限公司".encode() in kept[-1][1]["ranking.csv"]
    with use_clock(lambda: world.now + STEP):
        for at, bodies in kept:
            again = world.served(as_of=at)
            for name, body in bodies.items():
                assert again[name] == body, (format_instant(at), name)


def test_an_instant_ahead_gives_the_current_answer(
    history: tuple[World, list[tuple[datetime, dict[str, bytes]]]],
) -> None:
    world, kept = history
    with use_clock(lambda: world.now + STEP):
        assert world.served(as_of=world.now + timedelta(days=365)) == world.served()
        assert world.served() == kept[-1][1]


def test_a_cursor_pages_its_ranking_run_only(
    history: tuple[World, list[tuple[datetime, dict[str, bytes]]]],
    api: TestClient,
) -> None:
    world, kept = history
    at, bodies = kept[0]
    then = {"period": world.period, "limit": 2, "as_of": format_instant(at)}
    with use_clock(lambda: world.now + STEP):
        admin = world.factory().admin
        first = api.get("/v1/scoring/rankings", headers=admin, params=then)
        assert first.content == bodies["ranking"]
        cursor = first.json()["next_cursor"]
        assert cursor is not None
        second = api.get("/v1/scoring/rankings", headers=admin, params={**then, "cursor": cursor})
        assert second.status_code == 200, second.text
        assert [e["rank"] for e in second.json()["items"]] == [3]
        # Now the period's ranking is another run (model B): its pages refuse that cursor.
        now = {"period": world.period, "limit": 2, "cursor": cursor}
        refused = api.get("/v1/scoring/rankings", headers=admin, params=now)
        assert refused.status_code == 400, refused.text
        assert refused.json()["type"].endswith("/problems/invalid-cursor")


def test_bad_and_too_early_instants_are_problems(
    history: tuple[World, list[tuple[datetime, dict[str, bytes]]]],
    api: TestClient,
) -> None:
    world, _ = history
    with use_clock(lambda: world.now + STEP):
        admin = world.factory().admin
        points = f"/v1/scoring/enterprises/{world.firms[0]}/points"
        for bad in ("2096-03-05T10:00:00", "yesterday", "2096-03-05"):
            r = api.get(points, headers=admin, params={"as_of": bad})
            assert r.status_code == 422, (bad, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["errors"][0]["loc"] == ["query", "as_of"]
        before = {"as_of": "1999-12-31T23:59:59Z", "submitted_at": "2096-03-05T10:00:00+08:00"}
        r = api.get(points, headers=admin, params=before)
        assert r.status_code == 404, r.text
        assert (
            r.json()["detail"]
            == "No points had been computed for any period at 1999-12-31T23:59:59Z"
        )
        for path in (f"/v1/guarantee/waivers/{world.period + 1}", "/v1/loans/deadline"):
            r = api.get(path, headers=admin, params=before)
            assert r.status_code == 404, (path, r.text)
            assert "Nothing had been published" in r.json()["detail"]
        early = {"as_of": format_instant(START - timedelta(seconds=1))}  # not ranked yet
        r = api.get(points, headers=admin, params={**early, "period": world.period})
        assert r.status_code == 404, r.text
        app = f"/v1/loans/applications/{world.application}/deadline"
        ranked = {"as_of": format_instant(START + timedelta(seconds=30))}  # no application yet
        r = api.get(app, headers=admin, params=ranked)
        assert r.status_code == 404, r.text
        assert "did not exist" in r.json()["detail"]


def test_a_deadline_as_of_names_the_event_that_set_it(
    history: tuple[World, list[tuple[datetime, dict[str, bytes]]]],
    api: TestClient,
) -> None:
    world, kept = history
    with use_clock(lambda: world.now + STEP):
        admin = world.factory().admin
        app = f"/v1/loans/applications/{world.application}/deadline"
        was = api.get(app, headers=admin, params={"as_of": format_instant(kept[0][0])}).json()
        now = api.get(app, headers=admin).json()
    assert (was["due_at"], was["provisional"]) == ("2096-03-07T15:59:59Z", True)
    assert (now["due_at"], now["provisional"]) == ("2096-03-08T15:59:59Z", False)
    assert was["versions"]["deadline_event"] < now["versions"]["deadline_event"]
