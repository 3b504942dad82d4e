"""`innocredit clients create` and `innocredit keys rotate`: who may call the API, and the keys
their tokens are signed with."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from services.cli.context import transaction
from services.gateway import service as gateway_service
from services.gateway.crypto import KeyEncryptor
from services.gateway.schemas import ClientCreate
from shared.settings import get_settings

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
        client, secret = gateway_service.create_client(session, data)
        client_id = client.client_id
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
