"""The catalogue of problem types: every `type` the API answers with, in one place.

A problem's `type` is `/problems/<slug>`; the slug fixes its status and title (one title per
type, whoever raises it), and the catalogue says what the problem means and what to do about
it — the text `GET /problems/{slug}` serves. `DomainError` subclasses and `Problem` take their
status and title from here, and a slug that is not here fails at import (errors) or in the
tests (everything else), so a new problem is a new entry first.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.changes.problem_types import GOVERNANCE
from shared.problem_catalogue_webhooks import WEBHOOKS
from shared.problem_kind import ProblemKind

_RETRY = "Retry the same request after `Retry-After` seconds (with the same Idempotency-Key)."
_NOTHING = "Nothing was changed."

# fmt: off
_KINDS: tuple[ProblemKind, ...] = (
    # -------------------------------------------------------------- the request itself
    ProblemKind(
        "bad-request", 400, "Bad request",
        "The HTTP request itself could not be read: a header that does not parse (such as a "
        "Content-Length that is not a number) or a request line the server cannot read, most "
        "often a URL with characters outside ASCII.",
        "Fix the request. Percent-encode non-ASCII characters in the path and query (RFC 3986 "
        "§2.1): ?district=%E9%AB%98%E6%B8%AF%E5%8C%BA for 高港区, which "
        "`curl --get --data-urlencode 'district=高港区' URL` does for you.",
    ),
    ProblemKind(
        "validation-error", 422, "Request validation failed",
        "A parameter or body field is missing, of the wrong type or out of range, or the body "
        "breaks a rule between fields. `errors` lists each failure with its location (`loc`) "
        "and reason (`msg`). Integers are JSON numbers and money is a JSON string.",
        "Correct the fields named in `errors` and send the request again; /openapi.json gives "
        "every field's type and range.",
    ),
    ProblemKind(
        "invalid-uscc", 422, "Invalid unified social credit code",
        "An enterprise id is not a valid 统一社会信用代码: 18 characters of the GB 32100-2015 "
        "alphabet whose last one is the check digit. `errors` says where it was.",
        "Copy the code from the business licence again; lower case is accepted.",
    ),
    ProblemKind(
        "malformed-json", 422, "Malformed JSON body",
        "The body is not a JSON document (or not UTF-8); `detail` says where parsing stopped.",
        "Send one UTF-8 JSON document and check the quoting and commas near that position.",
    ),
    ProblemKind(
        "unsupported-media-type", 415, "Unsupported media type",
        "The body came with a Content-Type this endpoint does not read, or with none.",
        "Send JSON with `Content-Type: application/json`; the bulk uploads also take "
        "`text/csv` and points models `application/yaml`.",
    ),
    ProblemKind(
        "not-acceptable", 406, "Not acceptable",
        "None of the media types the Accept header names can be produced by this endpoint.",
        "Accept `application/json` (`*/*` will do), or a media type the operation lists in "
        "/openapi.json.",
    ),
    ProblemKind(
        "payload-too-large", 413, "Payload too large",
        "The body is larger than the limit: 1 MiB, 32 MiB for bulk uploads under /v1/admin/.",
        "Send a smaller body, or split a bulk upload into several files.",
    ),
    ProblemKind(
        "request-timeout", 408, "Request timeout",
        "The request body did not arrive within the body timeout.",
        "Send the body promptly after the headers, and retry.",
    ),
    ProblemKind(
        "method-not-allowed", 405, "Method not allowed",
        "The path exists but does not take this method (TRACE is never taken).",
        "Use one of the methods the `Allow` header lists.",
    ),
    ProblemKind(
        "not-found", 404, "Not found",
        "Nothing is at this path.",
        "Check the path against /openapi.json.",
    ),
    ProblemKind(
        "http-error", None, "HTTP error",
        "The HTTP layer refused the request with the status given.",
        "Check the request against /openapi.json.",
    ),
    # -------------------------------------------------------------- identity and quota
    ProblemKind(
        "unauthorized", 401, "Unauthorized",
        "No bearer token came with the request, or it is expired, forged, meant for another "
        "audience, or its client is disabled. `WWW-Authenticate` says which "
        "(`error_description`).",
        "Get a token from POST /oauth/token (client credentials) and send it as "
        "`Authorization: Bearer <token>`. Tokens live 15 minutes at most: get a new one when "
        "it expires.",
    ),
    ProblemKind(
        "insufficient-scope", 403, "Insufficient scope",
        "The token is valid but lacks a scope this call needs (`required_scopes`).",
        "Ask for a token without `scope` (all of the role's scopes) or with the scopes named; "
        "a role never gets scopes beyond its own.",
    ),
    ProblemKind(
        "forbidden", 403, "Forbidden",
        "The caller's role has no business with this resource: e.g. banks' data is for banks, "
        "the bureau and operators, and only a credit-reporting firm pulls the export.",
        "Use a client of the role `detail` names.",
    ),
    ProblemKind(
        "rate-limited", 429, "Too many requests",
        "The client used up its quota of requests per minute (or of token requests).",
        "Wait `Retry-After` seconds; operators can raise a client's `rate_limit_per_minute`.",
    ),
    ProblemKind(
        "invalid-cursor", 400, "Invalid cursor",
        "The `cursor` was not issued by this API for this list and these filters.",
        "Pass back the `next_cursor` of the previous page unchanged, with the same filters.",
    ),
    # -------------------------------------------------------------- the server
    ProblemKind(
        "overloaded", 503, "Service unavailable",
        "The process has as many requests in flight as it admits, so it shed this one at "
        "once. " + _NOTHING,
        _RETRY,
    ),
    ProblemKind(
        "service-unavailable", 503, "Service unavailable",
        "A service behind the gateway cannot be reached, or the verification keys cannot be "
        "loaded yet.",
        "Retry shortly.",
    ),
    ProblemKind(
        "database-unavailable", 503, "Service unavailable",
        "PostgreSQL is unreachable; the request's transaction was rolled back. " + _NOTHING,
        _RETRY,
    ),
    ProblemKind(
        "database-busy", 503, "Service unavailable",
        "The data is locked by another operation (or no database connection became free in "
        "time); the transaction was rolled back. " + _NOTHING,
        _RETRY,
    ),
    ProblemKind(
        "database-timeout", 504, "Gateway timeout",
        "A statement ran over the statement timeout; the transaction was rolled back. "
        + _NOTHING,
        "Retry; if it keeps happening, narrow the request (a smaller page or period).",
    ),
    ProblemKind(
        "internal-error", 500, "Internal server error",
        "An unexpected error; the response reveals nothing of it, the logs have it.",
        "Quote the `request_id` when reporting it.",
    ),
    # -------------------------------------------------------------- generic domain answers
    ProblemKind(
        "conflict", 409, "Conflict",
        "The request conflicts with the current state of the resource.",
        "Read the resource again and decide whether the request still makes sense.",
    ),
    ProblemKind(
        "invalid-transition", 409, "Invalid state transition",
        "The change is not allowed from the resource's current state: e.g. deciding an "
        "application twice, or revoking a consent already revoked.",
        "Read the resource's state (and events) before changing it.",
    ),
    ProblemKind(
        "precondition-failed", 412, "Precondition failed",
        "The `If-Match` header does not name the resource's current `ETag`: it changed since "
        "you read it.",
        "GET it again, check the change still applies, and send it with the new ETag.",
    ),
    ProblemKind(
        "bad-rows", 422, "The file has bad rows; nothing was written",
        "A bulk upload has at least one bad row, so none was written. `errors` names every "
        "problem as `loc: [\"row\", n, field]`, n counted from 1 over data rows.",
        "Fix every row listed and upload the whole file again.",
    ),
    # -------------------------------------------------------------- gateway: OAuth, clients
    ProblemKind(
        "oauth-invalid-request", 400, "Invalid token request",
        "The token request is malformed (RFC 6749 §5.2 `invalid_request`): not form-encoded, "
        "a parameter twice, no grant_type, or a form `client_id` other than the HTTP Basic one.",
        "POST `grant_type=client_credentials` form-encoded, with the client authenticated by "
        "HTTP Basic or by `client_id`/`client_secret` fields.",
    ),
    ProblemKind(
        "oauth-invalid-client", 401, "Client authentication failed",
        "Unknown client, wrong secret, disabled client, or no client authentication "
        "(`invalid_client`).",
        "Check the client id and secret; operators can rotate a lost secret.",
    ),
    ProblemKind(
        "oauth-unsupported-grant-type", 400, "Unsupported grant type",
        "Only the client-credentials grant is supported (`unsupported_grant_type`).",
        "Send `grant_type=client_credentials`.",
    ),
    ProblemKind(
        "oauth-invalid-scope", 400, "Invalid scope",
        "The requested scope goes beyond the client's role (`invalid_scope`).",
        "Ask for a subset of the role's scopes, or leave `scope` out to get them all.",
    ),
    ProblemKind(
        "client-not-found", 404, "Client not found",
        "No API client has this id.",
        "List the clients with GET /v1/admin/clients.",
    ),
    ProblemKind(
        "user-not-found", 404, "User not found",
        "No dashboard user has this id.",
        "List the users with GET /v1/admin/users.",
    ),
    ProblemKind(
        "user-name-taken", 409, "User name taken",
        "Another dashboard user already has this name (names are unique, disabled users "
        "included).",
        "Choose another name, or reset the existing user's password.",
    ),
    ProblemKind(
        "key-rotation-pending", 409, "Key rotation already pending",
        "A new signing key is already waiting to start signing.",
        "Wait until its `activates_at`, then rotate again if needed.",
    ),
    # -------------------------------------------------------------- scoring
    ProblemKind(
        "enterprise-not-found", 404, "Enterprise not found",
        "No enterprise has this 统一社会信用代码.",
        "Check the code, or load the enterprise first (PUT /v1/admin/enterprises).",
    ),
    ProblemKind(
        "points-not-found", 404, "No points for this period",
        "Nobody computed points for the period (or this enterprise has none in it).",
        "Recompute the period (POST /v1/admin/points/{period}/recompute) or ask for another.",
    ),
    ProblemKind(
        "indicators-changed", 409, "Indicators changed after the ranking",
        "The enterprise's indicators were loaded after the period's ranking was computed, so "
        "paths from its ranked points would start from data it no longer has.",
        "Recompute the period (POST /v1/admin/points/{period}/recompute), then ask again.",
    ),
    ProblemKind(
        "model-not-found", 404, "Points model not found",
        "No points model has this version.",
        "List the versions with GET /v1/scoring/models.",
    ),
    ProblemKind(
        "diagnosis-document-not-found", 404, "No 诊断书 has this verification code",
        "No diagnosis document was issued with this code: it was mistyped, or the document "
        "was not issued by this system.",
        "Type the code again as printed on the document (hyphens and case do not matter).",
    ),
    ProblemKind(
        "diagnosis-document-mismatch", 409, "The document is not the one issued",
        "A 诊断书 was issued with this code, but the SHA-256 given is not that of its bytes: "
        "the file was altered after it was issued, or it is another file. `sha256` is the "
        "issued document's hash.",
        "Do not rely on this file; ask the enterprise, or the bank that asked for it, for the "
        "issued document, or a new one.",
    ),
    ProblemKind(
        "model-exists", 409, "Points model version exists",
        "A model with this version already exists.",
        "Choose a new version, or replace the draft with PUT /v1/admin/models/{version}.",
    ),
    ProblemKind(
        "model-published", 409, "Published model versions are immutable",
        "A published model never changes, so points stay reproducible.",
        "Create a new version instead.",
    ),
    ProblemKind(
        "model-not-published", 409, "Only a published model can compute points",
        "The model is still a draft.",
        "Publish it (POST /v1/admin/models/{version}/publish) first.",
    ),
    ProblemKind(
        "invalid-model", 422, "Invalid points model",
        "The points model document breaks a rule of the model format; `errors` says where.",
        "Fix the document (the README's \"The points model is data\" gives the format).",
    ),
    ProblemKind(
        "no-indicator-data", 422, "No indicator data for this period",
        "The period has no indicator data to compute points from.",
        "Upload the indicators (PUT /v1/admin/indicators/{period}) first.",
    ),
    ProblemKind(
        "points-out-of-range", 422, "The model gives points out of range",
        "The model would give an enterprise more points than can be stored; nothing changed.",
        "Lower the model's caps or weights.",
    ),
    # -------------------------------------------------------------- loans
    ProblemKind(
        "bank-not-found", 404, "Bank not found",
        "No partner bank has this code.",
        "List the banks with GET /v1/loans/banks.",
    ),
    ProblemKind(
        "product-not-found", 404, "Product not found",
        "No credit product with this code is visible to the caller.",
        "List the products with GET /v1/loans/products.",
    ),
    ProblemKind(
        "application-not-found", 404, "Application not found",
        "No application with this id is visible to the caller (another bank's is not).",
        "List your applications with GET /v1/loans/applications.",
    ),
    ProblemKind(
        "ineligible", 422, "Not eligible for this product",
        "The enterprise does not qualify for the product; `reasons` says why.",
        "Check the quote (GET /v1/loans/products/{code}/quote) before submitting.",
    ),
    ProblemKind(
        "amount-over-quote", 422, "Amount over the quote",
        "The amount is more than the quote allows the enterprise.",
        "Ask for at most the quote's `max_amount`.",
    ),
    ProblemKind(
        "terms-out-of-range", 422, "Outside the product's terms",
        "The term or rate lies outside the product's ranges.",
        "Stay within the product's term_min/max_months and rate_min/max.",
    ),
    ProblemKind(
        "over-approved", 422, "Disbursements would exceed the approved amount",
        "The disbursements would add up to more than the approved amount.",
        "Disburse at most what remains of the approval.",
    ),
    ProblemKind(
        "bad-timing", 422, "Impossible timestamp",
        "A timestamp lies in the future or before the event it follows.",
        "Send the real time of the event, with its UTC offset.",
    ),
    ProblemKind(
        "bad-calendar", 422, "Inconsistent working-day schedule",
        "The holidays and make-up working days contradict each other or the year.",
        "Send each day once, within the year: holidays and make-up days apart.",
    ),
    ProblemKind(
        "idempotency-key-required", 400, "Idempotency-Key required",
        "This money-relevant write needs an `Idempotency-Key` header and none was sent.",
        "Send a unique key (e.g. a UUID) per write; a retry sends the same key.",
    ),
    ProblemKind(
        "invalid-idempotency-key", 400, "Invalid Idempotency-Key",
        "The `Idempotency-Key` header is longer than 255 characters or holds characters "
        "other than printable ASCII.",
        "Send 1-255 printable ASCII characters, e.g. a UUID.",
    ),
    ProblemKind(
        "idempotency-key-reused", 422, "Idempotency-Key reused with another request",
        "The key was already used by this client for a different request.",
        "Use a new key for a new request; a retry repeats the first request exactly.",
    ),
    ProblemKind(
        "idempotency-in-progress", 409, "A request with this Idempotency-Key is in flight",
        "The first request with this key is still running.",
        "Wait for it, then retry with the same key to get its answer.",
    ),
    # -------------------------------------------------------------- guarantee
    ProblemKind(
        "consent-not-found", 404, "Consent not found",
        "No consent with this id is visible to the caller.",
        "List the consents with GET /v1/guarantee/consents.",
    ),
    ProblemKind(
        "no-fee-rate", 409, "No 泰信保 fee rate set",
        "No 泰信保 guarantee fee rate is set for the year, so no fee can be quoted.",
        "Operators set it with POST /v1/admin/fee-rates.",
    ),
)
# fmt: on
_KINDS += GOVERNANCE  # four eyes' own, kept in shared/changes/problem_types.py
_KINDS += WEBHOOKS  # kept in shared/problem_catalogue_webhooks.py

CATALOGUE: Mapping[str, ProblemKind] = {k.slug: k for k in _KINDS}
"""Every problem type by slug."""

# The slug of an error the framework raises with only an HTTP status (routing, parsing).
_BY_STATUS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    408: "request-timeout",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "rate-limited",
}


def kind(slug: str) -> ProblemKind:
    """The catalogue's entry for `slug` (KeyError naming this module when there is none)."""
    try:
        return CATALOGUE[slug]
    except KeyError:
        raise KeyError(f"problem type {slug!r} is not in shared/problem_catalogue.py") from None


def for_status(status: int) -> ProblemKind:
    """The problem type of an HTTP error known only by its status (`http-error` otherwise)."""
    return CATALOGUE[_BY_STATUS.get(status, "http-error")]
