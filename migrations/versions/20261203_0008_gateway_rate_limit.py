"""Gateway: one rate limit across every gateway process.

`gw_rate_limit` holds each key's GCRA state (its theoretical arrival time, on the database's
clock, so gateways on machines whose clocks differ agree); `gw_rate_take` decides in one
call, under the row's lock, how many of the tokens a gateway asks for it gets. The table is
UNLOGGED: a decision per request should not cost a WAL record, and a quota forgotten on a
crash or a failover is forgiven, not broken (the README says so).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A bucket of `p_window / p_interval` tokens refilling one per `p_interval` seconds, as GCRA:
# a key may take `g` tokens while its arrival time, pushed `g` intervals on, stays within the
# window of now. Returns how many of `p_wanted` it got, and when none, the seconds until one.
TAKE = """
CREATE FUNCTION gw_rate_take(
    p_key text, p_wanted integer, p_interval double precision, p_window double precision,
    OUT granted integer, OUT retry_after double precision
) LANGUAGE plpgsql AS $$
DECLARE
    v_now double precision := extract(epoch FROM clock_timestamp());
    v_tat double precision;
BEGIN
    INSERT INTO gw_rate_limit AS r (key, tat) VALUES (p_key, v_now)
    ON CONFLICT (key) DO UPDATE SET tat = greatest(r.tat, v_now)
    RETURNING r.tat INTO v_tat;
    granted := least(p_wanted, floor((p_window - (v_tat - v_now)) / p_interval + 1e-9))::integer;
    IF granted >= 1 THEN
        UPDATE gw_rate_limit SET tat = v_tat + granted * p_interval WHERE key = p_key;
        retry_after := 0;
    ELSE
        granted := 0;
        retry_after := v_tat + p_interval - p_window - v_now;
    END IF;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "gw_rate_limit",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("tat", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_gw_rate_limit")),
        prefixes=["UNLOGGED"],
    )
    op.execute(TAKE)


def downgrade() -> None:
    op.execute("DROP FUNCTION gw_rate_take(text, integer, double precision, double precision)")
    op.drop_table("gw_rate_limit")
