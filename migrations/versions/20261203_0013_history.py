"""History: nothing published is overwritten, so any past answer can be given again (`?as_of=`).

* `sc_points` keeps every run's points: its key becomes (run_id, uscc) and a recompute no
  longer deletes the points of an earlier run of the same model. Readers join the ranking's
  run (`sc_ranking.run_id`); the rank index becomes (run_id, rank), and the export view
  `sc_export_facts` is recreated on the run. Which run was a period's ranking at an instant is
  the latest run of the period finished by then: runs of a period commit in id order under
  the recompute's lock, hence the index (period, id) on `sc_recompute_run`.
* A published `sc_model` row is immutable in the database too: a trigger refuses its UPDATE
  and DELETE (the code already refused them; a script or a console no longer can).
* Append-only versions, each stamped with the application clock when written:
  `sc_enterprise_version` (the fields a ranking page, the diagnosis and the export show),
  `loan_bank_version`, `loan_product_version` and `loan_calendar_load`. The current tables
  stay as they are (the hot paths read them); the writers append a version in the same
  transaction. Fee rates were append-only already (`gt_fee_rate.set_at`).

The upgrade backfills the versions from the current rows: an enterprise from its `created_at`
(only its current fields are known), a bank from its `created_at`, a product from its
`updated_at`, a calendar year from its `loaded_at`. The downgrade keeps, of each (period,
model, enterprise), the points of its latest run, as the old key requires.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-03 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VIEW_HEAD = """
    CREATE VIEW sc_export_facts AS
    SELECT e.uscc, p.period, p.model_version, p.points, p.rank, p.rank_total,
           (CASE WHEN p.rank_total > 0 THEN round(100.0 * p.below / p.rank_total, 2)
                 ELSE 0 END)::float8 AS percentile,
           (SELECT jsonb_object_agg(b->>'indicator', b->>'points')
              FROM jsonb_array_elements(p.breakdown) AS b
             WHERE b->>'indicator' NOT LIKE 'bonus:%') AS indicator_points,
           e.district, e.industry_code, e.stage, e.categories
    FROM sc_enterprise e
    CROSS JOIN LATERAL (
        SELECT p.period, p.model_version, p.points, p.rank, p.rank_total, p.below,
               p.breakdown
        FROM sc_points p
        JOIN sc_ranking r ON {join}
        WHERE p.uscc = e.uscc
        ORDER BY p.period DESC
        LIMIT 1
    ) AS p
"""
_VIEW_COMMENT = (
    "COMMENT ON VIEW sc_export_facts IS 'Scoring: the latest ranked points of each "
    "enterprise, with the attributes the credit-firm export publishes'"
)

_MODEL_GUARD = """
    CREATE FUNCTION sc_model_published_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'model % is published: it is immutable', OLD.version
            USING ERRCODE = 'integrity_constraint_violation';
    END $$;
    CREATE TRIGGER sc_model_published_immutable
        BEFORE UPDATE OR DELETE ON sc_model
        FOR EACH ROW WHEN (OLD.status = 'published')
        EXECUTE FUNCTION sc_model_published_immutable();
