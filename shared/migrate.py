"""Run the one Alembic history programmatically (CLI, serve, readiness checks, tests)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

import migrations

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    """Return an Alembic config for the repository's migrations against `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the schema to `revision` (default: head)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Downgrade the schema to `revision` (`base` removes everything)."""
    command.downgrade(alembic_config(database_url), revision)


@lru_cache
def head_revisions() -> frozenset[str]:
    """The head revision(s) of the migration scripts."""
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused"))
    return frozenset(script.get_heads())


@lru_cache
def known_revisions() -> frozenset[str]:
    """Every revision of this release's migration scripts."""
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused"))
    return frozenset(revision.revision for revision in script.walk_revisions())


def schema_state(connection: Connection) -> str:
    """`ok` when the database is at this release's head; `ahead` when a later release has
    migrated it (revisions this release does not know: migrations are additive, so a
    release keeps working on the next one's schema during a rolling upgrade); `behind head`
    otherwise (not migrated yet, or a known older revision)."""
    current = frozenset(MigrationContext.configure(connection).get_current_heads())
    if current == head_revisions():
        return "ok"
    if current and not current & known_revisions():
        return "ahead"
    return "behind head"


def at_head(connection: Connection) -> bool:
    """Whether the database behind `connection` is migrated to head."""
    current = MigrationContext.configure(connection).get_current_heads()
    return frozenset(current) == head_revisions()
