"""Request and response models of the gateway's own endpoints."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypeAliasType

from shared.auth.principal import Role
from shared.integers import JSON_INTEGER
from shared.timestamps import Instant

CODE_PATTERN = r"^[A-Z0-9_]{2,32}$"


def _tenant_code(role: str, field: str) -> dict[str, Any]:
    """JSON Schema: `field` is a string for `role` and absent (or null) for every other."""
    return {
        "if": {"properties": {"role": {"const": role}}, "required": ["role"]},
        "then": {"required": [field], "properties": {field: {"type": "string"}}},
        "else": {"properties": {field: {"type": "null"}}},
    }


class ClientCreate(BaseModel):
    """A new API client. Banks need `bank_code`, credit firms `firm_code`; nobody else has one."""

    # The document says what `_tenant_matches_role` checks (the fuzzer found it unsaid).
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "allOf": [_tenant_code("bank", "bank_code"), _tenant_code("credit_firm", "firm_code")]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    role: Role
    bank_code: str | None = Field(default=None, pattern=CODE_PATTERN)
    firm_code: str | None = Field(default=None, pattern=CODE_PATTERN)
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=1_000_000), JSON_INTEGER] | None = None

    @model_validator(mode="after")
    def _tenant_matches_role(self) -> Self:
        if (self.role == "bank") != (self.bank_code is not None):
            raise ValueError("bank_code is required for role bank and only for it")
        if (self.role == "credit_firm") != (self.firm_code is not None):
            raise ValueError("firm_code is required for role credit_firm and only for it")
        return self


class ClientOut(BaseModel):
    """An API client as operators see it (never its secret)."""

    model_config = ConfigDict(from_attributes=True)

    client_id: str
    name: str
    role: Role
    bank_code: str | None
    firm_code: str | None
    enabled: bool
    rate_limit_per_minute: int | None
    created_at: Instant
    secret_rotated_at: Instant | None
    disabled_at: Instant | None


class ClientCredentials(BaseModel):
    """A client's id and secret; the secret is shown this once and stored only hashed."""

    client_id: str
    client_secret: str
    client: ClientOut


class TokenResponse(BaseModel):
    """RFC 6749 §5.1 access token response."""

    access_token: str
    token_type: str = "Bearer"  # noqa: S105  (the OAuth token type, not a secret)
    expires_in: int
    scope: str


class SigningKeyOut(BaseModel):
    """A signing key's public facts."""

    model_config = ConfigDict(from_attributes=True)

    kid: str
    algorithm: str
    created_at: Instant
    activates_at: Instant
    retired_at: Instant | None


AuditSource = TypeAliasType("AuditSource", Literal["write", "export-pull"])
"""What an audit event records: a write through the gateway, or a feature-export pull."""


class AuditEventOut(BaseModel):
    """One audited write or export pull."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    source: AuditSource = "write"
    at: Instant
    client_id: str | None
    method: str
    path: str
    status: int
    request_id: str | None
    action: str
    detail: dict[str, Any]


UserRole = TypeAliasType("UserRole", Literal["bureau", "bank"])
"""Who a dashboard user is: the bureau's staff (every bank's figures) or a bank's (its own)."""

USER_NAME_PATTERN = r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$"
"""No control characters, no space at either end (a name is typed into a sign-in form)."""


class UserCreate(BaseModel):
    """A new dashboard user; a bank's user needs `bank_code` (a partner bank), nobody else has
    one. `password` follows the password rule (README "Users and the dashboard sign-in")."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"allOf": [_tenant_code("bank", "bank_code")]}
    )

    name: str = Field(min_length=1, max_length=100, pattern=USER_NAME_PATTERN)
    role: UserRole
    bank_code: str | None = Field(default=None, pattern=CODE_PATTERN)
    password: str = Field(min_length=1, max_length=1024)

    @model_validator(mode="after")
    def _bank_matches_role(self) -> Self:
        if (self.role == "bank") != (self.bank_code is not None):
            raise ValueError("bank_code is required for role bank and only for it")
        return self


class PasswordChange(BaseModel):
    """A user's new password (the password rule applies); their sessions end."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=1024)


class UserOut(BaseModel):
    """A dashboard user as operators see it (never the password or its hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: UserRole
    bank_code: str | None
    disabled: bool
    failed_count: int
    locked_until: Instant | None
    created_at: Instant
    password_changed_at: Instant