"""

_ENTERPRISE_COLUMNS = "uscc, name, district, industry_code, stage, categories"
_PRODUCT_COLUMNS = (
    "code, bank_code, name, min_points, eligible_categories, limit_tiers, term_min_months, "
    "term_max_months, rate_min, rate_max, guarantee, active_from, active_to"
)


def _version_id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False)


def upgrade() -> None:
    # Points of every run, keyed by run.
    op.execute("DROP VIEW sc_export_facts")
    op.drop_index("ix_sc_points_period_model_version_rank", table_name="sc_points")
    op.drop_constraint(op.f("pk_sc_points"), "sc_points", type_="primary")
    op.create_primary_key(op.f("pk_sc_points"), "sc_points", ["run_id", "uscc"])
    op.create_index("ix_sc_points_run_id_rank", "sc_points", ["run_id", "rank"], unique=False)
    op.create_index(
        "ix_sc_recompute_run_period_id", "sc_recompute_run", ["period", "id"], unique=False
    )
    op.execute(_VIEW_HEAD.format(join="r.run_id = p.run_id"))
    op.execute(_VIEW_COMMENT)
    op.execute(_MODEL_GUARD)

    op.create_table(
        "sc_enterprise_version",
        _version_id(),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("district", sa.String(length=20), nullable=False),
        sa.Column("industry_code", sa.String(length=40), nullable=False),
        sa.Column("stage", sa.String(length=10), nullable=False),
        sa.Column("categories", postgresql.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["uscc"], ["sc_enterprise.uscc"], name=op.f("fk_sc_enterprise_version_uscc")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sc_enterprise_version")),
    )
    op.create_index(
        "ix_sc_enterprise_version_uscc_valid_from_id",
        "sc_enterprise_version",
        ["uscc", "valid_from", "id"],
        unique=False,
    )
    op.create_table(
        "loan_bank_version",
        _version_id(),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["code"], ["loan_bank.code"], name=op.f("fk_loan_bank_version_code")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_bank_version")),
    )
    op.create_index(
        "ix_loan_bank_version_code_valid_from_id",
        "loan_bank_version",
        ["code", "valid_from", "id"],
        unique=False,
    )
    op.create_table(
        "loan_product_version",
        _version_id(),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("bank_code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("min_points", sa.Integer(), nullable=False),
        sa.Column("eligible_categories", postgresql.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("limit_tiers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("term_min_months", sa.SmallInteger(), nullable=False),
        sa.Column("term_max_months", sa.SmallInteger(), nullable=False),
        sa.Column("rate_min", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("rate_max", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("guarantee", sa.Boolean(), nullable=False),
        sa.Column("active_from", sa.Date(), nullable=False),
        sa.Column("active_to", sa.Date(), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["code"], ["loan_product.code"], name=op.f("fk_loan_product_version_code")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_product_version")),
    )
    op.create_index(
        "ix_loan_product_version_code_valid_from_id",
        "loan_product_version",
        ["code", "valid_from", "id"],
        unique=False,
    )
    op.create_table(
        "loan_calendar_load",
        _version_id(),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("holidays", postgresql.ARRAY(sa.Date()), nullable=False),
        sa.Column("make_up_workdays", postgresql.ARRAY(sa.Date()), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_calendar_load")),
    )
    op.create_index(
        "ix_loan_calendar_load_year_loaded_at_id",
        "loan_calendar_load",
        ["year", "loaded_at", "id"],
        unique=False,
    )
    op.execute(
        f"INSERT INTO sc_enterprise_version ({_ENTERPRISE_COLUMNS}, valid_from) "
        f"SELECT {_ENTERPRISE_COLUMNS}, created_at FROM sc_enterprise ORDER BY uscc"
    )
    op.execute(
        "INSERT INTO loan_bank_version (code, name, valid_from) "
        "SELECT code, name, created_at FROM loan_bank ORDER BY code"
    )
    op.execute(
        f"INSERT INTO loan_product_version ({_PRODUCT_COLUMNS}, valid_from) "
        f"SELECT {_PRODUCT_COLUMNS}, updated_at FROM loan_product ORDER BY code"
    )
    op.execute(
        "INSERT INTO loan_calendar_load (year, holidays, make_up_workdays, loaded_at, loaded_by) "
        "SELECT year, holidays, make_up_workdays, loaded_at, loaded_by FROM loan_calendar_year "
        "ORDER BY year"
    )


def downgrade() -> None:
    op.drop_table("loan_calendar_load")
    op.drop_table("loan_product_version")
    op.drop_table("loan_bank_version")
    op.drop_table("sc_enterprise_version")
    op.execute("DROP TRIGGER sc_model_published_immutable ON sc_model")
    op.execute("DROP FUNCTION sc_model_published_immutable()")
    op.execute("DROP VIEW sc_export_facts")
    op.drop_index("ix_sc_recompute_run_period_id", table_name="sc_recompute_run")
    op.drop_index("ix_sc_points_run_id_rank", table_name="sc_points")
    # The old key holds one row per (period, model, enterprise): the latest run's.
    op.execute(
        """
        DELETE FROM sc_points p USING sc_points later
        WHERE later.period = p.period AND later.model_version = p.model_version
          AND later.uscc = p.uscc AND later.run_id > p.run_id
        """
    )
    op.drop_constraint(op.f("pk_sc_points"), "sc_points", type_="primary")
    op.create_primary_key(op.f("pk_sc_points"), "sc_points", ["period", "model_version", "uscc"])
    op.create_index(
        "ix_sc_points_period_model_version_rank",
        "sc_points",
        ["period", "model_version", "rank"],
        unique=False,
    )
    op.execute(_VIEW_HEAD.format(join="r.period = p.period AND r.model_version = p.model_version"))
    op.execute(_VIEW_COMMENT)
