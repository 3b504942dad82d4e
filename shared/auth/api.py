"""`GET /v1/<service>/whoami`: what the caller's token says, for integrators checking set-up."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from shared.auth.deps import CurrentPrincipal
from shared.timestamps import Instant


class WhoAmI(BaseModel):
    """The authenticated client as this service sees it."""

    client_id: str
    role: str
    scopes: list[str]
    bank_code: str | None
    firm_code: str | None
    expires_at: Instant | None


def whoami_router(prefix: str) -> APIRouter:
    """Return a router with `GET {prefix}/whoami`."""
    router = APIRouter(prefix=prefix, tags=["auth"])

    @router.get(
        "/whoami",
        response_model=WhoAmI,
        summary="Who the bearer token says you are",
        # One operation per service: its id names the service (`whoami_loans`).
        name="whoami_" + prefix.rstrip("/").rsplit("/", 1)[-1],
    )
    async def whoami(principal: CurrentPrincipal) -> WhoAmI:
        return WhoAmI(
            client_id=principal.client_id,
            role=principal.role,
            scopes=sorted(principal.scopes),
            bank_code=principal.bank_code,
            firm_code=principal.firm_code,
            expires_at=principal.expires_at,
        )

    return router
