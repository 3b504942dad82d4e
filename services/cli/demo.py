"""`innocredit demo load` (and `serve --demo`): Taizhou's demo data and the API clients it
creates, whose secrets are printed once."""

from __future__ import annotations

import time

import typer

from services import demo
from services.cli.context import step, transaction
from shared.db import make_engine, make_sessionmaker

app = typer.Typer(help="Demo data.", no_args_is_help=True)


def print_credentials(credentials: list[demo.Credentials]) -> None:
    """Print the demo clients' credentials: their secrets are stored only as hashes."""
    typer.secho("\nDemo API clients (secrets are shown only now):", fg=typer.colors.GREEN, err=True)
    for c in credentials:
        typer.echo(f"  {c.role:<12} {c.name:<32} {c.client_id}  {c.client_secret}")


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
    step(f"demo loaded in {time.perf_counter() - started:.1f} s")
    print_credentials(credentials)


def load_if_empty(url: str) -> None:
    """Load the demo data into the database at URL unless it already has data (`serve --demo`)."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with make_sessionmaker(engine).begin() as session:
            if not demo.is_empty(session):
                step("the database already has data: demo not loaded")
                return
            step("loading the demo data")
            credentials = demo.load(session, step)
    finally:
        engine.dispose()
    print_credentials(credentials)
