"""`innocredit serve` (what ./run.sh runs): migrate, bootstrap the first admin client, and run
the gateway with the three services, in one process or split into four, with the webhook
worker in a thread of this process (`--no-worker`: deliver with `innocredit worker`)."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Annotated

import typer
import uvicorn

from services.cli.context import database, engine_on, migration_url, step
from services.cli.credentials import NewClient, hand_over
from services.cli.demo import announce_sign_in, load_if_empty
from services.gateway.bootstrap import ADMIN_NAME, bootstrap
from services.loans.webhooks import worker as webhooks
from services.runtime import engine_for
from shared import migrate
from shared.crypto import KeyEncryptor
from shared.db import make_sessionmaker
from shared.http_protocol import HTTP_PROTOCOL
from shared.logging import configure_logging
from shared.settings import CoreSettings, get_settings


def _prepare(settings: CoreSettings, url: str) -> None:
    if settings.using_dev_key:
        typer.secho(
            "WARNING: INNOCREDIT_KEY_ENCRYPTION_KEY is not set; signing keys are encrypted with "
            "the public development key. Set your own key before real use (see README).",
            fg=typer.colors.YELLOW,
            err=True,
        )
    step("migrating schema to head")
    migrate.upgrade(migration_url(url), "head")
    engine = engine_on(url)
    try:
        with make_sessionmaker(engine).begin() as session:
            created = bootstrap(session, KeyEncryptor(settings.key_encryption_key))
            if created is not None:
                step("first start: an admin client was created")
                admin = NewClient("admin", ADMIN_NAME, None, *created)
                hand_over([admin], settings.data_dir, made_by="serve")
    finally:
        engine.dispose()


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
    with_worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Deliver webhooks from a thread of this process (else: innocredit worker)",
        ),
    ] = True,
) -> None:
    """Run the gateway and the three services (embedded PostgreSQL without DATABASE_URL)."""
    _require_free_ports(host, range(port, port + (4 if split else 1)))
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    if with_demo and _is_loopback(host):
        # The demo's receiver runs on this machine (README, "Webhooks: events pushed to banks").
        os.environ["INNOCREDIT_WEBHOOK_ALLOW_LOOPBACK"] = "true"
        get_settings.cache_clear()
        step("demo on a loopback host: webhook endpoints on loopback addresses are allowed")
    elif get_settings().webhook_allow_loopback:
        typer.secho(
            "WARNING: INNOCREDIT_WEBHOOK_ALLOW_LOOPBACK is set: webhooks may be sent to this "
            "machine's loopback addresses. Development only.",
            fg=typer.colors.YELLOW,
            err=True,
        )
    with database() as url:
        _prepare(settings, url)
        if with_demo:
            load_if_empty(url, settings.data_dir)
            announce_sign_in(url, f"http://{host}:{port}", settings.data_dir)
        delivering = _start_worker(get_settings()) if with_worker else None
        children: list[subprocess.Popen[bytes]] = []
        if split:
            children = _start_services(host, port, workers, settings.shutdown_grace_seconds)
        step(
            f"starting the gateway on http://{host}:{port}"
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
            if delivering is not None:
                stop, thread = delivering
                stop.set()
                thread.join(timeout=settings.shutdown_grace_seconds)
            for child in children:
                child.wait(timeout=settings.shutdown_grace_seconds + 5)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _start_worker(settings: CoreSettings) -> tuple[threading.Event, threading.Thread]:
    """The webhook worker in a daemon thread of this process (so `--workers N` and `--split`
    still run exactly one), on its own pooled engine; set the event to stop it."""
    stop = threading.Event()
    engine = engine_for(settings)

    def deliver() -> None:
        try:
            asyncio.run(webhooks.run(settings, engine, stop))
        finally:
            engine.dispose()

    thread = threading.Thread(target=deliver, name="webhook-worker", daemon=True)
    thread.start()
    step("webhook worker started in this process (--no-worker: run innocredit worker)")
    return stop, thread


def _require_free_ports(host: str, ports: range) -> None:
    """Exit at once, before the database is touched, when a port is taken: most often by
    another `./run.sh` still running, which the operator should know before anything else."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for port in ports:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # As uvicorn binds: a port only in TIME_WAIT after a stopped server is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                typer.echo(
                    f"error: cannot listen on {host}:{port}: {exc.strerror or exc}. Is InnoCredit "
                    "(./run.sh) already running there? Stop it, or choose another port: "
                    f"./run.sh --port {ports.stop}",
                    err=True,
                )
                raise typer.Exit(1) from None


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
        step(f"{name} service on http://{local}:{service_port}")
    get_settings.cache_clear()
    time.sleep(0.5)
    return children
