"""FastAPI dependencies: the authenticated `Principal`, scope checks, and the tenant.

This is the one place that maps a role to what it may see: the `*Visibility` and `Acting*`
dependencies below turn the verified token into the values of `shared.auth.tenancy` that
tenant-owned domain functions require; the scope aliases at the end are what handlers
declare. Each of these dependencies is a `Gate` too, kept where `gate_of` finds it:
`shared.openapi_access` reads the gates of a route's dependencies into the OpenAPI
document's `x-access`, so the document states exactly what they enforce."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from anyio import to_thread
from fastapi import Depends, Request

from shared.auth.jwt import InvalidToken, TokenVerifier
from shared.auth.principal import Principal, Role
from shared.auth.scheme import bearer_scheme
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
    _authorization: Annotated[str | None, Depends(bearer_scheme)],
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

# ---------------------------------------------------------------- gates: what a dependency admits

Tenant = Literal["bank", "firm"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Gate:
    """What one dependency demands of the caller: every scope in `scopes`, a role in `roles`
    (None: any role), and — `tenant` — whose rows it then restricts the caller to (a bank's
    or a firm's client sees its own; the bureau and operators every tenant's)."""

    scopes: frozenset[str] = frozenset()
    roles: frozenset[Role] | None = None
    tenant: Tenant | None = None


_GATES: dict[Callable[..., Any], Gate] = {}


def gate_of(dependency: Callable[..., Any]) -> Gate | None:
    """The gate `dependency` enforces, if it is one of this module's dependencies (or
    `refused_as` one); None for any other callable."""
    return _GATES.get(dependency)


def require_scopes(*scopes: str) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """Return a dependency that yields the principal if it holds all `scopes`, else 403."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has(*scopes):
            raise InsufficientScope(scopes)
        return principal

    check.__name__ = "require_" + "_".join(s.replace(":", "_") for s in scopes)
    _GATES[check] = Gate(scopes=frozenset(scopes))
    return check


def _admits(
    roles: Iterable[Role], tenant: Tenant | None, refusal: str
) -> Callable[[Callable[[Principal], T]], Callable[[Principal], Coroutine[Any, Any, T]]]:
    """Make a tenant dependency a gate: a role outside `roles` is refused (403, `refusal`)
    before the dependency runs, so it never admits more than its gate declares. The gate is
    `async` (the check never waits): FastAPI runs a plain `def` dependency in a worker thread,
    a hop every request would pay."""
    admitted_roles = frozenset(roles)
    gate = Gate(roles=admitted_roles, tenant=tenant)

    def decorate(
        dependency: Callable[[Principal], T],
    ) -> Callable[[Principal], Coroutine[Any, Any, T]]:
        @functools.wraps(dependency)
        async def admitted(principal: Principal) -> T:
            if principal.role not in admitted_roles:
                raise Forbidden(refusal)
            return dependency(principal)

        _GATES[admitted] = gate
        return admitted

    return decorate


def refused_as(
    error: Callable[[str], Forbidden],
    dependency: Callable[[Principal], Coroutine[Any, Any, T]],
) -> Callable[[Principal], Coroutine[Any, Any, T]]:
    """`dependency`, its refusal raised as a service's own 403 `error`: the same gate."""

    async def refusing(principal: CurrentPrincipal) -> T:
        try:
            return await dependency(principal)
        except Forbidden as exc:
            raise error(exc.detail) from None

    _GATES[refusing] = _GATES[dependency]
    return refusing


# ---------------------------------------------------------------- scopes, one alias each

ScoringReader = Annotated[Principal, Depends(require_scopes("scoring:read"))]
LoansReader = Annotated[Principal, Depends(require_scopes("loans:read"))]
LoansWriter = Annotated[Principal, Depends(require_scopes("loans:write"))]
StatsReader = Annotated[Principal, Depends(require_scopes("stats:read"))]
GuaranteeReader = Annotated[Principal, Depends(require_scopes("guarantee:read"))]
ExportReader = Annotated[Principal, Depends(require_scopes("export:read"))]
Admin = Annotated[Principal, Depends(require_scopes("admin"))]


