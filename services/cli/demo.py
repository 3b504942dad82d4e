"""`innocredit demo load` (and `serve --demo`): Taizhou's demo data, the API clients and the
dashboard users it creates, whose secrets and passwords are handed over once
(`services/cli/credentials.py`)."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from sqlalchemy.orm import Session

from services import demo
from services.cli.context import engine_on, step, transaction
from services.cli.credentials import (
    NewClient,
    NewUser,
    credentials_path,
    hand_over,
    hand_over_users,
)
from services.gateway import users as gateway_users
from shared.db import make_sessionmaker
from shared.settings import get_settings

app = typer.Typer(help="Demo data.", no_args_is_help=True)


def _new_clients(credentials: list[demo.Credentials]) -> list[NewClient]:
    # The demo's admin client is the second operator: CHECKER_…, beside the first start's ADMIN_….
    return [
        NewClient(
            c.role,
            c.name,
            c.code,
            c.client_id,
            c.client_secret,
            "CHECKER" if c.role == "admin" else None,
        )
        for c in credentials
    ]


def _hand_over_users(session: Session, data_dir: Path, made_by: str) -> None:
    made = demo.users(session)
    hand_over_users(
        [NewUser(u.role, u.name, u.bank_code, u.password) for u in made], data_dir, made_by=made_by
    )


def announce_sign_in(url: str, base_url: str, data_dir: Path) -> None:
    """Say where the dashboard's sign-in is and who may sign in (never the passwords: they
    are in the credentials file, which this names)."""
    engine = engine_on(url)
    try:
        with make_sessionmaker(engine)() as session:
            names = [u.name for u in gateway_users.list_users(session, after=None, limit=20)]
    finally:
        engine.dispose()
    if not names:
        return
    step(
        f"dashboard: sign in at {base_url}/dashboard/sign-in as {', '.join(names[:20])} "
        f"(passwords in {credentials_path(data_dir)})"
    )


@app.command("load")
def demo_load() -> None:
    """Fill an empty database with Taizhou's demo data (fixed seed; under a minute)."""
    started = time.perf_counter()
    with transaction() as session:
        try:
            credentials = demo.load(session, step)
        except demo.DatabaseNotEmpty as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        hand_over(_new_clients(credentials), get_settings().data_dir, made_by="demo load")
        _hand_over_users(session, get_settings().data_dir, "demo load")
    step(f"demo loaded in {time.perf_counter() - started:.1f} s")


def load_if_empty(url: str, data_dir: Path) -> None:
    """Load the demo data into the database at URL unless it already has data (`serve --demo`);
    the clients' secrets go to the credentials file under `data_dir` and the terminal."""
    engine = engine_on(url)
    try:
        with make_sessionmaker(engine).begin() as session:
            if not demo.is_empty(session):
                step("the database already has data: demo not loaded")
                return
            step("loading the demo data")
            credentials = demo.load(session, step)
            hand_over(_new_clients(credentials), data_dir, made_by="serve --demo")
            _hand_over_users(session, data_dir, "serve --demo")
    finally:
        engine.dispose()
