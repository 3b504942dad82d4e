"""`innocredit demo load` (and `serve --demo`): Taizhou's demo data and the API clients it
creates, whose secrets are handed over once (`services/cli/credentials.py`)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from services import demo
from services.cli.context import engine_on, step, transaction
from services.cli.credentials import NewClient, hand_over
from shared.db import make_sessionmaker
from shared.settings import get_settings

app = typer.Typer(help="Demo data.", no_args_is_help=True)


def _new_clients(credentials: list[demo.Credentials]) -> list[NewClient]:
    return [NewClient(c.role, c.name, c.code, c.client_id, c.client_secret) for c in credentials]


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
    finally:
        engine.dispose()
