"""What a governed write handler uses: `Governed` (is this kind governed here, and propose it)
and `GOVERNED`, the `202` its OpenAPI entry declares.

    if gov.requires(PRODUCT):
        return gov.propose(PRODUCT, {"code": code, "product": body.model_dump(mode="json")})
    return _product_out(products.put_product(session, code, body))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from shared.app import AppSettings
from shared.auth.deps import Admin
from shared.auth.principal import Principal
from shared.changes import store
from shared.changes.kinds import ChangeKind
from shared.changes.schemas import ChangeOut
from shared.db import DbSession
from shared.openapi_headers import with_headers
from shared.settings import CoreSettings

GOVERNED: dict[int | str, dict[str, Any]] = {
    202: {
        "model": ChangeOut,
        **with_headers(
            "Location",
            description="Four eyes: a pending change (`Location`), applied once another "
            "operator approves it (POST /v1/admin/changes/{id}/approve); the answer when "
            "INNOCREDIT_FOUR_EYES governs this kind",
        ),
    }
}
"""`responses=` of a governed write: its `202 Accepted` with the change and its `Location`."""


def change_out(row: Any, shown_once: Mapping[str, Any] | None = None) -> ChangeOut:
    """The API's view of a stored change; `shown_once` joins its `result` in this answer only
    (a new client's secret, never stored)."""
    out = ChangeOut.model_validate(row, from_attributes=True)
    if shown_once:
        out.result = {**(out.result or {}), **shown_once}
    return out


@dataclass(frozen=True, slots=True)
class Governance:
    """One governed write request: whether its kind needs a checker in this deployment, and
    how to propose it instead of acting."""

    session: Session
    settings: CoreSettings
    maker: Principal
    request_id: str | None
    request: Mapping[str, Any]

    def requires(self, kind: ChangeKind) -> bool:
        """Whether `INNOCREDIT_FOUR_EYES` makes `kind` wait for a second operator."""
        return kind.name in self.settings.governed

    def propose(self, kind: ChangeKind, params: Mapping[str, Any]) -> JSONResponse:
        """Validate and describe the action, store it as a pending change, answer `202` with
        the change and its `Location`; nothing else is written."""
        proposal = kind.describe(self.session, params)
        row = store.propose(
            self.session,
            kind=kind.name,
            service=kind.service,
            proposal=proposal,
            params=params,
            request=self.request,
            maker=self.maker.client_id,
            maker_request_id=self.request_id,
        )
        return JSONResponse(
            change_out(row).model_dump(mode="json"),
            status_code=202,
            headers={"Location": store.change_path(row.id)},
        )


async def governance(
    request: Request, session: DbSession, settings: AppSettings, principal: Admin
) -> Governance:
    """The `Governance` of an operator's request (the gate: scope `admin`)."""
    media = (request.headers.get("content-type") or "").split(";")[0].strip() or None
    return Governance(
        session=session,
        settings=settings,
        maker=principal,
        request_id=request.scope.get("state", {}).get("request_id"),
        request={"method": request.method, "path": request.url.path, "media_type": media},
    )


Governed = Annotated[Governance, Depends(governance)]
