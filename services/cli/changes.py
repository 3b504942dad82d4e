"""`innocredit changes list|show|approve|reject`: four eyes from the command line, and the
proposals of `models publish`, `points recompute` and `calendar load` when their kind is
governed. The maker and the checker are admin clients proven by their secret
(`INNOCREDIT_CLIENT_SECRET`, else asked on the terminal): database access alone would let one
person be both. A national recompute is best approved here (no request timeout applies)."""

from __future__ import annotations

import getpass
import json
import os
import uuid
from collections.abc import Mapping
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from services.cli.context import step, transaction
from services.gateway import changes as gateway_changes
from services.gateway import service as gateway_service
from services.runtime import CHANGE_KINDS
from shared.changes import store
from shared.changes.api import change_out
from shared.changes.kinds import KIND_NAMES, ChangeKind
from shared.changes.schemas import ChangeOut
from shared.settings import get_settings

app = typer.Typer(help="Four eyes: pending changes of the rules.", no_args_is_help=True)

ClientId = Annotated[
    str,
    typer.Option("--client-id", help="Your admin client (its secret: INNOCREDIT_CLIENT_SECRET)"),
]
_SHOWN = 50


def operator(session: Session, client_id: str) -> str:
    """The admin client `client_id`, proven by its secret; exits 1 otherwise."""
    secret = os.environ.get("INNOCREDIT_CLIENT_SECRET") or getpass.getpass(
        f"client secret of {client_id}: "
    )
    client = gateway_service.authenticate_client(session, client_id, secret)
    if client is None or client.role != "admin":
        typer.echo(f"error: {client_id} is not an enabled admin client with that secret", err=True)
        raise typer.Exit(1)
    return client.client_id


def governs(kind: ChangeKind) -> bool:
    """Whether INNOCREDIT_FOUR_EYES makes `kind` wait for a second operator."""
    return kind.name in get_settings().governed


def propose(
    session: Session,
    kind: ChangeKind,
    params: Mapping[str, Any],
    *,
    client_id: str | None,
    command: str,
    media_type: str | None = None,
) -> None:
    """Propose `kind` as the admin client `client_id` (required: exits 2 without it) and print
    the pending change's id."""
    if client_id is None:
        typer.echo(
            f"error: {kind.name} is governed (INNOCREDIT_FOUR_EYES): pass --client-id of your "
            "admin client to propose it; another operator approves it",
            err=True,
        )
        raise typer.Exit(2)
    maker = operator(session, client_id)
    row = store.propose(
        session,
        kind=kind.name,
        service=kind.service,
        proposal=kind.describe(session, params),
        params=params,
        request={"method": "CLI", "path": command, "media_type": media_type},
        maker=maker,
        maker_request_id=None,
    )
    typer.echo(f"proposed change {row.id}: {row.summary}")
    typer.echo(f"another operator: innocredit changes approve {row.id} --client-id ic_…")


def _line(change: ChangeOut) -> str:
    made = change.made_at.isoformat(timespec="seconds")
    what = f"{change.status:<8}  {change.kind:<16}"
    return f"{change.id}  {what}  {made}  {change.maker}  {change.summary}"


@app.command("list")
def changes_list(
    status: Annotated[
        str | None, typer.Option(help="pending | approved | rejected (default: all)")
    ] = None,
    kind: Annotated[str | None, typer.Option(help=", ".join(KIND_NAMES))] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """The latest changes, newest first."""
    if status not in {None, "pending", "approved", "rejected"} or kind not in {None, *KIND_NAMES}:
        typer.echo("error: unknown --status or --kind", err=True)
        raise typer.Exit(2)
    with transaction() as session:
        rows = store.list_changes(session, status=status, kind=kind, after=None, limit=_SHOWN)
        shown = [change_out(r) for r in rows[:_SHOWN]]
    for change in shown:
        typer.echo(change.model_dump_json() if as_json else _line(change))


@app.command("show")
def changes_show(
    change_id: uuid.UUID,
    as_json: Annotated[bool, typer.Option("--json", help="The change as the API shows it")] = False,
) -> None:
    """One change: what it does, its diff and links, who proposed and decided it."""
    with transaction() as session:
        change = change_out(store.get_change(session, change_id))
    if as_json:
        typer.echo(change.model_dump_json())
        return
    typer.echo(_line(change))
    typer.echo(f"target {change.target}; request {json.dumps(change.request, ensure_ascii=False)}")
    for name in ("diff", "links", "result"):
        value = getattr(change, name)
        if value:
            typer.echo(f"{name}: {json.dumps(value, ensure_ascii=False, indent=2)}")
    if change.checker:
        typer.echo(f"{change.status} by {change.checker} at {change.decided_at}")
    if change.reason:
        typer.echo(f"reason: {change.reason}")


def _checker(client_id: str, command: str) -> gateway_changes.Checker:
    return gateway_changes.Checker(client_id, None, "CLI", command)


@app.command("approve")
def changes_approve(change_id: uuid.UUID, client_id: ClientId) -> None:
    """Approve another operator's change and run it, in this command's transaction."""
    with transaction() as session:
        checker = operator(session, client_id)
        step(f"approving {change_id}")
        change = gateway_changes.approve(
            session,
            CHANGE_KINDS,
            change_id,
            _checker(checker, f"innocredit changes approve {change_id}"),
        )
    typer.echo(f"approved change {change.id}: {change.summary}")
    typer.echo(json.dumps(change.result, ensure_ascii=False))


@app.command("reject")
def changes_reject(
    change_id: uuid.UUID,
    client_id: ClientId,
    reason: Annotated[str, typer.Option(help="Why (kept with the change)")],
) -> None:
    """Reject a change (its maker may withdraw it so); the reason is kept."""
    if not reason.strip() or len(reason) > 1000:
        typer.echo("error: --reason needs 1-1000 characters", err=True)
        raise typer.Exit(2)
    with transaction() as session:
        checker = operator(session, client_id)
        change = gateway_changes.reject(
            session, change_id, _checker(checker, f"innocredit changes reject {change_id}"), reason
        )
    typer.echo(f"rejected change {change.id}: {change.summary}")
