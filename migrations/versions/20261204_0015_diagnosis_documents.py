"""Diagnosis documents: each 诊断书 issued as a PDF, so anyone can check one.

`sc_diagnosis_document` keeps, per verification code, the points the document shows (the
run and the enterprise: a foreign key to `sc_points`), the SHA-256 and size of its bytes, its
layout version, when it was issued and who asked (the client, its role and bank, and the
words printed on the document's footer). The code is 80 random bits in Crockford base32.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "sc_diagnosis_document"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("period", sa.SmallInteger(), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("layout_version", sa.String(length=20), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=40), nullable=False),
        sa.Column("issued_role", sa.String(length=12), nullable=False),
        sa.Column("issued_bank_code", sa.String(length=32), nullable=True),
        sa.Column("issued_to", sa.String(length=120), nullable=False),
        sa.CheckConstraint("code ~ '^[0-9A-HJKMNP-TV-Z]{16}$'", name=op.f(f"ck_{TABLE}_code")),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f(f"ck_{TABLE}_sha256")),
        sa.CheckConstraint("size_bytes > 0", name=op.f(f"ck_{TABLE}_size_bytes")),
        sa.CheckConstraint(
            "issued_role IN ('bank', 'bureau', 'admin', 'cli')",
            name=op.f(f"ck_{TABLE}_issued_role"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id", "uscc"],
            ["sc_points.run_id", "sc_points.uscc"],
            name=op.f(f"fk_{TABLE}_run_id_uscc"),
        ),
        sa.ForeignKeyConstraint(
            ["model_version"],
            ["sc_model.version"],
            name=op.f(f"fk_{TABLE}_model_version"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f(f"pk_{TABLE}")),
    )
    op.create_index(op.f("ix_sc_diagnosis_document_uscc_issued_at"), TABLE, ["uscc", "issued_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sc_diagnosis_document_uscc_issued_at"), table_name=TABLE)
    op.drop_table(TABLE)
