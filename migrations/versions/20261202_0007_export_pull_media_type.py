"""Guarantee: an export pull's recorded media type holds the XLSX media type.

`application/vnd.openxmlformats-officedocument.spreadsheetml.sheet` is 65 characters; the
column held 40 (enough for NDJSON and CSV), so the audit row of an XLSX pull failed after
the file had been sent.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        "gt_export_pull",
        "media_type",
        type_=sa.String(length=100),
        existing_type=sa.String(length=40),
        existing_nullable=False,
    )


def downgrade() -> None:
    # Pulls recorded as XLSX do not fit the old width: keep their kind, shortened.
    op.execute(
        "UPDATE gt_export_pull SET media_type = 'application/vnd.openxmlformats-xlsx' "
        "WHERE length(media_type) > 40"
    )
    op.alter_column(
        "gt_export_pull",
        "media_type",
        type_=sa.String(length=40),
        existing_type=sa.String(length=100),
        existing_nullable=False,
    )
