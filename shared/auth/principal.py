"""Roles, their scopes, and the authenticated caller (`Principal`) a verified token yields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from typing_extensions import TypeAliasType

Role = TypeAliasType("Role", Literal["bank", "bureau", "credit_firm", "admin"])
ROLES: tuple[str, ...] = get_args(Role.__value__)

READ_SCOPES = ("scoring:read", "loans:read", "stats:read", "guarantee:read", "export:read")

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "bank": frozenset(
        {"scoring:read", "loans:read", "loans:write", "stats:read", "guarantee:read"}
    ),
    "bureau": frozenset({"scoring:read", "loans:read", "stats:read", "guarantee:read"}),
    "credit_firm": frozenset({"export:read"}),
    "admin": frozenset({"admin", *READ_SCOPES}),
}

SCOPES: dict[str, str] = {
    "scoring:read": "Read enterprises, points, rankings and diagnoses",
    "loans:read": "Read banks, products, quotes and applications",
    "loans:write": "Submit applications and record decisions, disbursements and repayments",
    "stats:read": "Read loan statistics",
    "guarantee:read": "Read waivers, fee quotes, fee rates and consents",
    "export:read": "Pull the feature export (credit firms)",
    "admin": "Operator writes: clients, keys, enterprises, models, products, consents",
}
"""Every scope a token may carry, with what it lets the caller do (the OpenAPI document's
OAuth 2.0 scopes)."""
if set(SCOPES) != set().union(*ROLE_SCOPES.values()):
    raise RuntimeError("SCOPES must describe exactly the scopes of ROLE_SCOPES")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a client of one role, its scopes and its tenant (bank or firm), if any."""

    client_id: str
    role: Role
    scopes: frozenset[str]
    bank_code: str | None = None
    firm_code: str | None = None
    token_id: str | None = None
    expires_at: datetime | None = None
    # The sign-in session a dashboard user's token was minted for (its `sid`); None for a client.
    session_id: str | None = None

    def __post_init__(self) -> None:
        # A bank client always carries its bank, a firm client its firm, and no other role
        # carries either: the tenant dependencies rely on it.
        if (self.role == "bank") != (self.bank_code is not None):
            raise ValueError("a bank principal, and only one, carries a bank_code")
        if (self.role == "credit_firm") != (self.firm_code is not None):
            raise ValueError("a credit-firm principal, and only one, carries a firm_code")

    def has(self, *scopes: str) -> bool:
        """Whether every scope in `scopes` was granted."""
        return all(s in self.scopes for s in scopes)
