"""Loans: a daily rollup of the statistics, kept exact by PostgreSQL's own triggers.

`loan_stats_day` holds, per submission day, bank, product and one dimension value (`none`
for the totals, bank, product and month; a district, an industry or a stage), every additive
figure of `GET /v1/loans/stats`: counts, the money disbursed, the sum and count of decision
days. Statement-level AFTER INSERT / UPDATE / DELETE triggers on `loan_application` add what
each statement's new rows count and subtract what its old rows counted (transition tables),
in the writing transaction: every write path, present or future, keeps it exact, and a rolled
back write changes nothing. A row whose count reaches zero is deleted. The upgrade backfills
it from the rows already there. `ix_loan_application_open_due` finds the undecided
applications whose deadline is still ahead (the one figure that depends on now()).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = ("day", "bank_code", "product_code", "dimension", "value")
FIGURES = (
    "applications",
    "approved",
    "rejected",
    "withdrawn",
    "decided",
    "disbursed_count",
    "disbursed_amount",
    "days_sum",
    "days_n",
    "on_time_n",
    "on_time_of",
    "overdue_count",
    "awaiting_decision",
)

# What the statistics count of one application: its key and each figure (1/0, or an amount).
# Rows an UPDATE left the same on all of these cancel out and touch no rollup row.
_PROJECTION = """
    SELECT submitted_date AS day, bank_code, product_code, district, industry, stage,
           (approved_amount IS NOT NULL)::int AS approved,
           (status = 'rejected')::int AS rejected,
           (status = 'withdrawn')::int AS withdrawn,
           (decided_at IS NOT NULL)::int AS decided,
           (disbursed_count > 0)::int AS disbursed_count,
           disbursed_total AS disbursed_amount,
           coalesce(decision_working_days, 0)::int AS days_sum,
           (decision_working_days IS NOT NULL)::int AS days_n,
           (on_time IS TRUE)::int AS on_time_n,
           (on_time IS NOT NULL)::int AS on_time_of,
           (status = 'overdue')::int AS overdue_count,
           (status = 'submitted')::int AS awaiting_decision
    FROM {rows}
"""

# Adds `sign` × each delta row to its four rollup rows (the totals' and one per dimension),
# in key order so that concurrent writers lock shared rows in the same order.
_UPSERT = """
    INSERT INTO loan_stats_day AS s ({key}, {figures})
    SELECT r.day, r.bank_code, r.product_code, d.dimension, d.value,
           sum(r.sign), {sums}
    FROM ({delta}) AS r
    CROSS JOIN LATERAL (VALUES ('none', ''), ('district', r.district),
                               ('industry', r.industry), ('stage', r.stage))
        AS d(dimension, value)
    GROUP BY r.day, r.bank_code, r.product_code, d.dimension, d.value
    ORDER BY r.day, r.bank_code, r.product_code, d.dimension, d.value
    ON CONFLICT ({key}) DO UPDATE SET {adds}
"""


def _upsert(delta: str) -> str:
    """The upsert of a delta's sums into the rollup rows they belong to."""
    return _UPSERT.format(
        key=", ".join(KEY),
        figures=", ".join(FIGURES),
        sums=", ".join(f"sum(r.sign * r.{f})" for f in FIGURES[1:]),
        delta=delta,
        adds=", ".join(f"{f} = s.{f} + excluded.{f}" for f in FIGURES),
    )


def _signed(rows: str, sign: int) -> str:
    return f"SELECT {sign} AS sign, p.* FROM ({_PROJECTION.format(rows=rows)}) AS p"


_CHANGED = f"""
    SELECT 1 AS sign, c.* FROM (
        {_PROJECTION.format(rows="new_rows")} EXCEPT ALL {_PROJECTION.format(rows="old_rows")}
    ) AS c
    UNION ALL
    SELECT -1 AS sign, c.* FROM (
        {_PROJECTION.format(rows="old_rows")} EXCEPT ALL {_PROJECTION.format(rows="new_rows")}
    ) AS c
"""

# The rows a statement emptied (count zero) go: a group with no application is no group.
_DROP_EMPTIED = """
    IF emptied > 0 THEN
        DELETE FROM loan_stats_day AS s
        USING (SELECT DISTINCT submitted_date, bank_code, product_code FROM old_rows) AS o
        WHERE s.day = o.submitted_date AND s.bank_code = o.bank_code
          AND s.product_code = o.product_code AND s.applications = 0;
    END IF;
"""


def _function(name: str, delta: str, drop_emptied: str) -> str:
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    emptied integer;
BEGIN
    WITH added AS ({_upsert(delta)} RETURNING s.applications)
    SELECT count(*) FILTER (WHERE applications = 0) INTO emptied FROM added;
    {drop_emptied}
    RETURN NULL;
END
$$
"""


FUNCTIONS = {  # trigger function → (event, transition tables, its body's parts)
    "loan_stats_day_inserted": ("INSERT", "NEW TABLE AS new_rows", _signed("new_rows", 1), ""),
    "loan_stats_day_updated": (
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        _CHANGED,
        _DROP_EMPTIED,
    ),
    "loan_stats_day_deleted": (
        "DELETE",
        "OLD TABLE AS old_rows",
        _signed("old_rows", -1),
        _DROP_EMPTIED,
    ),
}

_TRUNCATED = """
CREATE FUNCTION loan_stats_day_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE loan_stats_day;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    count = sa.Integer()
    op.create_table(
        "loan_stats_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bank_code", sa.String(length=32), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("dimension", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=40), nullable=False),
        *(sa.Column(f, count, nullable=False) for f in FIGURES[:6]),
        sa.Column("disbursed_amount", sa.Numeric(precision=20, scale=2), nullable=False),
        *(sa.Column(f, count, nullable=False) for f in FIGURES[7:]),
        sa.CheckConstraint(
            "dimension IN ('none', 'district', 'industry', 'stage')",
            name=op.f("ck_loan_stats_day_dimension"),
        ),
        sa.PrimaryKeyConstraint(*KEY, name=op.f("pk_loan_stats_day")),
    )
    op.create_index(
        "ix_loan_application_open_due",
        "loan_application",
        ["decision_due_at", "submitted_date"],
        unique=False,
        postgresql_where=sa.text("status = 'submitted'"),
    )
    # Lock out writers from the backfill to the triggers' creation: nothing is counted twice
    # or missed.
    op.execute("LOCK TABLE loan_application IN SHARE ROW EXCLUSIVE MODE")
    op.execute(_upsert(_signed("loan_application", 1)))
    for name, (event, tables, delta, drop_emptied) in FUNCTIONS.items():
        op.execute(_function(name, delta, drop_emptied))
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON loan_application "
            f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    op.execute(_TRUNCATED)
    op.execute(
        "CREATE TRIGGER loan_stats_day_truncated AFTER TRUNCATE ON loan_application "
        "FOR EACH STATEMENT EXECUTE FUNCTION loan_stats_day_truncated()"
    )


def downgrade() -> None:
    for name in (*FUNCTIONS, "loan_stats_day_truncated"):
        op.execute(f"DROP TRIGGER {name} ON loan_application")
        op.execute(f"DROP FUNCTION {name}()")
    op.drop_index(
        "ix_loan_application_open_due",
        table_name="loan_application",
        postgresql_where=sa.text("status = 'submitted'"),
    )
    op.drop_table("loan_stats_day")
