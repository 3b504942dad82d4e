"""Four eyes, kind by kind: a governed write answers 202 and changes nothing; another admin
approves and it runs, answering what the direct call would have, with both names in the audit
trail; or rejects it with a reason. The maker never approves its own change."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.models import AuditEvent
from services.runtime import build_gateway
from tests.factories import DEFAULT_MODEL, Factory, bearer, get_token, indicators, product_body
from tests.governance.governed import Governed
from tests.instants import instants
from tests.servers import make_settings


def _problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}", body
    return body


def _audit(db: sessionmaker[Session], change_id: str) -> list[AuditEvent]:
    with db() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.detail["change"].astext == change_id)
                .order_by(AuditEvent.id)
            )
        )


def _approved(gov: Governed, change: dict[str, Any]) -> dict[str, Any]:
    response = gov.approve(change)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "approved"
    assert body["checker"] == gov.checker.client_id
    return body


def test_a_product_waits_for_the_checker_and_is_written_once_approved(
    gov: Governed, factory: Factory, db: sessionmaker[Session]
) -> None:
    bank = factory.bank()
    code = f"GP-{uuid.uuid4().hex[:8].upper()}"
    change = gov.propose("PUT", f"/v1/admin/products/{code}", json=product_body(bank))
    assert change["kind"] == "product"
    assert change["target"] == f"product:{code}"
    assert change["diff"]["created"] is True
    assert change["request"] == {
        "method": "PUT",
        "path": f"/v1/admin/products/{code}",
        "media_type": "application/json",
    }
    assert gov.api.get(f"/v1/loans/products/{code}", headers=factory.admin).status_code == 404

    approved = _approved(gov, change)
    product = gov.api.get(f"/v1/loans/products/{code}", headers=factory.admin).json()
    assert approved["result"] == product  # what the direct PUT would have answered
    proposed, decided = _audit(db, change["id"])
    assert (proposed.status, proposed.client_id) == (202, gov.maker.client_id)
    assert decided.action == "change-approved"
    assert decided.client_id == gov.checker.client_id
    assert decided.detail["maker"] == gov.maker.client_id
    assert decided.detail["checker"] == gov.checker.client_id

    # A change of it is a readable diff against what is stored now.
    again = gov.propose("PUT", f"/v1/admin/products/{code}", json=product_body(bank, min_points=90))
    assert again["diff"]["created"] is False
    paths = {d["path"]: d for d in again["diff"]["changes"]}
    assert paths["min_points"] == {"path": "min_points", "before": 80, "after": 90}
    assert paths["limit_tiers"]["after"][0]["min_points"] == 90


def test_the_maker_cannot_approve_but_may_withdraw_and_decisions_are_final(
    gov: Governed, factory: Factory
) -> None:
    code = f"TB{uuid.uuid4().hex[:10].upper()}"
    change = gov.propose("PUT", f"/v1/admin/banks/{code}", json={"name": "某银行"})
    _problem(gov.approve(change, gov.maker), 403, "change-own")
    url = f"/v1/admin/changes/{change['id']}"
    for reason in ({}, {"reason": ""}, {"reason": "x" * 1001}, {"reason": "ok", "extra": 1}):
        refused = gov.api.post(f"{url}/reject", headers=gov.m, json=reason)
        assert refused.status_code == 422, (reason, refused.text)
    withdrawn = gov.api.post(f"{url}/reject", headers=gov.m, json={"reason": "typo in the name"})
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["reason"] == "typo in the name"
    assert withdrawn.json()["checker"] == gov.maker.client_id
    _problem(gov.approve(change), 409, "change-decided")
    _problem(
        gov.api.post(f"{url}/reject", headers=gov.c, json={"reason": "x"}), 409, "change-decided"
    )
    assert gov.api.delete(url, headers=gov.c).status_code == 405
    kept = gov.api.get(url, headers=gov.c).json()
    assert (kept["status"], kept["reason"]) == ("rejected", "typo in the name")
    assert gov.api.get("/v1/loans/banks?limit=500", headers=factory.admin).json()["items"]
    missing = f"/v1/admin/changes/{uuid.uuid4()}"
    _problem(gov.api.get(missing, headers=gov.c), 404, "change-not-found")
    _problem(gov.api.post(f"{missing}/approve", headers=gov.c), 404, "change-not-found")


def test_one_pending_change_per_target(gov: Governed, factory: Factory) -> None:
    code = f"TB{uuid.uuid4().hex[:10].upper()}"
    first = gov.propose("PUT", f"/v1/admin/banks/{code}", json={"name": "甲"})
    second = gov.api.put(f"/v1/admin/banks/{code}", headers=gov.c, json={"name": "乙"})
    body = _problem(second, 409, "change-pending")
    assert body["change"] == f"/v1/admin/changes/{first['id']}"
    _approved(gov, first)
    gov.propose("PUT", f"/v1/admin/banks/{code}", json={"name": "乙"})  # decided: free again


def test_a_calendar_year_from_csv(gov: Governed, factory: Factory) -> None:
    csv = "date,kind\n2031-01-01,holiday\n2031-02-01,workday\n"
    change = gov.propose(
        "PUT",
        "/v1/admin/calendar/2031",
        content=csv.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert change["request"]["media_type"] == "text/csv"
    before = gov.api.get("/v1/loans/calendar/2031", headers=factory.admin).json()
    assert before["source"] != "loaded"
    diff = change["diff"]
    assert diff["source_before"] == before["source"]
    assert diff["holidays_removed"] == sorted(set(before["holidays"]) - {"2031-01-01"})
    assert diff["holidays_added"] == sorted({"2031-01-01"} - set(before["holidays"]))
    assert diff["make_up_workdays_added"] == sorted(
        {"2031-02-01"} - set(before["make_up_workdays"])
    )
    result = _approved(gov, change)["result"]
    after = gov.api.get("/v1/loans/calendar/2031", headers=factory.admin).json()
    assert after["source"] == "loaded" == result["source"]
    assert after["holidays"] == result["holidays"] == ["2031-01-01"]
    bad = gov.api.put("/v1/admin/calendar/2032", headers=gov.m, json={"holidays": ["2031-05-01"]})
    _problem(bad, 422, "bad-calendar")  # validated as the direct call is, nothing proposed


def test_a_fee_rate_names_its_maker(gov: Governed, factory: Factory) -> None:
    change = gov.propose(
        "POST", "/v1/admin/fee-rates", json={"effective_year": 2090, "rate": "0.0120"}
    )
    assert change["diff"]["after"]["rate"] == "0.0120"
    assert change["diff"]["in_force_before"] is not None  # the 2020 default
    result = _approved(gov, change)["result"]
    assert result["set_by"] == gov.maker.client_id  # the maker, as for the direct call
    rates = gov.api.get("/v1/guarantee/fee-rates", headers=factory.admin).json()["items"]
    assert rates[0]["id"] == result["id"]


def test_a_model_publish_links_its_impact_and_a_recompute_runs_with_the_model_proposed(
    gov: Governed, factory: Factory, period: int
) -> None:
    factory.ranked(period, [{}, {"invention_patents": 9}])
    definition = gov.api.get(f"/v1/scoring/models/{DEFAULT_MODEL}", headers=factory.admin).json()[
        "definition"
    ]
    draft = copy.deepcopy(definition)
    draft["version"] = f"GOV-{uuid.uuid4().hex[:8]}"
    draft["name"] = "governed draft"
    created = gov.api.post("/v1/admin/models", headers=gov.m, json=draft)
    assert created.status_code == 201, created.text  # drafts are not rules: direct
    change = gov.propose("POST", f"/v1/admin/models/{draft['version']}/publish")
    assert {"path": "name", "before": definition["name"], "after": "governed draft"} in change[
        "diff"
    ]
    assert "/impact?period=" in change["links"]["impact"]
    report = gov.api.get(change["links"]["impact"], headers=gov.c)  # what the checker reads
    assert report.status_code == 200, report.text
    assert (report.json()["version"], report.json()["version_status"]) == (
        draft["version"],
        "draft",
    )
    model = gov.api.get(f"/v1/scoring/models/{draft['version']}", headers=factory.admin)
    assert model.json()["status"] == "draft"
    assert _approved(gov, change)["result"]["status"] == "published"

    recompute = gov.propose("POST", f"/v1/admin/points/{period}/recompute")
    assert recompute["params"] == {"period": period, "model_version": draft["version"]}
    assert recompute["diff"]["ranking_before"]["model_version"] == DEFAULT_MODEL
    assert recompute["links"]["impact"].startswith(f"/v1/scoring/models/{draft['version']}/")
    run = _approved(gov, recompute)["result"]
    assert (run["model_version"], run["requested_by"]) == (draft["version"], gov.maker.client_id)
    assert run["enterprise_count"] == 2


def test_an_action_failing_at_approval_leaves_the_change_pending_and_nothing_written(
    gov: Governed, factory: Factory, period: int, engine: Engine, db: sessionmaker[Session]
) -> None:
    usccs = factory.ranked(period, [{}])
    change = gov.propose(
        "POST", f"/v1/admin/points/{period}/recompute", json={"model_version": DEFAULT_MODEL}
    )
    with engine.begin() as conn:  # the data goes away between proposal and approval
        conn.execute(text("DELETE FROM sc_indicator WHERE period = :p"), {"p": period})
    runs = gov.api.get(f"/v1/scoring/runs?period={period}", headers=factory.admin).json()
    _problem(gov.approve(change), 422, "no-indicator-data")
    assert gov.api.get(change_url(change), headers=gov.c).json()["status"] == "pending"
    assert gov.api.get(f"/v1/scoring/runs?period={period}", headers=factory.admin).json() == runs
    assert [e.action for e in _audit(db, change["id"])] == [
        f"POST /v1/admin/points/{period}/recompute"
    ]
    factory.indicators(period, [indicators(u) for u in usccs])
    assert gov.approve(change).status_code == 200  # still decidable


def change_url(change: dict[str, Any]) -> str:
    return f"/v1/admin/changes/{change['id']}"


def test_an_admin_client_is_governed_and_its_secret_shown_once(gov: Governed) -> None:
    change = gov.propose(
        "POST", "/v1/admin/clients", json={"name": "second operator", "role": "admin"}
    )
    result = _approved(gov, change)["result"]
    assert result["client"]["role"] == "admin"
    assert result["client_secret"]
    stored = gov.api.get(change_url(change), headers=gov.c).json()["result"]
    assert "client_secret" not in stored
    assert stored["client_id"] == result["client_id"]
    token = gov.api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(result["client_id"], result["client_secret"]),
    )
    assert token.status_code == 200
    direct = gov.api.post(
        "/v1/admin/clients", headers=gov.m, json={"name": "a bureau screen", "role": "bureau"}
    )
    assert direct.status_code == 201  # only an operator's client is a second pair of eyes


def test_an_operator_replaces_only_its_own_admin_secret(gov: Governed) -> None:
    other = gov.make_client("admin", name="a third operator")
    foreign = gov.api.post(f"/v1/admin/clients/{other.client_id}/rotate-secret", headers=gov.m)
    _problem(foreign, 403, "admin-secret-foreign")
    assert get_token(gov.api, other)  # its secret still works: nothing was replaced
    own = gov.api.post(
        f"/v1/admin/clients/{other.client_id}/rotate-secret", headers=gov.headers(other)
    )
    assert own.status_code == 200, own.text
    bureau = gov.make_client("bureau", name="a bureau screen")
    rotated = gov.api.post(f"/v1/admin/clients/{bureau.client_id}/rotate-secret", headers=gov.m)
    assert rotated.status_code == 200  # a non-operator's secret is not a pair of eyes


def test_the_bureau_reads_changes_and_only_operators_decide(
    gov: Governed, factory: Factory
) -> None:
    code = f"TB{uuid.uuid4().hex[:10].upper()}"
    change = gov.propose("PUT", f"/v1/admin/banks/{code}", json={"name": "丙"})
    bureau = bearer(factory.token("bureau"))
    listed = gov.api.get("/v1/admin/changes?status=pending&kind=bank", headers=bureau)
    assert listed.status_code == 200
    assert change["id"] in {c["id"] for c in listed.json()["items"]}
    assert gov.api.get(change_url(change), headers=bureau).status_code == 200
    assert gov.api.post(f"{change_url(change)}/approve", headers=bureau).status_code == 403
    bank = bearer(factory.bank_token(factory.bank()))
    assert gov.api.get("/v1/admin/changes", headers=bank).status_code == 403
    approved = gov.api.get("/v1/admin/changes?status=approved&limit=1", headers=bureau).json()
    assert all(c["status"] == "approved" for c in approved["items"])


def test_a_kind_configured_off_acts_directly(
    database_url: str, engine: Engine, gov: Governed, factory: Factory
) -> None:
    app = build_gateway(make_settings(database_url, four_eyes="product"), engine)
    with TestClient(app, base_url="http://testserver") as api:
        headers = bearer(get_token(api, gov.maker))
        bank = f"TB{uuid.uuid4().hex[:10].upper()}"
        assert (
            api.put(f"/v1/admin/banks/{bank}", headers=headers, json={"name": "丁"}).status_code
            == 200
        )
        product = api.put(f"/v1/admin/products/P-{bank}", headers=headers, json=product_body(bank))
        assert product.status_code == 202
        # A pending change stays decidable whatever the setting.
        approve = api.post(
            f"/v1/admin/changes/{product.json()['id']}/approve",
            headers=bearer(get_token(api, gov.checker)),
        )
        assert approve.status_code == 200, approve.text


@pytest.mark.parametrize("value", ["all", "none", "", "bank, product", "FEE-RATE"])
def test_four_eyes_settings(value: str) -> None:
    settings = make_settings("postgresql://x/y", four_eyes=value)
    expected = {
        "all": 7,
        "none": 0,
        "": 0,
        "bank, product": 2,
        "FEE-RATE": 1,
    }[value]
    assert len(settings.governed) == expected


def test_an_unknown_kind_fails_at_start_naming_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown kind.*products.*model-publish"):
        make_settings("postgresql://x/y", four_eyes="products")


def test_every_instant_in_a_change_is_utc_with_z(
    gov: Governed, factory: Factory, period: int
) -> None:
    """The README's one rule for timestamps holds in what a change carries too: the target's
    expected state, the diff's "before" and the change's own times (they are built as JSON by
    each service's kinds, not by a response model)."""
    factory.ranked(period, [{}])
    bank = factory.bank()
    changes = [
        gov.propose("PUT", f"/v1/admin/banks/{bank}", json={"name": "改名银行"}),
        gov.propose("POST", "/v1/admin/fee-rates", json={"effective_year": 2091, "rate": "0.0110"}),
        gov.propose("POST", f"/v1/admin/points/{period}/recompute"),
    ]
    read = [gov.api.get(change_url(change), headers=gov.c).json() for change in changes]
    found = {where for change in read for where, _ in instants(change)}
    for where in (
        ".expected.updated_at",
        ".diff.in_force_before.set_at",
        ".diff.ranking_before.finished_at",
        ".diff.indicators.max_updated_at",
    ):
        assert where in found, (where, found)
    loose = [
        (change["summary"], where, value)
        for change in read
        for where, value in instants(change)
        if not value.endswith("Z")
    ]
    assert loose == []
    for change in changes:
        withdrawn = gov.api.post(
            f"{change_url(change)}/reject", headers=gov.m, json={"reason": "only read"}
        )
        assert withdrawn.status_code == 200, withdrawn.text
