"""Loans: banks, products, calendar overrides, applications, disbursements, events,
idempotency keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:32:19.020135
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loan_bank",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
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
        sa.PrimaryKeyConstraint("code", name=op.f("pk_loan_bank")),
    )
    op.create_table(
        "loan_calendar_year",
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("holidays", sa.ARRAY(sa.Date()), nullable=False),
        sa.Column("make_up_workdays", sa.ARRAY(sa.Date()), nullable=False),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("loaded_by", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_loan_calendar_year")),
    )
    op.create_table(
        "loan_idempotency_key",
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("response_status", sa.SmallInteger(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("response_headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('in_flight', 'done')", name=op.f("ck_loan_idempotency_key_state")
        ),
        sa.PrimaryKeyConstraint("client_id", "key", name=op.f("pk_loan_idempotency_key")),
    )
    op.create_index(
        "ix_loan_idempotency_key_expires_at", "loan_idempotency_key", ["expires_at"], unique=False
    )
    op.create_table(
        "loan_product",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("bank_code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("min_points", sa.Integer(), nullable=False),
        sa.Column(
            "eligible_categories",
            sa.ARRAY(sa.String(length=20)),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("limit_tiers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("term_min_months", sa.SmallInteger(), nullable=False),
        sa.Column("term_max_months", sa.SmallInteger(), nullable=False),
        sa.Column("rate_min", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("rate_max", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("guarantee", sa.Boolean(), nullable=False),
        sa.Column("active_from", sa.Date(), nullable=False),
        sa.Column("active_to", sa.Date(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "active_to IS NULL OR active_from <= active_to", name=op.f("ck_loan_product_active")
        ),
        sa.CheckConstraint(
            "rate_min > 0 AND rate_min <= rate_max AND rate_max < 1",
            name=op.f("ck_loan_product_rates"),
        ),
        sa.CheckConstraint(
            "term_min_months >= 1 AND term_min_months <= term_max_months",
            name=op.f("ck_loan_product_terms"),
        ),
        sa.ForeignKeyConstraint(
            ["bank_code"], ["loan_bank.code"], name=op.f("fk_loan_product_bank_code")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_loan_product")),
    )
    op.create_index("ix_loan_product_bank_code", "loan_product", ["bank_code"], unique=False)
    op.create_table(
        "loan_application",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("bank_code", sa.String(length=32), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("amount", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("term_months", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_date", sa.Date(), nullable=False),
        sa.Column("decision_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_provisional", sa.Boolean(), nullable=False),
        sa.Column("points_snapshot", sa.Integer(), nullable=False),
        sa.Column("rank_snapshot", sa.Integer(), nullable=False),
        sa.Column("rank_total_snapshot", sa.Integer(), nullable=False),
        sa.Column("model_version_snapshot", sa.String(length=40), nullable=False),
        sa.Column("period_snapshot", sa.SmallInteger(), nullable=False),
        sa.Column("max_amount_snapshot", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("district", sa.String(length=20), nullable=False),
        sa.Column("industry", sa.String(length=40), nullable=False),
        sa.Column("stage", sa.String(length=10), nullable=False),
        sa.Column("guarantee_fee", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("approved_amount", sa.Numeric(precision=15, scale=2), nullable=True),
        sa.Column("annual_rate", sa.Numeric(precision=7, scale=4), nullable=True),
        sa.Column("decided_term_months", sa.SmallInteger(), nullable=True),
        sa.Column(
            "reason_codes", sa.ARRAY(sa.String(length=40)), server_default="{}", nullable=False
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_working_days", sa.SmallInteger(), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column(
            "disbursed_total", sa.Numeric(precision=15, scale=2), server_default="0", nullable=False
        ),
        sa.Column("disbursed_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("outstanding_principal", sa.Numeric(precision=15, scale=2), nullable=True),
        sa.Column("repayment_as_of", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
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
            "status IN ('submitted', 'approved', 'rejected', 'withdrawn', 'disbursed', 'repaid', 'overdue', 'defaulted')",
            name=op.f("ck_loan_application_status"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_loan_application_amount")),
        sa.CheckConstraint(
            "approved_amount IS NULL OR disbursed_total <= approved_amount",
            name=op.f("ck_loan_application_disbursed_within_approval"),
        ),
        sa.CheckConstraint("disbursed_total >= 0", name=op.f("ck_loan_application_disbursed")),
        sa.ForeignKeyConstraint(
            ["bank_code"], ["loan_bank.code"], name=op.f("fk_loan_application_bank_code")
        ),
        sa.ForeignKeyConstraint(
            ["product_code"], ["loan_product.code"], name=op.f("fk_loan_application_product_code")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_application")),
    )
    op.create_index(
        "ix_loan_application_bank_code_id", "loan_application", ["bank_code", "id"], unique=False
    )
    op.create_index(
        "ix_loan_application_bank_code_updated_at",
        "loan_application",
        ["bank_code", "updated_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_loan_application_open_provisional",
        "loan_application",
        ["deadline_provisional"],
        unique=False,
        postgresql_where=sa.text("status = 'submitted'"),
    )
    op.create_index(
        "ix_loan_application_submitted_date", "loan_application", ["submitted_date"], unique=False
    )
    op.create_table(
        "loan_application_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("from_status", sa.String(length=12), nullable=True),
        sa.Column("to_status", sa.String(length=12), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["loan_application.id"],
            name=op.f("fk_loan_application_event_application_id"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_application_event")),
    )
    op.create_index(
        "ix_loan_application_event_application_id_id",
        "loan_application_event",
        ["application_id", "id"],
        unique=False,
    )
    op.create_table(
        "loan_disbursement",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("disbursed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_loan_disbursement_amount")),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["loan_application.id"],
            name=op.f("fk_loan_disbursement_application_id"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_disbursement")),
    )
    op.create_index(
        "ix_loan_disbursement_application_id", "loan_disbursement", ["application_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_loan_disbursement_application_id", table_name="loan_disbursement")
    op.drop_table("loan_disbursement")
    op.drop_index(
        "ix_loan_application_event_application_id_id", table_name="loan_application_event"
    )
    op.drop_table("loan_application_event")
    op.drop_index("ix_loan_application_submitted_date", table_name="loan_application")
    op.drop_index(
        "ix_loan_application_open_provisional",
        table_name="loan_application",
        postgresql_where=sa.text("status = 'submitted'"),
    )
    op.drop_index("ix_loan_application_bank_code_updated_at", table_name="loan_application")
    op.drop_index("ix_loan_application_bank_code_id", table_name="loan_application")
    op.drop_table("loan_application")
    op.drop_index("ix_loan_product_bank_code", table_name="loan_product")
    op.drop_table("loan_product")
    op.drop_index("ix_loan_idempotency_key_expires_at", table_name="loan_idempotency_key")
    op.drop_table("loan_idempotency_key")
    op.drop_table("loan_calendar_year")
    op.drop_table("loan_bank")
