"""Webhooks: the transactional outbox, endpoints, deliveries and their attempts.

* `loan_webhook_subscription`: a bank's (or, owner `'*'`, the bureau's) endpoints, each with
  its signing secret sealed under the key-encryption key (and the previous one during a
  rotation's overlap).
* `loan_webhook_event`: each event rendered once (`body`, the bytes signed and sent), written
  in the transaction of the change it reports; `seq` orders the events of one ordering key.
* `loan_webhook_delivery`: one event to one endpoint. Its composite foreign keys carry the
  event's bank and the endpoint's owner, and `ck_loan_webhook_delivery_tenant` refuses a pair
  whose owner is not the event's bank (the bureau: `application.decision_overdue` only).
* `loan_webhook_attempt`: each try of a delivery; `loan_webhook_timer`: the due-soon and
  overdue events already emitted, per deadline.
* `loan_webhook_ranking`: per period, the last ranking run the waiver watcher processed and
  its top 100. The upgrade fills it from each period's current ranking run, so the first
  start reports no waiver change for rankings made before webhooks existed.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OUTCOMES = (
    "'in-flight', 'delivered', 'http-error', 'timeout', 'connection-error', 'tls-error', "
    "'address-refused', 'gone', 'abandoned'"
)


def _at(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _now(name: str) -> sa.Column[object]:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "loan_webhook_subscription",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("description", sa.String(length=200), server_default="", nullable=False),
        sa.Column("version", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("previous_secret_sealed", sa.LargeBinary(), nullable=True),
        _at("previous_valid_until"),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        _at("disabled_at"),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        _at("last_success_at"),
        _at("failing_since"),
        _at("retry_not_before"),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint(
            "cardinality(events) BETWEEN 1 AND 16",
            name=op.f("ck_loan_webhook_subscription_events"),
        ),
        sa.CheckConstraint(
            "owner <> '*' OR events <@ ARRAY['application.decision_overdue']::text[]",
            name=op.f("ck_loan_webhook_subscription_bureau_events"),
        ),
        sa.CheckConstraint(
            "enabled = (disabled_at IS NULL)", name=op.f("ck_loan_webhook_subscription_disabled")
        ),
        sa.CheckConstraint(
            "(previous_secret_sealed IS NULL) = (previous_valid_until IS NULL)",
            name=op.f("ck_loan_webhook_subscription_previous_secret"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_webhook_subscription")),
        sa.UniqueConstraint("id", "owner", name=op.f("uq_loan_webhook_subscription_id_owner")),
        sa.UniqueConstraint("owner", "name", name=op.f("uq_loan_webhook_subscription_owner_name")),
    )
    op.create_index(
        "ix_loan_webhook_subscription_owner",
        "loan_webhook_subscription",
        ["owner"],
        unique=False,
        postgresql_where=sa.text("enabled"),
    )
    op.create_table(
        "loan_webhook_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("version", sa.SmallInteger(), nullable=False),
        sa.Column("bank_code", sa.String(length=32), nullable=False),
        sa.Column("ordering_key", sa.String(length=80), nullable=False),
        _at("occurred_at", nullable=False),
        _now("created_at"),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_webhook_event")),
        sa.UniqueConstraint(
            "id", "bank_code", "type", name=op.f("uq_loan_webhook_event_id_bank_code_type")
        ),
        sa.UniqueConstraint("seq", name=op.f("uq_loan_webhook_event_seq")),
    )
    op.create_table(
        "loan_webhook_delivery",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_bank", sa.String(length=32), nullable=False),
        sa.Column("event_type", sa.String(length=60), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("ordering_key", sa.String(length=80), nullable=False),
        sa.Column("subscription_id", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=10), server_default="pending", nullable=False),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        _at("next_attempt_at", nullable=False),
        _at("give_up_at", nullable=False),
        _at("lease_until"),
        sa.Column("lease_token", sa.Uuid(), nullable=True),
        sa.Column("leased_by", sa.String(length=80), nullable=True),
        sa.Column("last_status", sa.SmallInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _at("delivered_at"),
        _now("created_at"),
        sa.CheckConstraint(
            "owner = event_bank OR (owner = '*' AND event_type IN "
            "('application.decision_overdue'))",
            name=op.f("ck_loan_webhook_delivery_tenant"),
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'dead', 'cancelled')",
            name=op.f("ck_loan_webhook_delivery_state"),
        ),
        sa.CheckConstraint(
            "(lease_token IS NULL) = (lease_until IS NULL)",
            name=op.f("ck_loan_webhook_delivery_lease"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id", "event_bank", "event_type"],
            [
                "loan_webhook_event.id",
                "loan_webhook_event.bank_code",
                "loan_webhook_event.type",
            ],
            name=op.f("fk_loan_webhook_delivery_event_id_event_bank_event_type"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id", "owner"],
            ["loan_webhook_subscription.id", "loan_webhook_subscription.owner"],
            name=op.f("fk_loan_webhook_delivery_subscription_id_owner"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_webhook_delivery")),
    )
    op.create_index(
        "ix_loan_webhook_delivery_claim",
        "loan_webhook_delivery",
        ["next_attempt_at", "id"],
        unique=False,
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "ix_loan_webhook_delivery_head",
        "loan_webhook_delivery",
        ["subscription_id", "ordering_key", "event_seq"],
        unique=False,
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "ix_loan_webhook_delivery_subscription_id_id",
        "loan_webhook_delivery",
        ["subscription_id", "id"],
        unique=False,
    )
    op.create_index(
        "ix_loan_webhook_delivery_event_id_subscription_id",
        "loan_webhook_delivery",
        ["event_id", "subscription_id"],
        unique=True,
    )
    op.create_table(
        "loan_webhook_attempt",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        _at("started_at", nullable=False),
        _at("finished_at"),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("response_excerpt", sa.String(length=512), nullable=True),
        sa.Column("worker", sa.String(length=80), nullable=False),
        sa.CheckConstraint(
            f"outcome IN ({_OUTCOMES})", name=op.f("ck_loan_webhook_attempt_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["loan_webhook_delivery.id"],
            name=op.f("fk_loan_webhook_attempt_delivery_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_webhook_attempt")),
    )
    op.create_index(
        "ix_loan_webhook_attempt_delivery_id_id",
        "loan_webhook_attempt",
        ["delivery_id", "id"],
        unique=False,
    )
    op.create_table(
        "loan_webhook_timer",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        _at("due_at", nullable=False),
        sa.CheckConstraint(
            "kind IN ('due-soon', 'overdue')", name=op.f("ck_loan_webhook_timer_kind")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["loan_application.id"],
            name=op.f("fk_loan_webhook_timer_application_id"),
        ),
        sa.PrimaryKeyConstraint(
            "application_id", "kind", "due_at", name=op.f("pk_loan_webhook_timer")
        ),
    )
    op.create_table(
        "loan_webhook_ranking",
        sa.Column("period", sa.SmallInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("top", postgresql.ARRAY(sa.Text()), nullable=False),
        _at("seen_at", nullable=False),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_loan_webhook_ranking")),
    )
    # Each period's current ranking run and its top 100, as the watcher would have seen it.
    op.execute(
        """
        INSERT INTO loan_webhook_ranking (period, run_id, top, seen_at)
        SELECT r.period, r.run_id,
               coalesce((SELECT array_agg(p.uscc::text ORDER BY p.rank) FROM sc_points p
                          WHERE p.run_id = r.run_id AND p.rank <= 100), '{}'),
               now()
        FROM sc_ranking r
        ORDER BY r.period
        """
    )


def downgrade() -> None:
    op.drop_table("loan_webhook_ranking")
    op.drop_table("loan_webhook_timer")
    op.drop_index("ix_loan_webhook_attempt_delivery_id_id", table_name="loan_webhook_attempt")
    op.drop_table("loan_webhook_attempt")
    op.drop_index(
        "ix_loan_webhook_delivery_event_id_subscription_id", table_name="loan_webhook_delivery"
    )
    op.drop_index("ix_loan_webhook_delivery_subscription_id_id", table_name="loan_webhook_delivery")
    op.drop_index("ix_loan_webhook_delivery_head", table_name="loan_webhook_delivery")
    op.drop_index("ix_loan_webhook_delivery_claim", table_name="loan_webhook_delivery")
    op.drop_table("loan_webhook_delivery")
    op.drop_table("loan_webhook_event")
    op.drop_index("ix_loan_webhook_subscription_owner", table_name="loan_webhook_subscription")
    op.drop_table("loan_webhook_subscription")
