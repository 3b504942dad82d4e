"""FastAPI dependencies: the authenticated `Principal`, scope checks, and the tenant.

This is the one place that maps a role to what it may see: the `*Visibility` and `Acting*`
dependencies below turn the verified token into the values of `shared.auth.tenancy` that
tenant-owned domain functions require; the scope aliases at the end are what handlers
declare."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from anyio import to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.auth.jwt import InvalidToken, TokenVerifier
from shared.auth.principal import Principal
from shared.auth.tenancy import (
    AllBanks,
    AllFirms,
    BankVisibility,
    FirmVisibility,
    OneBank,
    OneFirm,
)
from shared.errors import Forbidden, InsufficientScope, Unauthorized

log = logging.getLogger("innocredit.auth")

_bearer = HTTPBearer(auto_error=False, description="OAuth 2.0 access token from /oauth/token")

PRINCIPAL_STATE = "principal"


def bearer_token(authorization: str | None) -> str:
    """Return the token of an `Authorization: Bearer …` header, or raise `Unauthorized`."""
    if not authorization:
        raise Unauthorized("A bearer token is required", error_code=None)
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("The Authorization header must be 'Bearer <token>'", error_code=None)
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
        raise Unauthorized(exc.description) from None
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


# ---------------------------------------------------------------- scopes, one alias each

ScoringReader = Annotated[Principal, Depends(require_scopes("scoring:read"))]
LoansReader = Annotated[Principal, Depends(require_scopes("loans:read"))]
LoansWriter = Annotated[Principal, Depends(require_scopes("loans:write"))]
StatsReader = Annotated[Principal, Depends(require_scopes("stats:read"))]
GuaranteeReader = Annotated[Principal, Depends(require_scopes("guarantee:read"))]
ExportReader = Annotated[Principal, Depends(require_scopes("export:read"))]
Admin = Annotated[Principal, Depends(require_scopes("admin"))]


# ---------------------------------------------------------------- the tenant, from the token


def bank_visibility(principal: CurrentPrincipal) -> BankVisibility:
    """A bank sees its own rows, the bureau and operators every bank's; a credit-reporting
    firm has no business with banks' rows (403)."""
    if principal.role == "bank" and principal.bank_code is not None:
        return OneBank(principal.bank_code)
    if principal.role in ("bureau", "admin"):
        return AllBanks()
    raise Forbidden("Banks' data is for banks, the bureau and operators")


def acting_bank(principal: CurrentPrincipal) -> OneBank:
    """The bank a write acts for: only a bank's own client writes its applications (403)."""
    if principal.role == "bank" and principal.bank_code is not None:
        return OneBank(principal.bank_code)
    raise Forbidden("Only a bank's own client submits and changes its applications")


def firm_visibility(principal: CurrentPrincipal) -> FirmVisibility:
    """A credit-reporting firm sees its own consents and export; the bureau and operators
    every firm's; a bank none (403)."""
    if principal.role == "credit_firm" and principal.firm_code is not None:
        return OneFirm(principal.firm_code)
    if principal.role in ("bureau", "admin"):
        return AllFirms()
    raise Forbidden("Credit-reporting firms' data is for those firms, the bureau and operators")


def acting_firm(principal: CurrentPrincipal) -> OneFirm:
    """The firm a pull is for: only a credit-reporting firm's client pulls the export (403)."""
    if principal.role == "credit_firm" and principal.firm_code is not None:
        return OneFirm(principal.firm_code)
    raise Forbidden("The feature export is for credit-reporting firm clients")


def programme_wide(principal: CurrentPrincipal) -> Principal:
    """The bureau or an operator: lists across every tenant (the waiver list, consents)."""
    if principal.role in ("bureau", "admin"):
        return principal
    raise Forbidden("Only the bureau and operators read this")


ProgrammeWide = Annotated[Principal, Depends(programme_wide)]
BanksVisible = Annotated[BankVisibility, Depends(bank_visibility)]
ActingBank = Annotated[OneBank, Depends(acting_bank)]
FirmsVisible = Annotated[FirmVisibility, Depends(firm_visibility)]
ActingFirm = Annotated[OneFirm, Depends(acting_firm)]
