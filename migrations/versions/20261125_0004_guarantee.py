"""Guarantee: 泰信保 fee rates (seeded with the default), consents, the export change feed,
export pulls.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:42:11.977754
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gt_consent",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("firm_code", sa.String(length=32), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evidence_ref", sa.String(length=200), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=40), nullable=True),
        sa.Column("expiry_recorded", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "expires_at IS NULL OR expires_at > granted_at", name=op.f("ck_gt_consent_expiry")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gt_consent")),
    )
    op.create_index(
        "ix_gt_consent_expiry_pending",
        "gt_consent",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("revoked_at IS NULL AND NOT expiry_recorded"),
    )
    op.create_index(
        "ix_gt_consent_firm_code_uscc", "gt_consent", ["firm_code", "uscc"], unique=False
    )
    op.create_index("ix_gt_consent_uscc", "gt_consent", ["uscc"], unique=False)
    op.create_table(
        "gt_export_pull",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("firm_code", sa.String(length=32), nullable=False),
        sa.Column("since_seq", sa.BigInteger(), nullable=False),
        sa.Column("until_seq", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("tombstones", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gt_export_pull")),
    )
    op.create_index("ix_gt_export_pull_at_id", "gt_export_pull", ["at", "id"], unique=False)
    op.create_table(
        "gt_fee_rate",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("effective_year", sa.SmallInteger(), nullable=False),
        sa.Column("rate", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "set_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("set_by", sa.String(length=40), nullable=True),
        sa.CheckConstraint("rate >= 0 AND rate < 1", name=op.f("ck_gt_fee_rate_rate")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gt_fee_rate")),
    )
    op.create_index(
        "ix_gt_fee_rate_effective_year_set_at",
        "gt_fee_rate",
        ["effective_year", "set_at"],
        unique=False,
    )
    op.create_table(
        "gt_feed",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("firm_code", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "kind IN ('points', 'consent-granted', 'consent-revoked', 'consent-expired')",
            name=op.f("ck_gt_feed_kind"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_gt_feed")),
    )
    op.create_index("ix_gt_feed_uscc_seq", "gt_feed", ["uscc", "seq"], unique=False)
    fee_rate = sa.table(
        "gt_fee_rate",
        sa.column("effective_year"),
        sa.column("rate"),
        sa.column("note"),
        sa.column("set_by"),
    )
    op.bulk_insert(
        fee_rate,
        [
            {
                "effective_year": 2020,
                "rate": "0.0100",
                "note": "default 泰信保 fee rate shipped with InnoCredit",
                "set_by": None,
            }
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_gt_feed_uscc_seq", table_name="gt_feed")
    op.drop_table("gt_feed")
    op.drop_index("ix_gt_fee_rate_effective_year_set_at", table_name="gt_fee_rate")
    op.drop_table("gt_fee_rate")
    op.drop_index("ix_gt_export_pull_at_id", table_name="gt_export_pull")
    op.drop_table("gt_export_pull")
    op.drop_index("ix_gt_consent_uscc", table_name="gt_consent")
    op.drop_index("ix_gt_consent_firm_code_uscc", table_name="gt_consent")
    op.drop_index(
        "ix_gt_consent_expiry_pending",
        table_name="gt_consent",
        postgresql_where=sa.text("revoked_at IS NULL AND NOT expiry_recorded"),
    )
    op.drop_table("gt_consent")
