"""`innocredit`: run the platform and operate it (schema, clients, keys)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from sqlalchemy.orm import Session

from services import demo
from services.gateway import service as gateway_service
from services.gateway.bootstrap import bootstrap
from services.gateway.crypto import KeyEncryptor
from services.gateway.schemas import ClientCreate
from services.loans import schedule as loans_schedule
from services.loans.api.calendar import calendar_from_upload
from services.loans.applications import Actor as LoansActor
from services.scoring import indicators, model_versions, recompute, registry
from services.scoring.model_body import model_from_bytes
from services.scoring.schemas import EnterpriseIn, IndicatorIn
from shared import embedded_pg, migrate
from shared.bulk import parse_rows
from shared.db import make_engine, make_sessionmaker
from shared.errors import DomainError
from shared.http_protocol import HTTP_PROTOCOL
from shared.logging import configure_logging
from shared.settings import CoreSettings, get_settings

app = typer.Typer(help="InnoCredit: 创新积分贷 points, loans and guarantees.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (one Alembic history).", no_args_is_help=True)
clients_app = typer.Typer(help="API clients.", no_args_is_help=True)
keys_app = typer.Typer(help="Token-signing keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(clients_app, name="clients")
app.add_typer(keys_app, name="keys")
enterprises_app = typer.Typer(help="Enterprises of the points database.", no_args_is_help=True)
indicators_app = typer.Typer(help="Indicator data per period.", no_args_is_help=True)
models_app = typer.Typer(help="Points model versions.", no_args_is_help=True)
points_app = typer.Typer(help="Computed points and rankings.", no_args_is_help=True)
app.add_typer(enterprises_app, name="enterprises")
app.add_typer(indicators_app, name="indicators")
app.add_typer(models_app, name="models")
app.add_typer(points_app, name="points")
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
calendar_app = typer.Typer(help="The working-day calendar.", no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")
app.add_typer(demo_app, name="demo")

_handles: list[Any] = []


def _step(message: str) -> None:
    typer.echo(f"» {message}", err=True)


@contextmanager
def _database() -> Iterator[str]:
    """Yield the database URL: DATABASE_URL, or the embedded server (started if needed)."""
    settings = get_settings()
    if settings.database_url:
        yield settings.database_url
        return
    _step(f"no DATABASE_URL: using the embedded PostgreSQL in {settings.data_dir}")
    url, handle = embedded_pg.start(settings.data_dir)
    _handles.append(handle)  # kept alive for the whole command
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    yield url


def _require_head(url: str) -> None:
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            ok = migrate.at_head(conn)
    finally:
        engine.dispose()
    if not ok:
        typer.echo("The database is not migrated to head: run `innocredit db upgrade`.", err=True)
        raise typer.Exit(1)


@contextmanager
def _transaction() -> Iterator[Session]:
    """One transaction on the configured database (migrated to head), committed on success.

    A domain error (bad file, unknown model, ...) is printed with its row errors and exits 1.
    """
    with _database() as url:
        _require_head(url)
        engine = make_engine(url, pool_size=1, max_overflow=0)
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


# ---------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Migrate the schema up to REVISION (default: head)."""
    with _database() as url:
        _step(f"upgrading schema to {revision}")
        migrate.upgrade(url, revision)
        _step("done")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base")] = "-1",
) -> None:
    """Migrate the schema down to REVISION (default: one step; `base` drops everything)."""
    with _database() as url:
        _step(f"downgrading schema to {revision}")
        migrate.downgrade(url, revision)
        _step("done")


# ---------------------------------------------------------------- clients and keys


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
    with _transaction() as session:
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
    with _transaction() as session:
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


# ---------------------------------------------------------------- scoring


def _read(path: Path) -> tuple[bytes, str]:
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


ExistingFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]


