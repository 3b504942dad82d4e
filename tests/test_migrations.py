"""One Alembic history: upgrade head on an empty database, no drift, downgrade base."""

from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from services.gateway.app import database_key_set, make_verifier
from shared import migrate
from shared.app import ServiceSpec, create_service_app
from shared.db import Base, make_engine
from tests.servers import make_settings


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
    prefixes = ("gw_", "sc_", "loan_", "gt_", "gov_")  # gov_: shared.changes
    assert all(name.startswith(prefixes) for name in Base.metadata.tables)


def test_readiness_holds_through_a_rolling_upgrade(new_database: Callable[[], str]) -> None:
    """Found in review of the Kubernetes packaging: a migration before a rollout made every
    running pod unready (its schema check wanted exactly its own head), so a release that
    migrated had a window of 503s. A schema a later release migrated is ready; one not yet
    migrated is not."""
    url = new_database()
    engine = make_engine(url)
    try:
        migrate.upgrade(url, "0007")
        with engine.connect() as conn:
            assert migrate.schema_state(conn) == "behind head"
        migrate.upgrade(url, "head")
        with engine.connect() as conn:
            assert migrate.schema_state(conn) == "ok"
        with engine.begin() as conn:  # what the next release's migration leaves
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        with engine.connect() as conn:
            assert migrate.schema_state(conn) == "ahead"
        settings = make_settings(url)
        verifier = make_verifier(settings, database_key_set(settings, engine))
        spec = ServiceSpec(name="t", title="t", description="t", routers=())
        app = create_service_app(spec, settings, engine=engine, verifier=verifier)
        with TestClient(app) as client:
            ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["migrations"] == "ahead"
    finally:
        engine.dispose()


def test_history_up_and_down_with_two_runs_of_one_model(new_database: Callable[[], str]) -> None:
    """0013 backfills an enterprise's first version; its downgrade keeps, of two runs of one
    model, the later run's points (the old key holds one row per period, model, enterprise)."""
    url = new_database()
    migrate.upgrade(url, "0011")
    engine = make_engine(url)
    uscc = "91321200MA1XXXXXX0"
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sc_enterprise (uscc, name, district, industry_code, stage) "
                    "SELECT :u, '甲', '海陵区', code, 'growth' FROM sc_industry LIMIT 1"
                ),
                {"u": uscc},
            )
        migrate.upgrade(url, "0013")
        with engine.begin() as conn:
            assert conn.execute(text("SELECT name FROM sc_enterprise_version")).all() == [("甲",)]
            for points in (100, 120):
                run = conn.execute(
                    text(
                        "INSERT INTO sc_recompute_run (period, model_version, started_at, "
                        "finished_at, duration_ms, enterprise_count) "
                        "VALUES (2025, 'TZ-2025.1', now(), now(), 0, 1) RETURNING id"
                    )
                ).scalar_one()
                conn.execute(
                    text(
                        "INSERT INTO sc_points (run_id, uscc, period, model_version, points, "
                        "total_exact, rank, rank_total, below, breakdown, computed_at) "
                        "VALUES (:r, :u, 2025, 'TZ-2025.1', :p, :p, 1, 1, 0, '[]', now())"
                    ),
                    {"r": run, "u": uscc, "p": points},
                )
        migrate.downgrade(url, "0011")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT points FROM sc_points")).all() == [(120,)]
            key = inspect(conn).get_pk_constraint("sc_points")["constrained_columns"]
        assert key == ["period", "model_version", "uscc"]
        migrate.upgrade(url, "head")
    finally:
        engine.dispose()
