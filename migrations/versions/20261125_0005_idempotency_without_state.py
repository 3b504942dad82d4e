"""Loans: idempotency keys are stored only once answered — drop `state`, responses required.

The "in flight" state moved to a transaction-scoped advisory lock (services/loans/
idempotency.py): a row is written in the same transaction as the work it answers, so every
row is a finished response. Rows left `in_flight` by the earlier design are stale claims and
are deleted.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESPONSE_COLUMNS = ("response_status", "response_body", "response_headers")


def upgrade() -> None:
    op.execute("DELETE FROM loan_idempotency_key WHERE state <> 'done' OR response_status IS NULL")
    op.execute(
        "UPDATE loan_idempotency_key SET response_body = coalesce(response_body, '{}'), "
        "response_headers = coalesce(response_headers, '{}')"
    )
    op.drop_constraint(op.f("ck_loan_idempotency_key_state"), "loan_idempotency_key", type_="check")
    op.drop_column("loan_idempotency_key", "state")
    for column in RESPONSE_COLUMNS:
        op.alter_column("loan_idempotency_key", column, nullable=False)


def downgrade() -> None:
    for column in RESPONSE_COLUMNS:
        op.alter_column("loan_idempotency_key", column, nullable=True)
    op.add_column(
        "loan_idempotency_key",
        sa.Column("state", sa.String(length=10), nullable=False, server_default="done"),
    )
    op.alter_column("loan_idempotency_key", "state", server_default=None)
    op.create_check_constraint(
        op.f("ck_loan_idempotency_key_state"),
        "loan_idempotency_key",
        "state IN ('in_flight', 'done')",
    )
