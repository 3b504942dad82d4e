"""The response headers the API sets, as the OpenAPI document declares them.

One table, `HEADERS`, says what each header means; a route declares the ones its answer
carries with `with_headers(...)` in its `responses=` (`Location` and `ETag` on a created
application, `X-Next-Cursor` on the export, …), next to the code that sets them. The
platform's own are declared by rule (`problem_headers`): `WWW-Authenticate` on every `401`,
`Retry-After` on every `429` and `503`. `X-Request-ID` (every response) and `Vary` (every
negotiated one) are conventions of the whole API, stated once in the document's description.
"""

from __future__ import annotations

from typing import Any

HEADERS: dict[str, dict[str, Any]] = {
    "Location": {
        "description": "The path of the resource the request created",
        "schema": {"type": "string", "format": "uri-reference"},
    },
    "ETag": {
        "description": "The resource's entity tag: send it as `If-Match` with a change",
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same `Idempotency-Key` and body (same status and body); absent on the first answer",
        "schema": {"type": "string", "pattern": "^true$"},
    },
    "X-Next-Cursor": {
        "description": "The cursor to pass as `since` on the next pull",
        "schema": {"type": "string"},
    },
    "X-Feature-Schema-Version": {
        "description": "The version of the data dictionary the rows follow",
        "schema": {"type": "string"},
    },
    "Content-Disposition": {
        "description": "CSV, XLSX and PDF only: `attachment` (`inline` for a PDF) with the "
        "file's download name",
        "schema": {"type": "string"},
    },
    "X-Diagnosis-Document": {
        "description": "The verification code of the 诊断书 just issued (printed on it; "
        "GET /v1/scoring/diagnosis-documents/{code} checks it)",
        "schema": {"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{16}$"},
    },
    "Cache-Control": {
        "description": "How long the answer may be cached (`no-store` for tokens, exports "
        "and documents)",
        "schema": {"type": "string"},
    },
    "Pragma": {
        "description": "`no-cache`, for HTTP/1.0 caches (RFC 6749 §5.1)",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before sending the request again",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "WWW-Authenticate": {
        "description": "The challenge (RFC 6750 §3 for bearer tokens; `Basic` for an OAuth "
        "client that authenticated with HTTP Basic)",
        "schema": {"type": "string"},
    },
}

# The platform's headers, by the status of the answer (see the module docstring).
_BY_STATUS: dict[str, tuple[str, ...]] = {
    "401": ("WWW-Authenticate",),
    "429": ("Retry-After",),
    "503": ("Retry-After",),
}


def headers(*names: str) -> dict[str, dict[str, Any]]:
    """The document's `headers` object of a response that carries `names`."""
    return {name: HEADERS[name] for name in names}


def with_headers(*names: str, description: str | None = None) -> dict[str, Any]:
    """A `responses=` entry of a route whose answer carries the headers `names`."""
    entry: dict[str, Any] = {"headers": headers(*names)}
    if description is not None:
        entry["description"] = description
    return entry


def problem_headers(status: str, declared: dict[str, Any] | None = None) -> dict[str, Any]:
    """The headers of a problem answer with `status`: those the route `declared` and those
    every answer with that status has."""
    return {**(declared or {}), **headers(*_BY_STATUS.get(status, ()))}
