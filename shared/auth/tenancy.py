"""Whose rows a caller may see, as values every tenant-owned read and write must be given.

A bank's loan system sees its own bank's rows only; the bureau and operators see every bank's.
That is a `BankVisibility`: `OneBank(code)` or `AllBanks()`. Credit-reporting firms likewise get
`OneFirm(code)`; the bureau and operators `AllFirms()`. Only the auth dependencies
(`shared.auth.deps`) build these, from the verified token: a domain function that touches
tenant-owned rows takes one as a required parameter (no default, no `None` meaning "all"), and
applies it with `restrict` (SQLAlchemy) or `sql_filter` (text SQL) — so forgetting the tenant
is a type error, and a role that has no business with the rows is refused before any query
(fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select
from sqlalchemy.orm import QueryableAttribute

S = TypeVar("S", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True, slots=True)
class AllBanks:
    """The bureau or an operator: every bank's rows."""


@dataclass(frozen=True, slots=True)
class OneBank:
    """A bank's own client: that bank's rows only."""

    code: str


@dataclass(frozen=True, slots=True)
class AllFirms:
    """The bureau or an operator: every credit-reporting firm's rows."""


@dataclass(frozen=True, slots=True)
class OneFirm:
    """A credit-reporting firm's client: that firm's rows only."""

    code: str


BankVisibility = AllBanks | OneBank
FirmVisibility = AllFirms | OneFirm
Visibility = BankVisibility | FirmVisibility


def restrict(
    stmt: S, column: ColumnElement[str] | QueryableAttribute[str], visibility: Visibility
) -> S:
    """`stmt` limited to the rows whose tenant `column` the caller may see."""
    match visibility:
        case OneBank(code) | OneFirm(code):
            return stmt.where(column == code)
        case AllBanks() | AllFirms():
            return stmt


def sql_filter(column: str, visibility: Visibility) -> tuple[str, dict[str, str]]:
    """The same for text SQL: an `AND …` fragment over the fixed column expression `column`
    and its bound parameter (empty for every tenant)."""
    match visibility:
        case OneBank(code) | OneFirm(code):
            return f"AND {column} = :tenant_code", {"tenant_code": code}
        case AllBanks() | AllFirms():
            return "", {}


def sees(visibility: Visibility, tenant_code: str) -> bool:
    """Whether the caller may see a row that belongs to `tenant_code`."""
    match visibility:
        case OneBank(code) | OneFirm(code):
            return code == tenant_code
        case AllBanks() | AllFirms():
            return True


def tenant_code(visibility: Visibility) -> str | None:
    """The tenant's code, or None for every tenant (for cursors and responses only)."""
    match visibility:
        case OneBank(code) | OneFirm(code):
            return code
        case AllBanks() | AllFirms():
            return None
