"""The webhooks in the OpenAPI document: one per event type, with the Standard Webhooks headers
and what an answer means; a ping as written validates against its entry (the other types'
bodies are checked where their tests read them: test_outbox, test_timers, test_waivers)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from services.loans.webhooks.models import Event, Subscription
from services.loans.webhooks.outbox import emit_ping
from services.loans.webhooks.payloads import EventType
from shared.settings import CoreSettings
from tests.webhooks.documented import assert_documented
from tests.webhooks.harness import subscribe

HEADERS = {"webhook-id", "webhook-timestamp", "webhook-signature"}


def test_every_event_type_is_a_documented_webhook(api: TestClient) -> None:
    document: dict[str, Any] = api.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert set(document["webhooks"]) == {t.value for t in EventType}
    for type_, item in document["webhooks"].items():
        operation = item["post"]
        declared = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert declared == HEADERS, type_
        assert all(p["required"] for p in operation["parameters"]), type_
        assert {"204", "410", "default"} <= set(operation["responses"]), type_
        assert operation["operationId"] == "on_" + type_.replace(".", "_")


def test_a_ping_as_written_is_what_the_document_declares(
    api: TestClient, db: sessionmaker[Session], settings: CoreSettings
) -> None:
    document: dict[str, Any] = api.get("/openapi.json").json()
    sid, _ = subscribe(db, settings, "DESCRIBED", "https://described.example/hook")
    with db.begin() as session:
        emitted = emit_ping(session, session.get_one(Subscription, sid))
        body = json.loads(session.get_one(Event, emitted.event_id).body)
    assert body["type"] == "webhook.test"
    assert_documented(document, body)
    body["data"] = {"subscription": 7}
    try:
        assert_documented(document, body)
    except AssertionError:
        return
    raise AssertionError("a body off its schema passed the check")
