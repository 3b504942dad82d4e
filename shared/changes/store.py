"""Storing and deciding changes (`gov_change`). Never commits: a proposal is the proposing
request's transaction, a decision the approving one's (the action runs in it too)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from shared import clock
from shared.changes.errors import ChangeDecided, ChangeInProgress, ChangeNotFound, ChangePending
from shared.changes.kinds import Decision, Proposal
from shared.changes.model import ChangeRow

_LOCK_NOT_AVAILABLE = "55P03"


def change_path(change_id: uuid.UUID) -> str:
    """The change's address in the API (a proposal's `Location`)."""
    return f"/v1/admin/changes/{change_id}"


def propose(
    session: Session,
    *,
    kind: str,
    service: str,
    proposal: Proposal,
    params: Mapping[str, Any],
    request: Mapping[str, Any],
    maker: str,
    maker_request_id: str | None,
) -> ChangeRow:
    """Store a pending change; `ChangePending` (409, naming it) when its target has one.

    The partial unique index decides a race without an exception: a competing proposal waits
    for the in-flight one, then inserts nothing and finds it."""
    change_id = uuid.uuid4()
    inserted = session.execute(
        insert(ChangeRow)
        .values(
            id=change_id,
            kind=kind,
            service=service,
            target=proposal.target,
            status="pending",
            summary=proposal.summary,
            request=dict(request),
            params=dict(params),
            expected=dict(proposal.expected),
            diff=proposal.diff,
            links=dict(proposal.links),
            maker=maker,
            made_at=clock.now(),
            maker_request_id=maker_request_id,
        )
        .on_conflict_do_nothing(
            index_elements=[ChangeRow.target], index_where=ChangeRow.status == "pending"
        )
        .returning(ChangeRow.id)
    ).scalar_one_or_none()
    if inserted is None:
        pending = session.scalars(
            select(ChangeRow.id).where(
                ChangeRow.target == proposal.target, ChangeRow.status == "pending"
            )
        ).first()
        raise ChangePending(
            f"A change of {proposal.target} is already pending: decide it first",
            extra={"change": change_path(pending) if pending else None},
        )
    return get_change(session, change_id)


def get_change(session: Session, change_id: uuid.UUID) -> ChangeRow:
    """A change, or `ChangeNotFound`."""
    row = session.scalars(
        select(ChangeRow).where(ChangeRow.id == change_id).execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        raise ChangeNotFound(f"No change {change_id}")
    return row


def list_changes(
    session: Session,
    *,
    status: str | None,
    kind: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[ChangeRow]:
    """Up to `limit + 1` changes, newest first (made_at, then id, descending), after `after`."""
    stmt = select(ChangeRow)
    if status is not None:
        stmt = stmt.where(ChangeRow.status == status)
    if kind is not None:
        stmt = stmt.where(ChangeRow.kind == kind)
    if after is not None:
        stmt = stmt.where(tuple_(ChangeRow.made_at, ChangeRow.id) < tuple_(*after))
    stmt = stmt.order_by(ChangeRow.made_at.desc(), ChangeRow.id.desc()).limit(limit + 1)
    return session.scalars(stmt).all()


def lock_for_decision(session: Session, change_id: uuid.UUID) -> ChangeRow:
    """Lock a pending change for its decision, without waiting: another decision in flight is
    `ChangeInProgress` (409; waiting could mean a national recompute's minute), a decided one
    `ChangeDecided`, an unknown one `ChangeNotFound`."""
    try:
        row = session.scalars(
            select(ChangeRow)
            .where(ChangeRow.id == change_id)
            .with_for_update(nowait=True)
            .execution_options(populate_existing=True)
        ).one_or_none()
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            raise ChangeInProgress(f"Change {change_id} is being decided right now") from None
        raise
    if row is None:
        raise ChangeNotFound(f"No change {change_id}")
    if row.status != "pending":
        raise ChangeDecided(f"Change {change_id} is already {row.status}")
    return row


def mark_approved(session: Session, row: ChangeRow, decision: Decision, result: Any) -> None:
    """Record the approval of the locked, pending `row` with the action's `result`."""
    row.status = "approved"
    row.checker = decision.checker
    row.decided_at = clock.now()
    row.checker_request_id = decision.request_id
    row.result = result
    session.flush()


def mark_rejected(
    session: Session, row: ChangeRow, *, checker: str, request_id: str | None, reason: str
) -> None:
    """Record the rejection (or the maker's withdrawal) of the locked, pending `row`."""
    row.status = "rejected"
    row.checker = checker
    row.decided_at = clock.now()
    row.checker_request_id = request_id
    row.reason = reason
    session.flush()
