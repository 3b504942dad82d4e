"""The ranking watcher: a run that moves firms into or out of the top 100 emits one
`enterprise.waiver_changed` per (bank, firm with an open application); the same top 100
emits nothing."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from services.loans.webhooks import waivers
from services.scoring import queries as scoring
from shared.settings import CoreSettings
from tests.factories import A_INDICATORS, Factory, enterprise, indicators, new_uscc
from tests.webhooks.documented import assert_documented
from tests.webhooks.harness import disable_all, rows, subscribe

CHANGED = "enterprise.waiver_changed"


def _watch(db: sessionmaker[Session]) -> int:
    with db.begin() as session:
        return waivers.watch(session)


def test_firms_entering_and_leaving_the_top_100_reach_the_banks_with_open_applications(
    factory: Factory,
    period: int,
    settings: CoreSettings,
    db: sessionmaker[Session],
    api: TestClient,
) -> None:
    disable_all(db)
    usccs = [new_uscc() for _ in range(101)]
    mover = usccs[-1]
    factory.enterprises([enterprise(u) for u in usccs])
    facts = [
        indicators(u, invention_patents=1 + i % 5, total_staff=200, rd_staff=i)
        for i, u in enumerate(usccs)
    ]
    facts[-1] = indicators(mover)  # nothing: last
    factory.indicators(period, facts)
    factory.recompute(period)
    _watch(db)
    with db.begin() as session:
        (run,) = [r for r in scoring.ranking_runs(session, {}) if r.period == period][-1:]
        top = scoring.run_top(session, run.id, 100)
    strongest, weakest = top[0], top[-1]
    a, b = factory.bank(), factory.bank()
    product_a, product_b = (factory.product(x, min_points=0) for x in (a, b))
    subscribe(db, settings, a, "https://a.example/hook", [CHANGED])
    subscribe(db, settings, b, "https://b.example/hook", [CHANGED])
    entering = factory.application(a, product_a, mover)
    leaving = factory.application(a, product_a, weakest, state="approved")
    factory.application(b, product_b, weakest, state="withdrawn")  # not open: nothing for b
    factory.application(a, product_a, strongest)  # stays in the top: nothing
    factory.indicators(period, [indicators(mover, **A_INDICATORS)])
    factory.recompute(period)
    assert _watch(db) == 2
    found = rows(
        db,
        "SELECT bank_code, body FROM loan_webhook_event WHERE type = :t AND ordering_key "
        "IN (:x, :y) ORDER BY seq",
        t=CHANGED,
        x=f"waiver:{mover}:{period + 1}",
        y=f"waiver:{weakest}:{period + 1}",
    )
    bodies = {json.loads(str(r["body"]))["data"]["waiver"]["uscc"]: r for r in found}
    document = api.get("/openapi.json").json()
    for r in found:
        assert_documented(document, json.loads(str(r["body"])))
    assert {str(r["bank_code"]) for r in found} == {a}
    came = json.loads(str(bodies[mover]["body"]))["data"]
    assert came["waiver"]["waived"] is True
    assert came["previous"] == {"waived": False, "reason": "outside-top-100", "rank": 101}
    assert came["applications"] == [entering.id]
    went = json.loads(str(bodies[weakest]["body"]))["data"]
    assert went["waiver"]["waived"] is False
    assert went["previous"]["waived"] is True
    assert went["applications"] == [leaving.id]
    # The same top 100 again: nothing; and nothing twice for a run already seen.
    factory.recompute(period)
    assert _watch(db) == 0
    assert _watch(db) == 0
