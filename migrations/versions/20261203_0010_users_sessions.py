"""Gateway: the dashboard's users, their sign-in sessions, refused sign-ins per address.

`gw_user` holds people (the bureau's staff, a bank's) with argon2id password hashes and the
lockout state; `gw_user_session` a signed-in browser, by the SHA-256 of its cookie's token
(deleted with its user); `gw_sign_in_failure` the refused sign-ins the per-address limit
counts within its window.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gw_user",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("bank_code", sa.String(length=32), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("failed_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "password_changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(role = 'bank') = (bank_code IS NOT NULL)",
            name=op.f("ck_gw_user_bank_code_iff_bank"),
        ),
        sa.CheckConstraint("role IN ('bureau', 'bank')", name=op.f("ck_gw_user_role")),
        sa.CheckConstraint("failed_count >= 0", name=op.f("ck_gw_user_failed_count_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gw_user")),
        sa.UniqueConstraint("name", name=op.f("uq_gw_user_name")),
    )
    op.create_table(
        "gw_user_session",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["gw_user.id"],
            name=op.f("fk_gw_user_session_user_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gw_user_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_gw_user_session_token_hash")),
    )
    op.create_index("ix_gw_user_session_user_id", "gw_user_session", ["user_id"], unique=False)
    op.create_table(
        "gw_sign_in_failure",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gw_sign_in_failure")),
    )
    op.create_index("ix_gw_sign_in_failure_ip_at", "gw_sign_in_failure", ["ip", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_gw_sign_in_failure_ip_at", table_name="gw_sign_in_failure")
    op.drop_table("gw_sign_in_failure")
    op.drop_index("ix_gw_user_session_user_id", table_name="gw_user_session")
    op.drop_table("gw_user_session")
    op.drop_table("gw_user")
