"""Loans: the decision days' side rollup, so the statistics' median is exact and additive.

A median is not additive, but a histogram of whole working days is, when every value keeps its
own count: `loan_stats_decision_days` holds, per submission day, bank, product, dimension value
(as `loan_stats_day`: `none` with '' for the totals, bank, product and month; a district, an
industry or a stage) and number of working days to decision, how many decided applications
took exactly that many. No "over N" bucket: a value seen is a row, so the median read from it
is the one `percentile_cont(0.5)` gives over the applications. With decisions due within two
working days, decision days take few values: a few rows per `loan_stats_day` row. Kept as
`loan_stats_day` is (migration 0009): statement-level AFTER INSERT / UPDATE / DELETE triggers
on `loan_application` add the new rows' counts and subtract the old rows', in the writing
transaction; an UPDATE that leaves the day, bank, product, dimensions and decision days of its
rows as they were (a disbursement, a repayment report) cancels out and touches nothing. Their
names sort after `loan_stats_day_*`, so PostgreSQL fires them after those and every writer
locks the two rollups' rows in the same order. A row counting nothing is deleted. The upgrade
backfills it with writers locked out until the triggers exist.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "loan_stats_decision_days"
KEY = ("day", "bank_code", "product_code", "dimension", "value", "working_days")

# What the histogram counts of one application: its key, when it has been decided.
_PROJECTION = """
    SELECT submitted_date AS day, bank_code, product_code, district, industry, stage,
           decision_working_days AS working_days
    FROM {rows} WHERE decision_working_days IS NOT NULL
"""

# Adds `sign` × each delta row to its four rows (the totals' and one per dimension), in key
# order so that concurrent writers lock shared rows in the same order.
_UPSERT = f"""
    INSERT INTO {TABLE} AS s ({", ".join(KEY)}, decided)
    SELECT r.day, r.bank_code, r.product_code, d.dimension, d.value, r.working_days,
           sum(r.sign)
    FROM ({{delta}}) AS r
    CROSS JOIN LATERAL (VALUES ('none', ''), ('district', r.district),
                               ('industry', r.industry), ('stage', r.stage))
        AS d(dimension, value)
    GROUP BY r.day, r.bank_code, r.product_code, d.dimension, d.value, r.working_days
    HAVING sum(r.sign) <> 0
    ORDER BY r.day, r.bank_code, r.product_code, d.dimension, d.value, r.working_days
    ON CONFLICT ({", ".join(KEY)}) DO UPDATE SET decided = s.decided + excluded.decided
"""


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

# The rows a statement emptied (count zero) go: a value nobody took is no value.
_DROP_EMPTIED = f"""
    IF emptied > 0 THEN
        DELETE FROM {TABLE} AS s
        USING (SELECT DISTINCT submitted_date, bank_code, product_code FROM old_rows) AS o
        WHERE s.day = o.submitted_date AND s.bank_code = o.bank_code
          AND s.product_code = o.product_code AND s.decided = 0;
    END IF;
"""


def _function(name: str, delta: str, drop_emptied: str) -> str:
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    emptied integer;
BEGIN
    WITH added AS ({_UPSERT.format(delta=delta)} RETURNING s.decided)
    SELECT count(*) FILTER (WHERE decided = 0) INTO emptied FROM added;
    {drop_emptied}
    RETURN NULL;
END
$$
"""


FUNCTIONS = {  # trigger function → (event, transition tables, its body's parts)
    f"{TABLE}_inserted": ("INSERT", "NEW TABLE AS new_rows", _signed("new_rows", 1), ""),
    f"{TABLE}_updated": (
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        _CHANGED,
        _DROP_EMPTIED,
    ),
    f"{TABLE}_deleted": ("DELETE", "OLD TABLE AS old_rows", _signed("old_rows", -1), _DROP_EMPTIED),
}

_TRUNCATED = f"""
CREATE FUNCTION {TABLE}_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE {TABLE};
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bank_code", sa.String(length=32), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("dimension", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=40), nullable=False),
        sa.Column("working_days", sa.SmallInteger(), nullable=False),
        sa.Column("decided", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "dimension IN ('none', 'district', 'industry', 'stage')",
            name=op.f(f"ck_{TABLE}_dimension"),
        ),
        sa.PrimaryKeyConstraint(*KEY, name=op.f(f"pk_{TABLE}")),
    )
    # Lock out writers from the backfill to the triggers' creation: nothing is counted twice
    # or missed.
    op.execute("LOCK TABLE loan_application IN SHARE ROW EXCLUSIVE MODE")
    op.execute(_UPSERT.format(delta=_signed("loan_application", 1)))
    for name, (event, tables, delta, drop_emptied) in FUNCTIONS.items():
        op.execute(_function(name, delta, drop_emptied))
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON loan_application "
            f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    op.execute(_TRUNCATED)
    op.execute(
        f"CREATE TRIGGER {TABLE}_truncated AFTER TRUNCATE ON loan_application "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_truncated()"
    )


def downgrade() -> None:
    for name in (*FUNCTIONS, f"{TABLE}_truncated"):
        op.execute(f"DROP TRIGGER {name} ON loan_application")
        op.execute(f"DROP FUNCTION {name}()")
    op.drop_table(TABLE)