# ---------------------------------------------------------------- the tenant, from the token
#
# A bank principal always carries its bank and a firm principal its firm, and no other role
# carries either (`Principal`), so once a gate has admitted the role the code says the rest.

_NOT_A_BANK = "Only a bank's own client submits and changes its applications"
_NOT_A_FIRM = "The feature export is for credit-reporting firm clients"


@_admits(("bank", "bureau", "admin"), "bank", "Banks' data is for banks, the bureau and operators")
def bank_visibility(principal: CurrentPrincipal) -> BankVisibility:
    """A bank sees its own rows, the bureau and operators every bank's; a credit-reporting
    firm has no business with banks' rows (403)."""
    return AllBanks() if principal.bank_code is None else OneBank(principal.bank_code)


@_admits(("bank",), "bank", _NOT_A_BANK)
def acting_bank(principal: CurrentPrincipal) -> OneBank:
    """The bank a write acts for: only a bank's own client writes its applications (403)."""
    if principal.bank_code is None:  # a bank principal has one; fail closed all the same
        raise Forbidden(_NOT_A_BANK)
    return OneBank(principal.bank_code)


@_admits(
    ("credit_firm", "bureau", "admin"),
    "firm",
    "Credit-reporting firms' data is for those firms, the bureau and operators",
)
def firm_visibility(principal: CurrentPrincipal) -> FirmVisibility:
    """A credit-reporting firm sees its own consents and export; the bureau and operators
    every firm's; a bank none (403)."""
    return AllFirms() if principal.firm_code is None else OneFirm(principal.firm_code)


@_admits(("credit_firm",), "firm", _NOT_A_FIRM)
def acting_firm(principal: CurrentPrincipal) -> OneFirm:
    """The firm a pull is for: only a credit-reporting firm's client pulls the export (403)."""
    if principal.firm_code is None:  # a firm principal has one; fail closed all the same
        raise Forbidden(_NOT_A_FIRM)
    return OneFirm(principal.firm_code)


@_admits(("bureau", "admin"), None, "Only the bureau and operators read this")
def programme_wide(principal: CurrentPrincipal) -> Principal:
    """The bureau or an operator: lists across every tenant (the waiver list, consents)."""
    return principal


@_admits(("bank", "bureau", "admin"), None, "Products are for banks, the bureau and operators")
def products_visible(principal: CurrentPrincipal) -> BankVisibility:
    """Whose products a caller may name where the answer is not a bank's rows (a paths
    target `product:CODE`: the rest of the answer is the same for every caller, so the route
    is not tenant-owned): a bank its own, the bureau and operators every bank's."""
    return AllBanks() if principal.bank_code is None else OneBank(principal.bank_code)


@_admits(("bank", "bureau"), "bank", "Webhooks are for banks and the bureau")
def webhook_owner(principal: CurrentPrincipal) -> BankVisibility:
    """Whose webhook endpoints a caller manages: a bank its own (`OneBank`), the bureau its
    programme-wide ones (`AllBanks`, never a bank's); operators and credit firms none (403)."""
    return AllBanks() if principal.bank_code is None else OneBank(principal.bank_code)


ProgrammeWide = Annotated[Principal, Depends(programme_wide)]
WebhookOwner = Annotated[BankVisibility, Depends(webhook_owner)]
BanksVisible = Annotated[BankVisibility, Depends(bank_visibility)]
ProductsVisible = Annotated[BankVisibility, Depends(products_visible)]
ActingBank = Annotated[OneBank, Depends(acting_bank)]
FirmsVisible = Annotated[FirmVisibility, Depends(firm_visibility)]
ActingFirm = Annotated[OneFirm, Depends(acting_firm)]
