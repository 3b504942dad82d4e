"""The pending, approved and rejected changes (`gov_change`): kept, never deleted (triggers of
migration 0012 refuse a delete and any update of a decided change)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Index, String, Text, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class ChangeRow(Base):
    """One proposed change: what (kind, target, params, diff), who and when (maker, checker),
    and how it ended (status, reason, result)."""

    __tablename__ = "gov_change"
    __table_args__ = (
        CheckConstraint(
            "(status = 'pending') = (decided_at IS NULL) "
            "AND (status = 'pending') = (checker IS NULL)",
            name="decided",
        ),
        CheckConstraint("status <> 'approved' OR checker <> maker", name="four_eyes"),
        CheckConstraint("status <> 'rejected' OR length(reason) > 0", name="reason"),
        CheckConstraint("(status = 'approved') = (result IS NOT NULL)", name="result"),
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
        Index(
            "ux_gov_change_pending_target",
            "target",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_gov_change_made_at_id", "made_at", "id"),
        Index("ix_gov_change_status_made_at_id", "status", "made_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    service: Mapped[str] = mapped_column(String(10))
    target: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(10), server_default="pending")
    summary: Mapped[str] = mapped_column(Text)
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    expected: Mapped[dict[str, Any]] = mapped_column(JSONB)
    diff: Mapped[Any] = mapped_column(JSONB)
    links: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    maker: Mapped[str] = mapped_column(String(40))
    made_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    maker_request_id: Mapped[str | None] = mapped_column(String(128))
    checker: Mapped[str | None] = mapped_column(String(40))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checker_request_id: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
