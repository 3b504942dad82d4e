"""FastAPI dependencies: the authenticated `Principal` and scope checks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from anyio import to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.auth.jwt import InvalidToken, TokenVerifier
from shared.auth.principal import Principal
from shared.errors import InsufficientScope, Unauthorized

log = logging.getLogger("innocredit.auth")

_bearer = HTTPBearer(auto_error=False, description="OAuth 2.0 access token from /oauth/token")

PRINCIPAL_STATE = "principal"


def bearer_token(authorization: str | None) -> str:
    """Return the token of an `Authorization: Bearer …` header, or raise `Unauthorized`."""
    if not authorization:
        raise Unauthorized("A bearer token is required")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("The Authorization header must be 'Bearer <token>'")
    return token.strip()


async def authenticate(verifier: TokenVerifier, authorization: str | None) -> Principal:
    """Verify the bearer token of a request and return its principal.

    Runs on the event loop while the keys are cached (no thread hop for ~60 µs of work); a
    key load (database or JWKS fetch) goes to a worker thread.
    """
    token = bearer_token(authorization)
    try:
        principal = verifier.verify_cached(token)
        if principal is None:
            principal = await to_thread.run_sync(verifier.verify, token)
    except InvalidToken as exc:
        log.info("token rejected", extra={"reason": str(exc)})
        raise Unauthorized("The bearer token is invalid or expired") from None
    return principal


async def get_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Return the caller: verified by the in-process gateway already, or verified here."""
    state = request.scope.setdefault("state", {})
    principal = state.get(PRINCIPAL_STATE)
    if isinstance(principal, Principal):
        return principal
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await authenticate(verifier, request.headers.get("authorization"))
    state[PRINCIPAL_STATE] = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_scopes(*scopes: str) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """Return a dependency that yields the principal if it holds all `scopes`, else 403."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has(*scopes):
            raise InsufficientScope(scopes)
        return principal

    check.__name__ = "require_" + "_".join(s.replace(":", "_") for s in scopes)
    return check
