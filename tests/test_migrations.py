"""One Alembic history: upgrade head on an empty database, no drift, downgrade base."""

from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from shared import migrate
from shared.db import Base, make_engine


def test_upgrade_head_then_downgrade_base_then_upgrade_again(
    new_database: Callable[[], str],
) -> None:
    url = new_database()
    migrate.upgrade(url, "head")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert migrate.at_head(conn)
            tables = set(inspect(conn).get_table_names())
        assert {"gw_client", "gw_signing_key", "gw_audit_event"} <= tables

        migrate.downgrade(url, "base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
            assert not migrate.at_head(conn)

        migrate.upgrade(url, "head")
        with engine.connect() as conn:
            assert migrate.at_head(conn)
    finally:
        engine.dispose()


def test_models_and_migrations_agree(database_url: str) -> None:
    """Autogenerate against head finds nothing: every model change has its migration."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_every_table_belongs_to_a_service_prefix() -> None:
    prefixes = ("gw_", "sc_", "loan_", "gt_")
    assert all(name.startswith(prefixes) for name in Base.metadata.tables)
