"""`/v1/admin/changes`: the pending, approved and rejected changes of the rules, read by the
bureau and operators, decided by operators (four eyes: README "Model governance")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.gateway import changes
from shared.auth.deps import Admin, ProgrammeWide
from shared.auth.principal import Principal
from shared.changes import store
from shared.changes.api import change_out
from shared.changes.kinds import ChangeKindName
from shared.changes.schemas import ChangeOut, ChangeStatus, RejectIn
from shared.db import DbSession
from shared.openapi import problems
from shared.pagination import Page, PageParams

admin_changes = APIRouter(prefix="/v1/admin/changes", tags=["admin: changes"])


def _checker(request: Request, principal: Principal) -> changes.Checker:
    return changes.Checker(
        client_id=principal.client_id,
        request_id=request.scope.get("state", {}).get("request_id"),
        method=request.method,
        path=request.url.path,
    )


@admin_changes.get("", response_model=Page[ChangeOut], summary="Changes of the rules")
def list_changes(
    session: DbSession,
    _: ProgrammeWide,
    paging: PageParams,
    status: Annotated[ChangeStatus | None, Query()] = None,
    kind: Annotated[ChangeKindName | None, Query()] = None,
) -> Page[ChangeOut]:
    """Newest first; `?status=pending` is what waits for a checker."""
    keyset = paging.keyset(f"changes:{status}:{kind}")
    after = keyset.values(datetime, uuid.UUID)
    rows = store.list_changes(session, status=status, kind=kind, after=after, limit=paging.limit)
    return keyset.page(rows, lambda c: [c.made_at.isoformat(), str(c.id)], change_out)


@admin_changes.get("/{change_id}", response_model=ChangeOut, summary="One change")
def get_change(change_id: uuid.UUID, session: DbSession, _: ProgrammeWide) -> ChangeOut:
    """What it does, against which state, who proposed and who decided it."""
    return change_out(store.get_change(session, change_id))


@admin_changes.post(
    "/{change_id}/approve",
    response_model=ChangeOut,
    responses=problems(409),
    summary="Approve a change (another operator's) and run it",
)
def approve_change(
    change_id: uuid.UUID, request: Request, session: DbSession, principal: Admin
) -> ChangeOut:
    """Runs the change in this request's transaction, as the direct call would have, and
    answers it with `result`. 403 `change-own` for its maker; 409 `change-target-moved` when
    the target changed since (the change stays pending), `change-decided`, or
    `change-in-progress` while another operator decides it."""
    kinds: changes.ChangeKinds = request.app.state.change_kinds
    return changes.approve(session, kinds, change_id, _checker(request, principal))


@admin_changes.post(
    "/{change_id}/reject",
    response_model=ChangeOut,
    responses=problems(409),
    summary="Reject (or, its maker, withdraw) a change",
)
def reject_change(
    change_id: uuid.UUID, body: RejectIn, request: Request, session: DbSession, principal: Admin
) -> ChangeOut:
    """The reason is kept with the change; nothing else happens."""
    return changes.reject(session, change_id, _checker(request, principal), body.reason)
