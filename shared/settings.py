"""Settings read from the environment, one class for what every process needs."""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.changes.kinds import KIND_NAMES

# A fixed, public key-encryption key for development only. `innocredit serve` warns when it
# is in use; production sets INNOCREDIT_KEY_ENCRYPTION_KEY (see README, "Configuration").
DEV_KEY_ENCRYPTION_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"innocredit-development-only-key-encryption-key").digest()
).decode()


def default_data_dir() -> Path:
    """Return where the embedded PostgreSQL keeps its data when nothing else is configured."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "innocredit"


class CoreSettings(BaseSettings):
    """Settings every InnoCredit process reads (gateway and services alike)."""

    model_config = SettingsConfigDict(env_prefix="INNOCREDIT_", extra="ignore")

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    # `transaction`: DATABASE_URL is a pooler in transaction mode (PgBouncer); see
    # `shared.db.make_engine`. Migrations then need a direct connection:
    # INNOCREDIT_MIGRATION_DATABASE_URL (schema changes and their locks must not go through
    # the pooler); unset, they use DATABASE_URL.
    db_pooler: Literal["none", "transaction"] = "none"
    migration_database_url: str | None = None
    # A streaming replica for the heavy reads (stats, rankings, distribution, the export);
    # unset, they run on DATABASE_URL. An export pull waits at most this long for the replica
    # to replay its high-water mark, then reads on the primary.
    read_database_url: str | None = None
    replica_wait_seconds: float = Field(default=1.0, ge=0)
    data_dir: Path = Field(default_factory=default_data_dir)
    key_encryption_key: str = DEV_KEY_ENCRYPTION_KEY
    issuer: str = "https://innocredit.taizhou/"
    # The gateway's address as clients reach it (RFC 8414 metadata); unset: the request's.
    public_url: str | None = None
    audience: str = "innocredit-api"
    token_ttl_seconds: int = Field(default=900, ge=60, le=900)
    jwks_url: str | None = None
    key_cache_seconds: int = Field(default=300, ge=1)
    unknown_kid_cooldown_seconds: float = Field(default=30.0, ge=0)
    rate_limit_per_minute: int = Field(default=600, ge=1)
    client_cache_seconds: float = Field(default=5.0, ge=0)
    # How long a gateway spends a quota lease locally (services/gateway/quota.py): longer means
    # fewer database calls and waits, and up to this many seconds × gateways of a client's rate
    # refused early (never more than its quota let through).
    quota_lease_seconds: float = Field(default=0.5, gt=0, le=5)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_upload_bytes: int = Field(default=33_554_432, ge=1024)
    docs_enabled: bool = True
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)
    # A request waits at most this long for a pooled connection (then 503 database-busy).
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    # Per SQL statement of a request (then 504 database-timeout); 0 = no limit.
    db_statement_timeout_ms: int = Field(default=30_000, ge=0)
    # Per row/table lock wait of a request (then 503 database-busy); 0 = no limit.
    db_lock_timeout_ms: int = Field(default=5_000, ge=0)
    scoring_url: str | None = None
    loans_url: str | None = None
    guarantee_url: str | None = None
    proxy_timeout_seconds: float = Field(default=30.0, gt=0)
    # Requests in flight per process; the next ones wait in a FIFO queue of at most
    # `max_queued` for at most `max_queue_wait_seconds`, and past either are shed (503
    # overloaded). A split gateway admits and queues this many per service it fronts.
    # `max_queued` 0 sheds at once. The defaults are measured (README, "Benchmarks").
    max_in_flight: int = Field(default=32, ge=1)
    max_queued: int = Field(default=256, ge=0)
    max_queue_wait_seconds: float = Field(default=2.0, gt=0)
    # A request body must arrive within this long (then 408); until it has, it holds no slot.
    body_timeout_seconds: float = Field(default=60.0, gt=0)
    # On SIGTERM a server stops accepting connections and lets requests in flight finish for
    # up to this long before it cancels them.
    shutdown_grace_seconds: int = Field(default=20, ge=1)
    # The dashboard's sign-in (services/gateway/signin.py, README "Users and the dashboard
    # sign-in"): a session lasts at most `session_absolute_seconds`, and ends sooner after
    # `session_idle_seconds` without use; `cookie_secure` `auto` marks the cookie Secure when
    # the request came over https. `sign_in_max_failures` wrong passwords in a row lock a user
    # for `sign_in_lock_seconds`; `sign_in_ip_max_failures` refused sign-ins from one address
    # within `sign_in_ip_window_seconds` refuse that address (429) until the oldest ages out.
    session_absolute_seconds: int = Field(default=8 * 3600, ge=60, le=7 * 86400)
    session_idle_seconds: int = Field(default=30 * 60, ge=60)
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    sign_in_max_failures: int = Field(default=5, ge=1)
    sign_in_lock_seconds: int = Field(default=15 * 60, ge=1)
    sign_in_ip_max_failures: int = Field(default=20, ge=1)
    sign_in_ip_window_seconds: int = Field(default=15 * 60, ge=1)
    # Four eyes (README "Model governance"): which rule changes wait for a second operator.
    # `all`, `none` (or empty), or a comma list of kinds (`shared.changes.kinds.KIND_NAMES`).
    four_eyes: str = "all"
    # Webhooks (README "Webhooks: events pushed to banks"). A send waits at most
    # `timeout_seconds`; a claimed delivery is leased for `lease_seconds` (at least the timeout
    # plus 10 s, so two workers never hold one delivery); a worker keeps `concurrency` sends
    # in flight and looks for due deliveries every `poll_seconds`, for timer events every
    # `timer_seconds`. `due_soon_seconds` before a deadline `application.decision_due_soon`
    # fires. `retry_scale` multiplies the retry schedule and its 72 h (tests shrink it);
    # final deliveries are kept `retention_days`. `allow_loopback` admits loopback endpoints
    # (127.0.0.0/8, ::1, localhost; `http` to them too): development and tests only.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=30)
    webhook_lease_seconds: float = Field(default=30.0, gt=0)
    webhook_concurrency: int = Field(default=16, ge=1, le=256)
    webhook_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    webhook_timer_seconds: float = Field(default=15.0, gt=0, le=3600)
    webhook_due_soon_seconds: int = Field(default=14_400, ge=60, le=7 * 86400)
    webhook_retry_scale: float = Field(default=1.0, ge=0.0001, le=1)
    webhook_retention_days: int = Field(default=30, ge=1)
    webhook_allow_loopback: bool = False

    @field_validator("four_eyes")
    @classmethod
    def _known_kinds(cls, value: str) -> str:
        names = _kind_list(value)
        unknown = [n for n in names if n not in KIND_NAMES]
        if unknown:
            raise ValueError(
                f"unknown kind(s) {', '.join(unknown)}: use all, none or a comma list of "
                f"{', '.join(KIND_NAMES)}"
            )
        return value

    @property
    def governed(self) -> frozenset[str]:
        """The kinds of change that need a second operator's approval."""
        return frozenset(_kind_list(self.four_eyes))

    @field_validator("key_encryption_key")
    @classmethod
    def _valid_fernet_key(cls, value: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(value.encode())
        except ValueError as exc:
            raise ValueError("must be url-safe base64 of 32 bytes (a Fernet key)") from exc
        if len(raw) != 32:
            raise ValueError("must be url-safe base64 of 32 bytes (a Fernet key)")
        return value

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> CoreSettings:
        if self.webhook_lease_seconds < self.webhook_timeout_seconds + 10:
            raise ValueError(
                "INNOCREDIT_WEBHOOK_LEASE_SECONDS must be at least "
                "INNOCREDIT_WEBHOOK_TIMEOUT_SECONDS + 10: a lease that ends while its send "
                "may still run lets a second worker send the same delivery at once"
            )
        return self

    @property
    def using_dev_key(self) -> bool:
        """Whether the public development key-encryption key is in use."""
        return self.key_encryption_key == DEV_KEY_ENCRYPTION_KEY

    @property
    def cursor_key(self) -> bytes:
        """The key that signs pagination cursors, derived from the key-encryption key."""
        return hashlib.sha256(b"innocredit-cursor\x00" + self.key_encryption_key.encode()).digest()

    @property
    def migration_url(self) -> str | None:
        """The database URL migrations run on: a direct one, never through a pooler."""
        return self.migration_database_url or self.database_url

    @property
    def split_mode(self) -> bool:
        """Whether the gateway proxies to separately running services."""
        return any((self.scoring_url, self.loans_url, self.guarantee_url))


def _kind_list(value: str) -> list[str]:
    """The kinds `INNOCREDIT_FOUR_EYES` names: every one for `all`, none for `none` or empty."""
    text = value.strip().lower()
    if text == "all":
        return list(KIND_NAMES)
    if text in {"", "none"}:
        return []
    return [name.strip() for name in text.split(",") if name.strip()]


@lru_cache
def get_settings() -> CoreSettings:
    """Return the process-wide settings, read once from the environment."""
    return CoreSettings()
