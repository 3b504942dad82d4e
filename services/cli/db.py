"""`innocredit db upgrade|downgrade`: the schema's one Alembic history."""

from __future__ import annotations

from typing import Annotated

import typer

from services.cli.context import database, migration_url, step
from shared import migrate

app = typer.Typer(help="Database schema (one Alembic history).", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Migrate the schema up to REVISION (default: head)."""
    with database() as url:
        step(f"upgrading schema to {revision}")
        migrate.upgrade(migration_url(url), revision)
        step("done")


@app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base")] = "-1",
) -> None:
    """Migrate the schema down to REVISION (default: one step; `base` drops everything)."""
    with database() as url:
        step(f"downgrading schema to {revision}")
        migrate.downgrade(migration_url(url), revision)
        step("done")
