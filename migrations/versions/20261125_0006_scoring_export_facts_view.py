"""Scoring: the view `sc_export_facts` — the latest ranked points of every enterprise with the
attributes the credit-firm export publishes.

The guarantee export used to splice scoring's SQL text into its own statement; it now reads
this view by name (`services.scoring.queries.EXPORT_FACTS_VIEW`). One row per enterprise that
has points in a period's ranking: those of its latest such period. Filtered by `uscc`, the
view is two index lookups (sc_enterprise's key, then ix_sc_points_uscc in the LATERAL).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 14:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE VIEW sc_export_facts AS
        SELECT e.uscc, p.period, p.model_version, p.points, p.rank, p.rank_total,
               (CASE WHEN p.rank_total > 0 THEN round(100.0 * p.below / p.rank_total, 2)
                     ELSE 0 END)::float8 AS percentile,
               (SELECT jsonb_object_agg(b->>'indicator', b->>'points')
                  FROM jsonb_array_elements(p.breakdown) AS b
                 WHERE b->>'indicator' NOT LIKE 'bonus:%') AS indicator_points,
               e.district, e.industry_code, e.stage, e.categories
        FROM sc_enterprise e
        CROSS JOIN LATERAL (
            SELECT p.period, p.model_version, p.points, p.rank, p.rank_total, p.below,
                   p.breakdown
            FROM sc_points p
            JOIN sc_ranking r ON r.period = p.period AND r.model_version = p.model_version
            WHERE p.uscc = e.uscc
            ORDER BY p.period DESC
            LIMIT 1
        ) AS p
        """
    )
    op.execute(
        "COMMENT ON VIEW sc_export_facts IS 'Scoring: the latest ranked points of each "
        "enterprise, with the attributes the credit-firm export publishes'"
    )


def downgrade() -> None:
    op.execute("DROP VIEW sc_export_facts")
