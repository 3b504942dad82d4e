"""One demo database per test session, shared by the tests that read the article's story
(tests/test_demo.py, tests/dashboard/): loading it costs half a minute, so it is loaded once.
Tests that write to it write only outside the demo's first half of 2026, whose figures the
others assert."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from services import demo
from shared import clock, migrate
from shared.db import make_engine, make_sessionmaker


@dataclass(frozen=True, slots=True)
class DemoDatabase:
    """The loaded demo: its database, the API clients and dashboard users it handed over."""

    url: str
    engine: Engine
    clients: dict[str, demo.Credentials]
    users: dict[str, demo.DemoUser]
    loaded_at: datetime  # when the load committed: what tests write comes after


@contextmanager
def loaded_demo(url: str) -> Iterator[DemoDatabase]:
    """Migrate the empty database at `url`, load the demo into it, yield it."""
    migrate.upgrade(url, "head")
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        credentials = demo.load(session, lambda _: None)
        users = demo.users(session)
    try:
        yield DemoDatabase(
            url,
            engine,
            {c.name: c for c in credentials},
            {u.name: u for u in users},
            clock.now(),
        )
    finally:
        engine.dispose()
