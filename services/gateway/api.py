"""Gateway endpoints: OAuth token, JWKS, and the operator's clients, keys and audit trail."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, unquote_plus

from anyio import to_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from services.gateway import service
from services.gateway.client_changes import ADMIN_CLIENT
from services.gateway.deps import Encryptor, KnownBanks
from services.gateway.directory import ClientDirectory
from services.gateway.edge import AUDIT_CLIENT_STATE, AUDIT_DETAIL_STATE
from services.gateway.errors import OAuthError
from services.gateway.quota import SharedQuota
from services.gateway.schemas import (
    AuditEventOut,
    ClientCreate,
    ClientCredentials,
    ClientOut,
    SigningKeyOut,
    TokenResponse,
)
from services.guarantee import queries as guarantee_queries
from shared.app import AppSettings
from shared.auth.deps import Admin, FirmsVisible
from shared.auth.jwt import KeySet
from shared.changes.api import GOVERNED, Governed
from shared.changes.errors import ForeignAdminSecret
from shared.db import DbSession
from shared.errors import RateLimited, Unprocessable
from shared.openapi import problems
from shared.openapi_headers import with_headers
from shared.pagination import Page, PageParams
from shared.timestamps import Timestamp

oauth = APIRouter(tags=["auth"])
admin = APIRouter(prefix="/v1/admin", tags=["admin: clients and keys"])

_TOKEN_BODY_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"$ref": "#/components/schemas/TokenRequest"}
            }
        },
    },
    # Named schemas, moved into components by `shared.openapi.describe_problems`.
    "x-body-schemas": {
        "GrantType": {"type": "string", "enum": ["client_credentials"]},
        "TokenRequest": {
            "title": "TokenRequest",
            "description": "RFC 6749 §4.4.2; `client_id`/`client_secret` unless HTTP Basic is sent",
            "type": "object",
            "required": ["grant_type"],
            "properties": {
                "grant_type": {"$ref": "#/components/schemas/GrantType"},
                "scope": {"type": "string"},
                "client_id": {"type": "string"},
                "client_secret": {"type": "string"},
            },
            # Unknown parameters are ignored (RFC 6749 §3.2), but no parameter may be given
            # twice (§3.1): an extra one is a single string too.
            "additionalProperties": {"type": "string"},
        },
    },
}


def _form(body: bytes, content_type: str) -> dict[str, str]:
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "The token request must be form-encoded")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "The token request is not UTF-8") from None
    if any(len(values) > 1 for values in parsed.values()):
        raise OAuthError("invalid_request", "A parameter was given more than once")
    return {k: v[0] for k, v in parsed.items()}


def _credentials(authorization: str | None, form: dict[str, str]) -> tuple[str, str, bool]:
    """Return (client_id, secret, via_basic) from HTTP Basic or the form (RFC 6749 §2.3.1).

    One method per request: Basic with a form `client_secret` is refused. Basic with a form
    `client_id` naming the same client is the client identifying itself twice, as §3.2.1 lets
    it (requests-oauthlib and others send it); naming another client is `invalid_request`.
    """
    if not (authorization and authorization[:6].lower() == "basic "):
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not client_id or not secret:
            raise OAuthError(
                "invalid_client", "Client authentication is required", basic_challenge=True
            )
        return client_id, secret, False
    if "client_secret" in form:
        raise OAuthError(
            "invalid_request", "Use HTTP Basic or a form client_secret, not both (RFC 6749 §2.3.1)"
        )
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError(
            "invalid_client", "Malformed Basic credentials", basic_challenge=True
        ) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "Malformed Basic credentials", basic_challenge=True)
    client_id, secret = unquote_plus(client_id), unquote_plus(secret)
    if "client_id" in form and form["client_id"] != client_id:
        raise OAuthError(
            "invalid_request", "The form client_id differs from the HTTP Basic client id"
        )
    return client_id, secret, True


@oauth.post(
    "/oauth/token",
    response_model=TokenResponse,
    summary="OAuth 2.0 client-credentials token (RFC 6749 §4.4)",
    openapi_extra=_TOKEN_BODY_SCHEMA,
    responses={
        200: with_headers("Cache-Control", "Pragma"),
        400: with_headers(
            "Cache-Control",
            "Pragma",
            description="invalid_request / unsupported_grant_type / invalid_scope",
        ),
        401: with_headers("Cache-Control", "Pragma", description="invalid_client"),
        429: {"description": "Too many token requests for this client id; see Retry-After"},
    },
)
async def issue_token(request: Request) -> JSONResponse:
    """Exchange client credentials (HTTP Basic or form fields) for a signed access token."""
    form = _form(await request.body(), request.headers.get("content-type", ""))
    client_id, secret, via_basic = _credentials(request.headers.get("authorization"), form)
    request.scope.setdefault("state", {})[AUDIT_DETAIL_STATE] = {
        "attempted_client_id": client_id[:40]
    }
    limiter: SharedQuota = request.app.state.quota
    retry_after = await limiter.acquire(
        "token:" + client_id[:64], request.app.state.settings.rate_limit_per_minute
    )
    if retry_after is not None:
        raise RateLimited(retry_after)
    if form.get("grant_type") != "client_credentials":
        raise OAuthError(
            "unsupported_grant_type" if form.get("grant_type") else "invalid_request",
            "grant_type must be client_credentials",
        )
    issued = await to_thread.run_sync(
        _issue, request, client_id, secret, via_basic, form.get("scope")
    )
    request.scope["state"][AUDIT_CLIENT_STATE] = client_id
    return JSONResponse(
        TokenResponse(
            access_token=issued.access_token, expires_in=issued.expires_in, scope=issued.scope
        ).model_dump(),
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _issue(
    request: Request, client_id: str, secret: str, via_basic: bool, scope: str | None
) -> service.IssuedToken:
    settings = request.app.state.settings
    with request.app.state.sessionmaker.begin() as session:
        client = service.authenticate_client(session, client_id, secret)
        if client is None:
            raise OAuthError(
                "invalid_client",
                "Unknown client, wrong secret or disabled client",
                basic_challenge=via_basic,
            )
        return service.issue_token(
            session,
            client,
            requested_scope=scope,
            encryptor=request.app.state.key_encryptor,
            issuer=settings.issuer,
            audience=settings.audience,
            ttl_seconds=settings.token_ttl_seconds,
        )


@oauth.get(
    "/.well-known/jwks.json",
    responses={200: with_headers("Cache-Control")},
    summary="Public keys that verify access tokens",
)
def get_jwks(session: DbSession, settings: AppSettings, response: Response) -> dict[str, Any]:
    """The active signing key and retired keys whose tokens may still be live."""
    response.headers["Cache-Control"] = "public, max-age=60"
    return {
        "keys": service.verification_keys(session, token_ttl_seconds=settings.token_ttl_seconds)
    }


# ---------------------------------------------------------------- admin: clients


@admin.post(
    "/clients",
    status_code=201,
    response_model=ClientCredentials,
    responses={201: with_headers("Location"), **GOVERNED},
    summary="Create an API client (the secret is shown this once)",
)
def create_client(
    body: ClientCreate, session: DbSession, gov: Governed, banks: KnownBanks, response: Response
) -> Any:
    """Create a client for a bank, the bureau, a credit firm or an operator; a bank's
    `bank_code` must name a partner bank (`PUT /v1/admin/banks/{code}` registers one). An
    operator's client is a second pair of eyes, so it is governed (four eyes): 202 with the
    pending change unless INNOCREDIT_FOUR_EYES leaves `admin-client` out; the approval answers
    its secret, once."""
    if body.role == "admin" and gov.requires(ADMIN_CLIENT):
        return gov.propose(ADMIN_CLIENT, body.model_dump(mode="json"))
    service.require_known_bank(session, body, banks)
    client, secret = service.create_client(session, body)
    response.headers["Location"] = f"/v1/admin/clients/{client.client_id}"
    return ClientCredentials(
        client_id=client.client_id, client_secret=secret, client=ClientOut.model_validate(client)
    )


@admin.get("/clients", response_model=Page[ClientOut], summary="List API clients")
def list_clients(
    session: DbSession,
    _: Admin,
    paging: PageParams,
) -> Page[ClientOut]:
    """All clients, ordered by client id."""
    keyset = paging.keyset("clients")
    after = keyset.first(str)
    rows = service.list_clients(session, after=after, limit=paging.limit)
    return keyset.page(rows, lambda c: [c.client_id], ClientOut.model_validate)


@admin.get("/clients/{client_id}", response_model=ClientOut, summary="One API client")
def get_client(client_id: str, session: DbSession, _: Admin) -> ClientOut:
    """A client's facts (never its secret)."""
    return ClientOut.model_validate(service.get_client(session, client_id))


