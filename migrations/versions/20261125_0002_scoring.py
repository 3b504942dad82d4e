"""Scoring: industries, enterprises, indicators, points models, points, rankings.

Seeds the "1+4" industry list and publishes the default points model (data/tz-2025.1.json).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 10:01:10.884862
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sc_industry",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_sc_industry")),
    )
    op.create_table(
        "sc_model",
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('draft', 'published')", name=op.f("ck_sc_model_status")),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_sc_model")),
    )
    op.create_table(
        "sc_enterprise",
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("district", sa.String(length=20), nullable=False),
        sa.Column("industry_code", sa.String(length=40), nullable=False),
        sa.Column("stage", sa.String(length=10), nullable=False),
        sa.Column(
            "categories", sa.ARRAY(sa.String(length=20)), server_default="{}", nullable=False
        ),
        sa.Column("founded_on", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "categories <@ ARRAY['tech_sme', 'high_tech', 'gazelle', 'potential_unicorn', 'leading_innovator']::varchar[]",
            name=op.f("ck_sc_enterprise_categories"),
        ),
        sa.CheckConstraint(
            "district IN ('海陵区', '高港区', '姜堰区', '兴化市', '靖江市', '泰兴市')",
            name=op.f("ck_sc_enterprise_district"),
        ),
        sa.CheckConstraint(
            "stage IN ('seed', 'startup', 'growth', 'mature')", name=op.f("ck_sc_enterprise_stage")
        ),
        sa.ForeignKeyConstraint(
            ["industry_code"], ["sc_industry.code"], name=op.f("fk_sc_enterprise_industry_code")
        ),
        sa.PrimaryKeyConstraint("uscc", name=op.f("pk_sc_enterprise")),
    )
    op.create_index(
        "ix_sc_enterprise_categories",
        "sc_enterprise",
        ["categories"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index("ix_sc_enterprise_district", "sc_enterprise", ["district"], unique=False)
    op.create_index(
        "ix_sc_enterprise_industry_code", "sc_enterprise", ["industry_code"], unique=False
    )
    op.create_table(
        "sc_recompute_run",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("period", sa.SmallInteger(), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("requested_by", sa.String(length=40), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("enterprise_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_version"], ["sc_model.version"], name=op.f("fk_sc_recompute_run_model_version")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sc_recompute_run")),
    )
    op.create_table(
        "sc_indicator",
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("period", sa.SmallInteger(), nullable=False),
        sa.Column("invention_patents", sa.Integer(), nullable=False),
        sa.Column("utility_models", sa.Integer(), nullable=False),
        sa.Column("software_copyrights", sa.Integer(), nullable=False),
        sa.Column("rd_expense", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("rd_staff", sa.Integer(), nullable=False),
        sa.Column("total_staff", sa.Integer(), nullable=False),
        sa.Column("equity_financing", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("awards_provincial", sa.Integer(), nullable=False),
        sa.Column("awards_national", sa.Integer(), nullable=False),
        sa.Column("jbgs_funds_paid", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "invention_patents >= 0 AND utility_models >= 0 AND software_copyrights >= 0 AND rd_staff >= 0 AND total_staff >= 0 AND rd_staff <= total_staff AND awards_provincial >= 0 AND awards_national >= 0",
            name=op.f("ck_sc_indicator_counts"),
        ),
        sa.CheckConstraint("period BETWEEN 2000 AND 2100", name=op.f("ck_sc_indicator_period")),
        sa.CheckConstraint(
            "rd_expense >= 0 AND revenue >= 0 AND equity_financing >= 0 AND jbgs_funds_paid >= 0",
            name=op.f("ck_sc_indicator_amounts"),
        ),
        sa.ForeignKeyConstraint(
            ["uscc"], ["sc_enterprise.uscc"], name=op.f("fk_sc_indicator_uscc")
        ),
        sa.PrimaryKeyConstraint("uscc", "period", name=op.f("pk_sc_indicator")),
    )
    op.create_index("ix_sc_indicator_period", "sc_indicator", ["period"], unique=False)
    op.create_table(
        "sc_points",
        sa.Column("period", sa.SmallInteger(), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("total_exact", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("rank_total", sa.Integer(), nullable=False),
        sa.Column("below", sa.Integer(), nullable=False),
        sa.Column("breakdown", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_version"], ["sc_model.version"], name=op.f("fk_sc_points_model_version")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sc_recompute_run.id"], name=op.f("fk_sc_points_run_id")
        ),
        sa.ForeignKeyConstraint(["uscc"], ["sc_enterprise.uscc"], name=op.f("fk_sc_points_uscc")),
        sa.PrimaryKeyConstraint("period", "model_version", "uscc", name=op.f("pk_sc_points")),
    )
    op.create_index(
        "ix_sc_points_period_model_version_rank",
        "sc_points",
        ["period", "model_version", "rank"],
        unique=False,
    )
    op.create_index("ix_sc_points_uscc", "sc_points", ["uscc"], unique=False)
    op.create_table(
        "sc_ranking",
        sa.Column("period", sa.SmallInteger(), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_version"], ["sc_model.version"], name=op.f("fk_sc_ranking_model_version")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sc_recompute_run.id"], name=op.f("fk_sc_ranking_run_id")
        ),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_sc_ranking")),
    )
    _seed()


# Frozen copies: what this revision seeds never changes with later code.
INDUSTRIES = [
    ("health", "大健康/生物医药", 1),
    ("equipment", "高端装备", 2),
    ("materials", "新材料", 3),
    ("energy", "新能源", 4),
    ("ict", "新一代信息技术", 5),
    ("other", "其他", 99),
]
DEFAULT_MODEL_FILE = Path(__file__).resolve().parent.parent / "data" / "tz-2025.1.json"


def _seed() -> None:
    industry = sa.table("sc_industry", sa.column("code"), sa.column("name"), sa.column("position"))
    op.bulk_insert(industry, [{"code": c, "name": n, "position": p} for c, n, p in INDUSTRIES])
    definition = json.loads(DEFAULT_MODEL_FILE.read_text(encoding="utf-8"))
    model = sa.table(
        "sc_model",
        sa.column("version"),
        sa.column("status"),
        sa.column("definition", postgresql.JSONB),
        sa.column("published_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(
        model,
        [
            {
                "version": definition["version"],
                "status": "published",
                "definition": definition,
                "published_at": datetime(2026, 1, 1, tzinfo=UTC),
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("sc_ranking")
    op.drop_index("ix_sc_points_uscc", table_name="sc_points")
    op.drop_index("ix_sc_points_period_model_version_rank", table_name="sc_points")
    op.drop_table("sc_points")
    op.drop_index("ix_sc_indicator_period", table_name="sc_indicator")
    op.drop_table("sc_indicator")
    op.drop_table("sc_recompute_run")
    op.drop_index("ix_sc_enterprise_industry_code", table_name="sc_enterprise")
    op.drop_index("ix_sc_enterprise_district", table_name="sc_enterprise")
    op.drop_index("ix_sc_enterprise_categories", table_name="sc_enterprise", postgresql_using="gin")
    op.drop_table("sc_enterprise")
    op.drop_table("sc_model")
    op.drop_table("sc_industry")
