"""The OpenAPI document tells the truth about errors: every one is an RFC 9457 problem.

FastAPI documents a `422` as `application/json` `HTTPValidationError`, and nothing else.
`describe_problems` rewrites each operation so that it declares the problems the platform
answers with, as `application/problem+json` `Problem`:

- every operation: `503` (overloaded, database unavailable or busy; in split mode, a service
  down) and
  `504` (a statement ran past the database's timeout);
- operations behind a bearer token: `401`, `403` and `429` (the gateway's edge);
- operations with a request body: `413`; with a JSON body also `415`;
- operations whose input FastAPI validates: `422` (validation-error, invalid-uscc,
  malformed-json);
- operations with a path parameter: `404` (the resource it names is unknown);
- operations whose JSON body names an enterprise (a property of format `uscc`): `404`
  (the enterprise is not in the points database);
- operations with a cursor parameter (`cursor`, or described as one): `400` (invalid-cursor);
- operations with an `If-Match` header: `412`.

Each problem answer declares the headers it carries (`shared.openapi_headers`).

Anything else a route answers (a `409`, a `404` from a query parameter, …) it declares
itself with `responses=problems(...)`; the content of every 4xx/5xx response is filled in
here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from shared.errors import PROBLEM_MEDIA_TYPE
from shared.openapi_access import declare_access
from shared.openapi_headers import problem_headers
from shared.openapi_security import declare_security

PROBLEM_REF = "#/components/schemas/Problem"

PROBLEM_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "title": "Problem",
        "description": "RFC 9457 problem details. Extension members (e.g. `required_scopes`, "
        "`reasons`, `error`/`error_description` for OAuth) may follow.",
        "type": "object",
        "required": ["type", "title", "status", "detail", "instance", "request_id"],
        "properties": {
            "type": {"type": "string", "description": "`/problems/<slug>`"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "request_id": {"type": ["string", "null"]},
            "errors": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/ProblemError"},
            },
        },
        "additionalProperties": True,
    },
    "ProblemError": {
        "title": "ProblemError",
        "type": "object",
        "required": ["loc", "msg"],
        "properties": {
            "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
            "msg": {"type": "string"},
            "type": {"type": "string"},
        },
        "additionalProperties": True,
    },
}

_DESCRIPTIONS = {
    400: "Bad request (e.g. invalid-cursor)",
    401: "Missing, invalid or expired bearer token, or a disabled client",
    403: "The token lacks the scope this call needs",
    404: "Not found",
    409: "Conflict with the resource's current state",
    412: "If-Match does not match the current ETag",
    413: "Request body over the size limit",
    415: "The body is not JSON",
    406: "Accept allows none of the media types this resource has (not-acceptable)",
    422: "Validation failed (validation-error, invalid-uscc, malformed-json, …)",
    429: "Rate limit exceeded; see Retry-After",
    503: "Overloaded, database unavailable or busy (or, in split mode, the service); "
    "see Retry-After",
    504: "The database did not answer within the statement timeout",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the extra problem statuses it answers with."""
    return {status: {"description": _describe(status)} for status in statuses}


def _describe(status: int) -> str:
    return _DESCRIPTIONS.get(status) or HTTPStatus(status).phrase


def _problem_response(status: str, declared: dict[str, Any]) -> dict[str, Any]:
    response = {
        "description": declared.get("description", ""),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
    }
    headers = problem_headers(status, declared.get("headers"))
    return {**response, "headers": headers} if headers else response


def _names_an_enterprise(body: dict[str, Any], schemas: dict[str, Any]) -> bool:
    schema = body.get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        schema = schemas.get(ref.rsplit("/", 1)[1], {})
    properties = schema.get("properties", {})
    return any(p.get("format") == "uscc" for p in properties.values() if isinstance(p, dict))


def _is_cursor(parameter: dict[str, Any]) -> bool:
    # `cursor` on lists; the export's `since` is described as the cursor of the last pull.
    description = str(parameter.get("description") or "").lower()
    return parameter.get("name") == "cursor" or "cursor" in description


def _statuses_for(operation: dict[str, Any], schemas: dict[str, Any]) -> set[int]:
    statuses = {406, 503, 504}  # 406: every route negotiates its media type (shared.negotiation)
    if operation.get("security"):
        statuses |= {401, 403, 429}
    body = operation.get("requestBody")
    if body is not None:
        statuses.add(413)
        if "application/json" in body.get("content", {}):
            statuses.add(415)
        if _names_an_enterprise(body, schemas):
            statuses.add(404)
    parameters = operation.get("parameters", [])
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if any(p.get("in") == "query" and _is_cursor(p) for p in parameters):
        statuses.add(400)
    if any(p.get("in") == "header" and p.get("name", "").lower() == "if-match" for p in parameters):
        statuses.add(412)
    return statuses


_BODY_SCHEMAS = "x-body-schemas"


def parsed_body(
    model: type[BaseModel], *, rows: bool = False, other: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`openapi_extra=` for a body the route parses itself (JSON, or CSV/YAML as `other`
    media types): the JSON schema is `model`'s — a non-empty array of them when `rows` — so
    the document shows, and a client generator or fuzzer sends, what is validated."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    json_schema = {"type": "array", "items": schema, "minItems": 1} if rows else schema
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": json_schema}, **(other or {})},
        },
        _BODY_SCHEMAS: definitions,  # moved into components by `describe_problems`
    }


def describe_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Declare every operation's problem responses in `document` (in place; idempotent)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            schemas.update(operation.pop(_BODY_SCHEMAS, {}))
            responses: dict[str, Any] = operation["responses"]
            for status in _statuses_for(operation, schemas):
                responses.setdefault(str(status), {"description": _describe(status)})
            for code, response in responses.items():
                if code[0] in "45":
                    responses[code] = _problem_response(code, response)
    schemas.update(PROBLEM_SCHEMAS)
    _drop_unreferenced(document, schemas)
    return document


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            yield ref.rsplit("/", 1)[1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _drop_unreferenced(document: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Keep only the schemas the operations and webhooks use (FastAPI also lists its
    `HTTPValidationError` and the definitions of types whose schema a route replaced), so a
    client generator makes no model nobody sends or receives."""
    used: set[str] = set()
    todo = [*_refs(document.get("paths", {})), *_refs(document.get("webhooks", {}))]
    while todo:
        name = todo.pop()
        if name not in used and name in schemas:
            used.add(name)
            todo += _refs(schemas[name])
    for name in set(schemas) - used:
        del schemas[name]


def install_problem_document(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """Make `app.openapi()` serve the document with its problems described, each
    operation's `x-access` declared (`shared.openapi_access`) and its OAuth 2.0 scopes
    (`shared.openapi_security`)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = declare_security(declare_access(FastAPI.openapi(app), app))
            app.openapi_schema = describe_problems(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
    return openapi