@admin.post(
    "/clients/{client_id}/rotate-secret",
    response_model=ClientCredentials,
    responses=problems(403),
    summary="Replace a client's secret (the new one is shown this once)",
)
def rotate_client_secret(
    client_id: str, session: DbSession, caller: Admin, gov: Governed
) -> ClientCredentials:
    """The old secret stops working at once; tokens already issued run until they expire.
    Under four eyes (`admin-client` governed) an operator replaces only its own admin secret:
    whoever holds a second admin client's secret is a second pair of eyes."""
    target = service.get_client(session, client_id, for_update=True)
    if target.role == "admin" and client_id != caller.client_id and gov.requires(ADMIN_CLIENT):
        raise ForeignAdminSecret(f"{client_id} is another operator's admin client")
    client, secret = service.rotate_client_secret(session, client_id)
    return ClientCredentials(
        client_id=client.client_id, client_secret=secret, client=ClientOut.model_validate(client)
    )


@admin.post("/clients/{client_id}/disable", response_model=ClientOut, summary="Disable a client")
def disable_client(client_id: str, request: Request, session: DbSession, _: Admin) -> ClientOut:
    """No new tokens; its live tokens are refused within INNOCREDIT_CLIENT_CACHE_SECONDS."""
    client = service.disable_client(session, client_id)
    directory: ClientDirectory = request.app.state.client_directory
    directory.forget(client_id)
    return ClientOut.model_validate(client)


