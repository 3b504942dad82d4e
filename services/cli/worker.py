"""`innocredit worker`: deliver webhooks (the outbox's events) as a process of its own.

`innocredit serve` runs the same loop in a thread of its process; this command is for
deployments that split the processes (Kubernetes: the Deployment `innocredit-worker`;
systemd: `innocredit-worker.service`). Several may run at once. A health app answers on
`--host`/`--port` in the worker's own event loop: `/healthz` while the loop turns (a blocked
loop fails the probe), `/readyz` when the database answers at head and a claim cycle ran in
the last 30 s. SIGTERM (or Ctrl-C) stops the claims, lets the sends in flight finish (at
most the timeout), and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from services.cli.context import database, require_head, step
from services.loans.webhooks import worker as webhooks
from services.runtime import engine_for
from shared.app import health_router
from shared.logging import configure_logging
from shared.settings import CoreSettings, get_settings


def worker(
    host: Annotated[str, typer.Option(help="Interface of the health app")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the health app (/healthz, /readyz)")] = 8004,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Sends in flight (default INNOCREDIT_WEBHOOK_CONCURRENCY)"),
    ] = None,
    drain: Annotated[
        bool,
        typer.Option(help="Exit once no delivery is pending (tests, benchmarks); no health app"),
    ] = False,
) -> None:
    """Deliver webhooks until stopped (SIGTERM), or with --drain until none is pending."""
    configure_logging(get_settings().log_level, get_settings().log_format)
    with database() as url:
        require_head(url)
        settings = get_settings()  # DATABASE_URL may have just been set
        engine = engine_for(settings)
        try:
            asyncio.run(_run(settings, engine, host, port, concurrency, drain))
        finally:
            engine.dispose()


class _HealthServer(uvicorn.Server):
    """uvicorn without its signal handlers: the worker owns SIGTERM and stops the server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def health_app(engine: Engine, health: webhooks.Health) -> FastAPI:
    """The worker's probes: the services' `/healthz` and `/readyz`, plus its claim cycle."""
    app = FastAPI(title="InnoCredit webhook worker", docs_url=None, redoc_url=None)
    app.include_router(health_router(engine, extra_checks=lambda: {"claims": health.ready()}))
    return app


async def _run(
    settings: CoreSettings,
    engine: Engine,
    host: str,
    port: int,
    concurrency: int | None,
    drain: bool,
) -> None:
    stop = threading.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    health = webhooks.Health()
    delivering = asyncio.create_task(
        webhooks.run(settings, engine, stop, drain=drain, concurrency=concurrency, health=health)
    )
    if drain:
        await delivering
        return
    config = uvicorn.Config(
        health_app(engine, health), host=host, port=port, log_config=None, access_log=False
    )
    server = _HealthServer(config)
    serving = asyncio.create_task(server.serve())
    step(f"delivering webhooks; health on http://{host}:{port}/readyz")
    await asyncio.wait({delivering, serving}, return_when=asyncio.FIRST_COMPLETED)
    stop.set()  # a stop, or the health app failed to bind: either ends both
    await delivering
    server.should_exit = True
    await serving
