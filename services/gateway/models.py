"""Tables the gateway owns (prefix `gw_`): API clients, signing keys, the audit trail, and the
dashboard's users, their sessions and the refused sign-ins counted per address."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class Client(Base):
    """An API client (a bank's loan system, the bureau, a credit firm, an operator)."""

    __tablename__ = "gw_client"
    __table_args__ = (
        CheckConstraint("role IN ('bank', 'bureau', 'credit_firm', 'admin')", name="role"),
        CheckConstraint("(role = 'bank') = (bank_code IS NOT NULL)", name="bank_code_iff_bank"),
        CheckConstraint(
            "(role = 'credit_firm') = (firm_code IS NOT NULL)", name="firm_code_iff_firm"
        ),
        CheckConstraint(
            "rate_limit_per_minute IS NULL OR rate_limit_per_minute > 0", name="rate_limit_positive"
        ),
    )

    client_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    bank_code: Mapped[str | None] = mapped_column(String(32))
    firm_code: Mapped[str | None] = mapped_column(String(32))
    secret_hash: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    secret_rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SigningKey(Base):
    """A token-signing key; the private half encrypted with the key-encryption key."""

    __tablename__ = "gw_signing_key"
    __table_args__ = (
        # At most one active (not retired) key at any time.
        Index(
            "uq_gw_signing_key_active",
            text("(true)"),
            unique=True,
            postgresql_where=text("retired_at IS NULL"),
        ),
    )

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(10))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB)
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Published in the JWKS from creation; signs tokens from `activates_at` until `retired_at`.
    activates_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """One write (or export pull): who, what, when, with which request id and outcome."""

    __tablename__ = "gw_audit_event"
    __table_args__ = (Index("ix_gw_audit_event_at_id", "at", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    client_id: Mapped[str | None] = mapped_column(String(40))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class RateLimitState(Base):
    """A client's quota, shared by every gateway process: the GCRA's theoretical arrival time
    (`tat`, seconds since the epoch on the database's clock) per key. UNLOGGED: not written
    to the WAL, so cheap to update on every decision, emptied by a crash and absent on a
    promoted replica; an empty row is a full bucket, so a failover forgives the minute's
    usage (README "Rate limits"). Updated only through `gw_rate_take` (migration 0008)."""

    __tablename__ = "gw_rate_limit"
    __table_args__ = {"prefixes": ["UNLOGGED"]}  # noqa: RUF012  (SQLAlchemy reads it once)

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    tat: Mapped[float] = mapped_column(Double)


class User(Base):
    """A person who signs in to the dashboard: the bureau's staff, or a bank's (with its bank).

    `failed_count` counts sign-in attempts since the last success (those still being checked
    too), `locked_until` is set when it reaches the limit (services/gateway/users.py)."""

    __tablename__ = "gw_user"
    __table_args__ = (
        CheckConstraint("role IN ('bureau', 'bank')", name="role"),
        CheckConstraint("(role = 'bank') = (bank_code IS NOT NULL)", name="bank_code_iff_bank"),
        CheckConstraint("failed_count >= 0", name="failed_count_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(10))
    bank_code: Mapped[str | None] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    failed_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    password_changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class UserSession(Base):
    """A signed-in browser: only the SHA-256 of its cookie's token is kept, so a copy of the
    table signs nobody in. Ends at `expires_at`, or after the idle limit since `last_seen_at`."""

    __tablename__ = "gw_user_session"
    __table_args__ = (Index("ix_gw_user_session_user_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("gw_user.id", ondelete="CASCADE"))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class SignInFailure(Base):
    """A refused sign-in from an address: the per-address limit counts those in its window."""

    __tablename__ = "gw_sign_in_failure"
    __table_args__ = (Index("ix_gw_sign_in_failure_ip_at", "ip", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
