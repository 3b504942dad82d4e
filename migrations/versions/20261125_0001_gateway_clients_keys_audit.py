"""Gateway: API clients, signing keys, audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 09:45:59.761229
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gw_audit_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("client_id", sa.String(length=40), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column(
            "detail",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gw_audit_event")),
    )
    op.create_index("ix_gw_audit_event_at_id", "gw_audit_event", ["at", "id"], unique=False)
    op.create_table(
        "gw_client",
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("bank_code", sa.String(length=32), nullable=True),
        sa.Column("firm_code", sa.String(length=32), nullable=True),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(role = 'bank') = (bank_code IS NOT NULL)",
            name=op.f("ck_gw_client_bank_code_iff_bank"),
        ),
        sa.CheckConstraint(
            "(role = 'credit_firm') = (firm_code IS NOT NULL)",
            name=op.f("ck_gw_client_firm_code_iff_firm"),
        ),
        sa.CheckConstraint(
            "role IN ('bank', 'bureau', 'credit_firm', 'admin')", name=op.f("ck_gw_client_role")
        ),
        sa.CheckConstraint(
            "rate_limit_per_minute IS NULL OR rate_limit_per_minute > 0",
            name=op.f("ck_gw_client_rate_limit_positive"),
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_gw_client")),
    )
    op.create_table(
        "gw_signing_key",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=10), nullable=False),
        sa.Column("public_jwk", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("private_key_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "activates_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_gw_signing_key")),
    )
    op.create_index(
        "uq_gw_signing_key_active",
        "gw_signing_key",
        [sa.literal_column("(true)")],
        unique=True,
        postgresql_where=sa.text("retired_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_gw_signing_key_active",
        table_name="gw_signing_key",
        postgresql_where=sa.text("retired_at IS NULL"),
    )
    op.drop_table("gw_signing_key")
    op.drop_table("gw_client")
    op.drop_index("ix_gw_audit_event_at_id", table_name="gw_audit_event")
    op.drop_table("gw_audit_event")