@enterprises_app.command("load")
def enterprises_load(file: ExistingFile) -> None:
    """Create or update enterprises from a CSV or JSON file (all rows or none)."""
    body, media = _read(file)
    with _transaction() as session:
        rows = parse_rows(
            body,
            media,
            EnterpriseIn,
            list_fields=("categories",),
            check=lambda parsed: registry.check_enterprises(session, parsed),
        )
        _step(f"{len(rows)} valid rows; writing")
        done = registry.upsert_enterprises(session, rows)
    typer.echo(f"enterprises: {done.created} created, {done.updated} updated")


@indicators_app.command("load")
def indicators_load(
    file: ExistingFile,
    period: Annotated[int, typer.Option(min=2000, max=2100, help="The year the data is for")],
) -> None:
    """Load a period's indicator data from a CSV or JSON file (all rows or none)."""
    body, media = _read(file)
    with _transaction() as session:
        rows = parse_rows(
            body,
            media,
            IndicatorIn,
            check=lambda parsed: indicators.check_indicators(session, parsed),
        )
        _step(f"{len(rows)} valid rows; writing")
        done = indicators.upsert_indicators(session, period, rows)
    typer.echo(f"indicators {period}: {done.created} created, {done.updated} updated")


@models_app.command("publish")
def models_publish(file: ExistingFile) -> None:
    """Create a points model version from a JSON or YAML file and publish it."""
    body, media = _read(file)
    with _transaction() as session:
        definition = model_from_bytes(body, media)
        model_versions.create_draft(session, definition)
        model = model_versions.publish_model(session, definition.version)
    typer.echo(f"published model {model.version}")


@points_app.command("recompute")
def points_recompute(
    period: Annotated[int, typer.Option(min=2000, max=2100, help="The year to compute")],
    model: Annotated[
        str | None, typer.Option(help="Model version (default: latest published)")
    ] = None,
) -> None:
    """Recompute a period's points and ranking in one pass."""
    _step(f"recomputing {period}")
    with _transaction() as session:
        run = recompute.recompute(session, period, model_version=model, requested_by="cli")
    typer.echo(
        f"period {period}: {run.enterprise_count} enterprises under {run.model_version} "
        f"in {run.duration_ms} ms (run {run.id})"
    )


# ---------------------------------------------------------------- calendar


@calendar_app.command("load")
def calendar_load(
    file: ExistingFile,
    year: Annotated[
        int | None, typer.Option(min=2000, max=2100, help="The year (default: the dates' year)")
    ] = None,
) -> None:
    """Load a year's official working-day schedule (JSON or CSV `date,kind`)."""
    body, media = _read(file)
    with _transaction() as session:
        schedule = calendar_from_upload(body, media)
        years = {d.year for d in (*schedule.holidays, *schedule.make_up_workdays)}
        if year is None:
            if len(years) != 1:
                typer.echo(
                    "error: the file's dates span several years (or none); pass --year", err=True
                )
                raise typer.Exit(2)
            year = years.pop()
        count = loans_schedule.load_calendar(session, year, schedule, LoansActor("cli", None))
    typer.echo(f"calendar {year} loaded; {count} provisional deadline(s) recomputed")


# ---------------------------------------------------------------- demo


def _print_credentials(credentials: list[demo.Credentials]) -> None:
    typer.secho("\nDemo API clients (secrets are shown only now):", fg=typer.colors.GREEN, err=True)
    for c in credentials:
        typer.echo(f"  {c.role:<12} {c.name:<32} {c.client_id}  {c.client_secret}")


@demo_app.command("load")
def demo_load() -> None:
    """Fill an empty database with Taizhou's demo data (fixed seed; under a minute)."""
    started = time.perf_counter()
    with _transaction() as session:
        try:
            credentials = demo.load(session, _step)
        except demo.DatabaseNotEmpty as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    _step(f"demo loaded in {time.perf_counter() - started:.1f} s")
    _print_credentials(credentials)


# ---------------------------------------------------------------- serve


