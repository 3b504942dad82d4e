"""Deciding a change: approve (run its action, in the approving transaction) or reject, each
with its audit row naming maker and checker. The API (`changes_api`) and the CLI
(`innocredit changes approve|reject`) both decide here. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from services.gateway.service import record_audit
from shared.changes import store
from shared.changes.api import change_out
from shared.changes.errors import ChangeOwn
from shared.changes.kinds import ChangeKind, Decision
from shared.changes.model import ChangeRow
from shared.changes.schemas import ChangeOut

ChangeKinds = Mapping[str, ChangeKind]
"""Every governed kind by name; the composition roots hand them to the gateway."""


@dataclass(frozen=True, slots=True)
class Checker:
    """Who decides, and through which request (the audit row's method and path)."""

    client_id: str
    request_id: str | None
    method: str
    path: str


def approve(
    session: Session, kinds: ChangeKinds, change_id: uuid.UUID, checker: Checker
) -> ChangeOut:
    """Approve a pending change made by another client and run it: its target must be as
    proposed (409 `change-target-moved` otherwise); a failing action leaves it pending and
    nothing written (the caller's transaction rolls back)."""
    row = store.lock_for_decision(session, change_id)
    if row.maker == checker.client_id:
        raise ChangeOwn(
            f"Change {change_id} was proposed by {row.maker}: another admin client approves it"
        )
    kind = kinds[row.kind]
    decision = Decision(row.id, row.maker, checker.client_id, checker.request_id)
    result = kind.apply(session, row.params, row.expected, decision)
    stored = {k: v for k, v in result.items() if k not in kind.secret}
    store.mark_approved(session, row, decision, stored)
    _audit(session, row, checker, "change-approved", {"result": stored})
    return change_out(row, {k: v for k, v in result.items() if k in kind.secret})


def reject(session: Session, change_id: uuid.UUID, checker: Checker, reason: str) -> ChangeOut:
    """Reject a pending change with a reason (its maker may withdraw it so)."""
    row = store.lock_for_decision(session, change_id)
    store.mark_rejected(
        session, row, checker=checker.client_id, request_id=checker.request_id, reason=reason
    )
    _audit(session, row, checker, "change-rejected", {"reason": reason})
    return change_out(row)


def _audit(
    session: Session, row: ChangeRow, checker: Checker, action: str, outcome: dict[str, object]
) -> None:
    record_audit(
        session,
        client_id=checker.client_id,
        method=checker.method,
        path=checker.path,
        status=200,
        request_id=checker.request_id,
        action=action,
        detail={
            "change": str(row.id),
            "kind": row.kind,
            "target": row.target,
            "maker": row.maker,
            "maker_request_id": row.maker_request_id,
            "checker": checker.client_id,
            **outcome,
        },
    )
