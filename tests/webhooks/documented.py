"""What the OpenAPI document's `webhooks` declare for an event type, checked against a body the
outbox really wrote: a bank generating its receiver from the document gets what is sent."""

from __future__ import annotations

from typing import Any

import jsonschema_rs


def assert_documented(document: dict[str, Any], body: dict[str, Any]) -> None:
    """`body` (an event as sent) is valid against the schema declared for its `type`."""
    operation = document["webhooks"][body["type"]]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    validator = jsonschema_rs.Draft202012Validator({**schema, "components": document["components"]})
    errors = [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, (body["type"], errors)