# ---------------------------------------------------------------- admin: keys and audit


@admin.post(
    "/keys/rotate",
    response_model=list[SigningKeyOut],
    responses=problems(409),
    summary="Rotate the token-signing key",
)
def rotate_signing_key(
    request: Request, session: DbSession, encryptor: Encryptor, _: Admin
) -> list[SigningKeyOut]:
    """Publish a new key now; it signs from `activates_at` (after the unknown-kid cooldown, so
    every verifier can learn it first). The old key keeps verifying until its tokens expire."""
    new, old = service.rotate_key(
        session,
        encryptor,
        activation_delay_seconds=request.app.state.settings.unknown_kid_cooldown_seconds,
    )
    keys: KeySet = request.app.state.key_set
    keys.invalidate()
    return [SigningKeyOut.model_validate(k) for k in (new, old) if k is not None]


@admin.get("/audit", response_model=Page[AuditEventOut], summary="The audit trail")
def list_audit_events(
    session: DbSession,
    _: Admin,
    firms: FirmsVisible,
    paging: PageParams,
    since: Annotated[Timestamp | None, Query(description="RFC 3339 timestamp with offset")] = None,
) -> Page[AuditEventOut]:
    """Every write and export pull from `since` on, oldest first."""
    if since is not None and since.tzinfo is None:
        raise Unprocessable(
            "since must carry a UTC offset, e.g. 2026-11-25T09:00:00+08:00",
            errors=[{"loc": ["query", "since"], "msg": "offset required"}],
        )
    keyset = paging.keyset("audit")
    position = keyset.values(datetime, int, int)
    writes = [
        (r.at, 0, r.id, AuditEventOut.model_validate(r))
        for r in service.list_audit(
            session, since=since, after=_after(position, 0), limit=paging.limit
        )
    ]
    pulls = [
        (p.at, 1, p.id, _pull_event(p))
        for p in guarantee_queries.export_pulls(
            session, firms, since=since, after=_after(position, 1), limit=paging.limit
        )
    ]
    merged = sorted(writes + pulls, key=lambda e: (e[0], e[1], e[2]))
    return keyset.page(merged, lambda e: [e[0].isoformat(), e[1], e[2]], lambda e: e[3])


def _after(position: tuple[datetime, int, int] | None, source: int) -> tuple[datetime, int] | None:
    """Keyset bound for one source of the merged (at, source, id) order."""
    if position is None:
        return None
    at, cursor_source, ident = position
    if source == cursor_source:
        return at, ident
    return (at, -1) if source > cursor_source else (at, 2**62)


def _pull_event(pull: guarantee_queries.PullRecord) -> AuditEventOut:
    return AuditEventOut(
        id=pull.id,
        source="export-pull",
        at=pull.at,
        client_id=pull.client_id,
        method="GET",
        path="/v1/guarantee/features",
        status=200,
        request_id=pull.request_id,
        action=f"export pull by {pull.firm_code}",
        detail={
            "firm_code": pull.firm_code,
            "since_seq": pull.since_seq,
            "until_seq": pull.until_seq,
            "rows": pull.rows,
            "tombstones": pull.tombstones,
        },
    )
