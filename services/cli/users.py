"""`innocredit users create|list|disable|unlock|set-password`: the people who sign in to the
dashboard.

A password never comes as an argument (the shell's history and `ps` would keep it) and is
never printed: it is typed at the terminal (twice), read from stdin when stdin is not a
terminal (`… < file`, a pipe from a secret store), or generated with `--generate-password`
and handed over like API clients' secrets (services/cli/credentials.py: the 0600 credentials
file and the terminal, not the output).
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from pydantic import ValidationError

from services.cli.context import transaction
from services.cli.credentials import NewUser, hand_over_users
from services.gateway import users as gateway_users
from services.gateway.schemas import UserCreate
from services.loans.products import bank_exists
from shared.settings import get_settings

_PAGE = 500

app = typer.Typer(help="Dashboard users (people who sign in).", no_args_is_help=True)

Generate = Annotated[
    bool,
    typer.Option(
        "--generate-password",
        help="Generate the password; it goes to the credentials file, never to the output",
    ),
]


def read_password(name: str) -> str:
    """The new password: asked twice on the terminal, or one line of stdin without one."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.removesuffix("\n").removesuffix("\r")
    first = getpass.getpass(f"password for {name}: ")
    if getpass.getpass("again: ") != first:
        typer.echo("error: the two passwords differ", err=True)
        raise typer.Exit(1)
    return first


def _checked(password: str, name: str) -> str:
    problem = gateway_users.password_problem(password, name)
    if problem is not None:
        typer.echo(f"error: the password is {problem} ({gateway_users.PASSWORD_RULE})", err=True)
        raise typer.Exit(2)
    return password


@app.command("create")
def users_create(
    name: Annotated[str, typer.Option(help="What they type to sign in, e.g. wang.fang")],
    role: Annotated[str, typer.Option(help="bureau | bank")],
    bank_code: Annotated[str | None, typer.Option(help="The bank's code (role bank)")] = None,
    generate: Generate = False,
) -> None:
    """Create a dashboard user (password typed, from stdin, or generated)."""
    password = gateway_users.new_password(name) if generate else _checked(read_password(name), name)
    try:
        data = UserCreate.model_validate(
            {"name": name, "role": role, "bank_code": bank_code, "password": password}
        )
    except ValidationError as exc:
        messages = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        typer.echo(f"invalid user: {messages}", err=True)
        raise typer.Exit(2) from None
    with transaction() as session:
        user = gateway_users.create_user(session, data, bank_exists)
        if generate:
            hand_over_users(
                [NewUser(user.role, user.name, user.bank_code, password)],
                get_settings().data_dir,
                made_by="users create",
            )
        typer.echo(f"created user {user.id}: {user.name} ({user.role} {user.bank_code or ''})")


@app.command("list")
def users_list() -> None:
    """List every user (id, role, bank, state, failed sign-ins, name); never passwords."""
    after: int | None = None
    with transaction() as session:
        while True:
            page = gateway_users.list_users(session, after=after, limit=_PAGE)
            for u in page[:_PAGE]:
                state = "disabled" if u.disabled else ("locked" if u.locked_until else "enabled")
                code = u.bank_code or "-"
                typer.echo(
                    f"{u.id:>6}  {u.role:<6}  {code:<10}  {state:<8}  {u.failed_count}  {u.name}"
                )
            if len(page) <= _PAGE:
                break
            after = page[_PAGE - 1].id


UserName = Annotated[str, typer.Argument(help="The user's name")]


@app.command("disable")
def users_disable(name: UserName) -> None:
    """Disable a user: no more sign-ins, their sessions end now."""
    with transaction() as session:
        user = gateway_users.user_named(session, name)
        gateway_users.disable_user(session, user.id)
    typer.echo(f"disabled {name}; their sessions ended")


@app.command("unlock")
def users_unlock(name: UserName) -> None:
    """Lift a lockout after too many wrong passwords."""
    with transaction() as session:
        user = gateway_users.user_named(session, name)
        gateway_users.unlock_user(session, user.id)
    typer.echo(f"unlocked {name}")


@app.command("set-password")
def users_set_password(name: UserName, generate: Generate = False) -> None:
    """Give a user a new password (typed, from stdin, or generated); their sessions end."""
    password = gateway_users.new_password(name) if generate else _checked(read_password(name), name)
    with transaction() as session:
        user = gateway_users.user_named(session, name)
        gateway_users.set_password(session, user.id, password)
        if generate:
            hand_over_users(
                [NewUser(user.role, user.name, user.bank_code, password)],
                get_settings().data_dir,
                made_by="users set-password",
            )
    typer.echo(f"new password set for {name}; their sessions ended")
