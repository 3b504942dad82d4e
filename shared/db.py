"""The one declarative base, engine construction and the per-request session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import Depends, Request
from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table in the one InnoCredit schema."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def sqlalchemy_url(url: str) -> str:
    """Return `url` with the psycopg 3 driver, whatever PostgreSQL scheme it was given in.

    A libpq URL naming several hosts (`postgresql://u@h1:5432,h2:5432/db?
    target_session_attrs=read-write`, a primary and its standbys: the first that accepts
    writes is used, so a promoted standby takes over) becomes SQLAlchemy's form of the same,
    one `host=` query parameter per host."""
    parts = urlsplit(url)
    if "," in parts.netloc:
        userinfo, at, hosts = parts.netloc.rpartition("@")
        query = [*parse_qsl(parts.query), *(("host", h) for h in hosts.split(","))]
        url = urlunsplit((parts.scheme, userinfo + at, parts.path, urlencode(query), ""))
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(
            f"DATABASE_URL must be a PostgreSQL URL, got {parsed.get_backend_name()!r}"
        )
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 20,
    pool_timeout: float = 30.0,
    statement_timeout_ms: int = 0,
    lock_timeout_ms: int = 0,
    pooler: bool = False,
) -> Engine:
    """Create the process's engine: psycopg 3, pre-ping, UTC sessions.

    The timeouts (0 = none) hold for every statement: one that runs longer, or a lock wait
    that lasts longer, is cancelled by PostgreSQL and its transaction rolled back.

    `pooler`: the URL is a connection pooler in transaction mode (PgBouncer), where a
    client's consecutive transactions may run on different server connections and nothing
    outlives a transaction. So the time zone and the timeouts are not startup options of the
    connection (PgBouncer refuses those) but set at the start of each transaction
    (`set_config(..., true)`, i.e. `SET LOCAL`: one statement more per transaction), and
    psycopg prepares no statements (a statement prepared on one server connection does not
    exist on the next: with preparing on, about a quarter of queries failed).
    """
    settings = {
        "TimeZone": "UTC",
        "statement_timeout": str(int(statement_timeout_ms)),
        "lock_timeout": str(int(lock_timeout_ms)),
    }
    connect_args: dict[str, object] = {"connect_timeout": 5}
    if pooler:
        connect_args["prepare_threshold"] = None
    else:
        connect_args["options"] = " ".join(f"-c {k}={v}" for k, v in settings.items())
    engine = create_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args=connect_args,
    )
    if pooler:
        statement = text(
            "SELECT " + ", ".join(f"set_config('{k}', '{v}', true)" for k, v in settings.items())
        )

        @event.listens_for(engine, "begin")
        def _set_locally(connection: Connection) -> None:
            connection.execute(statement)

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory every request and job uses."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def get_session(request: Request) -> Iterator[Session]:
    """Yield one session per request: committed when the handler returns, rolled back on error."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with factory.begin() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session, scope="function")]


def get_read_session(request: Request) -> Iterator[Session]:
    """Yield a session on the read replica (`INNOCREDIT_READ_DATABASE_URL`; the primary when
    none is configured), for the heavy reads that may lag the primary by the replica's replay
    delay: statistics, rankings, the distribution. Never for a write, nor for a read that must
    see the caller's own write."""
    factory: sessionmaker[Session] = request.app.state.read_sessionmaker
    with factory.begin() as session:
        yield session


ReplicaSession = Annotated[Session, Depends(get_read_session, scope="function")]
