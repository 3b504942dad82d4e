"""`innocredit clients create|list|rotate-secret` and `innocredit keys rotate`: who may call the
API, and the keys their tokens are signed with."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from services.cli.context import transaction
from services.gateway import service as gateway_service
from services.gateway.schemas import ClientCreate
from services.loans.products import bank_exists
from shared.crypto import KeyEncryptor
from shared.settings import get_settings

_PAGE = 500

clients_app = typer.Typer(help="API clients.", no_args_is_help=True)
keys_app = typer.Typer(help="Token-signing keys.", no_args_is_help=True)


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="Who the client is, e.g. 泰州银行 loan system")],
    role: Annotated[str, typer.Option(help="bank | bureau | credit_firm | admin")],
    bank_code: Annotated[str | None, typer.Option(help="The bank's code (role bank)")] = None,
    firm_code: Annotated[
        str | None, typer.Option(help="The firm's code (role credit_firm)")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only the credentials as JSON")
    ] = False,
) -> None:
    """Create an API client and print its secret (shown this once)."""
    try:
        data = ClientCreate.model_validate(
            {"name": name, "role": role, "bank_code": bank_code, "firm_code": firm_code}
        )
    except ValueError as exc:
        typer.echo(f"invalid client: {exc}", err=True)
        raise typer.Exit(2) from None
    with transaction() as session:
        gateway_service.require_known_bank(session, data, bank_exists)
        client, secret = gateway_service.create_client(session, data)
        client_id = client.client_id
    _print_secret(client_id, secret, as_json=as_json)


@clients_app.command("list")
def clients_list() -> None:
    """List every API client (id, role, bank or firm code, enabled, name); never secrets."""
    rows: list[tuple[str, str, str, bool, str]] = []
    after: str | None = None
    with transaction() as session:
        while True:
            page = gateway_service.list_clients(session, after=after, limit=_PAGE)
            rows += [
                (c.client_id, c.role, c.bank_code or c.firm_code or "-", c.enabled, c.name)
                for c in page[:_PAGE]
            ]
            if len(page) <= _PAGE:
                break
            after = page[_PAGE - 1].client_id
    for client_id, role, code, enabled, name in rows:
        state = "enabled" if enabled else "disabled"
        typer.echo(f"{client_id}  {role:<11}  {code:<8}  {state:<8}  {name}")


@clients_app.command("rotate-secret")
def clients_rotate_secret(
    client_id: Annotated[str, typer.Argument(help="The client's id (ic_...)")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only the credentials as JSON")
    ] = False,
) -> None:
    """Give a client a new secret and print it (shown this once); the old one stops working."""
    with transaction() as session:
        client, secret = gateway_service.rotate_client_secret(session, client_id)
        client_id = client.client_id
    _print_secret(client_id, secret, as_json=as_json)


def _print_secret(client_id: str, secret: str, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"client_id": client_id, "client_secret": secret}))
    else:
        typer.echo(
            f"client_id:     {client_id}\nclient_secret: {secret}\n"
            "(the secret is shown only now; store it safely)"
        )


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Sign new tokens with a new key; the old one verifies until its tokens expire."""
    settings = get_settings()
    with transaction() as session:
        new, old = gateway_service.rotate_key(
            session,
            KeyEncryptor(settings.key_encryption_key),
            activation_delay_seconds=settings.unknown_kid_cooldown_seconds,
        )
    typer.echo(f"new signing key: {new.kid} (published now, signs from {new.activates_at})")
    if old is not None:
        typer.echo(
            f"previous key:    {old.kid} (signs until {old.retired_at}, then verifies "
            f"its tokens for another {settings.token_ttl_seconds} s)"
        )
