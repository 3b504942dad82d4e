"""What every command runs in: the database (configured or embedded), one transaction on it,
progress lines on stderr, and the input files it reads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from shared import embedded_pg, migrate
from shared.db import make_engine, make_sessionmaker
from shared.errors import DomainError
from shared.settings import get_settings

_handles: list[Any] = []

ExistingFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]


def step(message: str) -> None:
    """Tell the operator what happens now (stderr, so stdout stays the command's result)."""
    typer.echo(f"» {message}", err=True)


@contextmanager
def database() -> Iterator[str]:
    """Yield the database URL: DATABASE_URL, or the embedded server (started if needed)."""
    settings = get_settings()
    if settings.database_url:
        yield settings.database_url
        return
    step(f"no DATABASE_URL: using the embedded PostgreSQL in {settings.data_dir}")
    url, handle = embedded_pg.start(settings.data_dir)
    _handles.append(handle)  # kept alive for the whole command
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    yield url


def engine_on(url: str) -> Engine:
    """A command's one-connection engine, set up like the servers' (a pooler's URL too)."""
    pooler = get_settings().db_pooler == "transaction"
    return make_engine(url, pool_size=1, max_overflow=0, pooler=pooler)


def migration_url(url: str) -> str:
    """Where schema changes run: INNOCREDIT_MIGRATION_DATABASE_URL (a direct connection when
    DATABASE_URL is a pooler's), else `url`."""
    return get_settings().migration_database_url or url


def require_head(url: str) -> None:
    """Exit 1, saying what to run, unless the database at `url` is migrated to head."""
    engine = engine_on(url)
    try:
        with engine.connect() as conn:
            ok = migrate.at_head(conn)
    finally:
        engine.dispose()
    if not ok:
        typer.echo("The database is not migrated to head: run `innocredit db upgrade`.", err=True)
        raise typer.Exit(1)


@contextmanager
def transaction() -> Iterator[Session]:
    """One transaction on the configured database (migrated to head), committed on success.

    A domain error (bad file, unknown model, ...) is printed with its row errors and exits 1.
    """
    with database() as url:
        require_head(url)
        engine = engine_on(url)
        try:
            with make_sessionmaker(engine).begin() as session:
                yield session
        except DomainError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            for error in (exc.errors or [])[:50]:
                typer.echo(f"  {'.'.join(map(str, error['loc']))}: {error['msg']}", err=True)
            raise typer.Exit(1) from None
        finally:
            engine.dispose()


def read_upload(path: Path) -> tuple[bytes, str]:
    """A file's bytes and the media type its extension implies."""
    media = {
        ".csv": "text/csv",
        ".json": "application/json",
        ".yaml": "application/yaml",
        ".yml": "application/yaml",
    }.get(path.suffix.lower())
    if media is None:
        typer.echo(f"{path}: use a .csv, .json, .yaml or .yml file", err=True)
        raise typer.Exit(2)
    return path.read_bytes(), media