def _prepare(settings: CoreSettings, url: str) -> None:
    if settings.using_dev_key:
        typer.secho(
            "WARNING: INNOCREDIT_KEY_ENCRYPTION_KEY is not set; signing keys are encrypted with "
            "the public development key. Set your own key before real use (see README).",
            fg=typer.colors.YELLOW,
            err=True,
        )
    _step("migrating schema to head")
    migrate.upgrade(url, "head")
    engine = make_engine(url, pool_size=1, max_overflow=0)
    with make_sessionmaker(engine).begin() as session:
        created = bootstrap(session, KeyEncryptor(settings.key_encryption_key))
    engine.dispose()
    if created is not None:
        client_id, secret = created
        typer.secho(
            "\nFirst start: an admin client was created. Its secret is shown only now:",
            fg=typer.colors.GREEN,
            err=True,
        )
        typer.echo(f"  client_id:     {client_id}\n  client_secret: {secret}\n")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Gateway port")] = 8000,
    split: Annotated[
        bool,
        typer.Option(
            help="Run each service as its own uvicorn on PORT+1..PORT+3 behind the gateway"
        ),
    ] = False,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn workers per process")] = 1,
    with_demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo data first if the database is empty")
    ] = False,
) -> None:
    """Run the gateway and the three services (embedded PostgreSQL without DATABASE_URL)."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    with _database() as url:
        _prepare(settings, url)
        if with_demo:
            _serve_demo(url)
        children: list[subprocess.Popen[bytes]] = []
        if split:
            children = _start_services(host, port, workers, settings.shutdown_grace_seconds)
        _step(
            f"gateway listening on http://{host}:{port}"
            + (" (split mode)" if split else " (one process)")
        )
        try:
            uvicorn.run(
                "services.runtime:gateway_from_env",
                factory=True,
                http=HTTP_PROTOCOL,
                host=host,
                port=port,
                workers=workers,
                log_config=None,
                access_log=False,
                timeout_graceful_shutdown=settings.shutdown_grace_seconds,
            )
        finally:
            for child in children:
                child.send_signal(signal.SIGTERM)
            for child in children:
                child.wait(timeout=settings.shutdown_grace_seconds + 5)


def _serve_demo(url: str) -> None:
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with make_sessionmaker(engine).begin() as session:
            if not demo.is_empty(session):
                _step("the database already has data: demo not loaded")
                return
            _step("loading the demo data")
            credentials = demo.load(session, _step)
    finally:
        engine.dispose()
    _print_credentials(credentials)


def _start_services(
    host: str, port: int, workers: int, grace_seconds: int
) -> list[subprocess.Popen[bytes]]:
    """Start the three services as uvicorn processes and point the gateway at them."""
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104  (only compared)
    children = []
    for offset, name in enumerate(("scoring", "loans", "guarantee"), start=1):
        service_port = port + offset
        env = dict(os.environ, INNOCREDIT_JWKS_URL=f"http://{local}:{port}/.well-known/jwks.json")
        for var in ("INNOCREDIT_SCORING_URL", "INNOCREDIT_LOANS_URL", "INNOCREDIT_GUARANTEE_URL"):
            env.pop(var, None)
        children.append(
            subprocess.Popen(  # noqa: S603  (our own interpreter and module)
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    f"services.runtime:{name}_from_env",
                    "--factory",
                    "--host",
                    local,
                    "--port",
                    str(service_port),
                    "--workers",
                    str(workers),
                    "--no-access-log",
                    "--http",
                    HTTP_PROTOCOL,
                    "--timeout-graceful-shutdown",
                    str(grace_seconds),
                ],
                env=env,
            )
        )
        os.environ[f"INNOCREDIT_{name.upper()}_URL"] = f"http://{local}:{service_port}"
        _step(f"{name} service on http://{local}:{service_port}")
    get_settings.cache_clear()
    time.sleep(0.5)
    return children


def main() -> None:
    """Entry point of the `innocredit` command."""
    app()
