"""Four eyes: `gov_change`, the pending, approved and rejected changes of the rules.

One row per proposed change (a model publish, a recompute, a calendar year, a bank, a product, a
fee rate, an admin client): what and against which state, who proposed it and when, who decided
and how. At most one pending change per target (a partial unique index). The database backs the
code's rules: a change is approved by another client than its maker (`ck_gov_change_four_eyes`),
a rejection has its reason, an approval its result; rows are kept, never deleted, and a decided
row never changes (triggers).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = (
    "model-publish",
    "points-recompute",
    "calendar-load",
    "bank",
    "product",
    "fee-rate",
    "admin-client",
)

_KEPT = """
CREATE FUNCTION gov_change_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'gov_change rows are kept: change % cannot be deleted', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.status <> 'pending' THEN
        RAISE EXCEPTION 'change % is %: a decided change never changes', OLD.id, OLD.status
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$
"""


def upgrade() -> None:
    kinds = ", ".join(f"'{k}'" for k in _KINDS)
    op.create_table(
        "gov_change",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("service", sa.String(10), nullable=False),
        sa.Column("target", sa.String(120), nullable=False),
        sa.Column("status", sa.String(10), server_default="pending", nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("request", postgresql.JSONB(), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        sa.Column("expected", postgresql.JSONB(), nullable=False),
        sa.Column("diff", postgresql.JSONB(), nullable=False),
        sa.Column("links", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("maker", sa.String(40), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("maker_request_id", sa.String(128), nullable=True),
        sa.Column("checker", sa.String(40), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checker_request_id", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("result", postgresql.JSONB(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gov_change")),
        sa.CheckConstraint(f"kind IN ({kinds})", name=op.f("ck_gov_change_kind")),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected')", name=op.f("ck_gov_change_status")
        ),
        sa.CheckConstraint(
            "(status = 'pending') = (decided_at IS NULL) "
            "AND (status = 'pending') = (checker IS NULL)",
            name=op.f("ck_gov_change_decided"),
        ),
        sa.CheckConstraint(
            "status <> 'approved' OR checker <> maker", name=op.f("ck_gov_change_four_eyes")
        ),
        sa.CheckConstraint(
            "status <> 'rejected' OR length(reason) > 0", name=op.f("ck_gov_change_reason")
        ),
        sa.CheckConstraint(
            "(status = 'approved') = (result IS NOT NULL)", name=op.f("ck_gov_change_result")
        ),
    )
    op.create_index(
        "ux_gov_change_pending_target",
        "gov_change",
        ["target"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_gov_change_made_at_id", "gov_change", ["made_at", "id"])
    op.create_index("ix_gov_change_status_made_at_id", "gov_change", ["status", "made_at", "id"])
    op.execute(_KEPT)
    op.execute(
        "CREATE TRIGGER gov_change_kept BEFORE UPDATE OR DELETE ON gov_change "
        "FOR EACH ROW EXECUTE FUNCTION gov_change_kept()"
    )


def downgrade() -> None:
    op.execute("DROP TABLE gov_change")
    op.execute("DROP FUNCTION gov_change_kept()")
