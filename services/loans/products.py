"""Partner banks and their credit products: the operators' catalogue, read per tenant.

Writing the catalogue is an operator's job (not a tenant write); reading it takes the caller's
`BankVisibility`, so a bank sees its own bank and products only (others' are "not found").
Never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.loans.errors import BankNotFound, ProductNotFound, WrongTransition
from services.loans.models import Bank, Product
from services.loans.schemas import ProductIn
from shared.auth.tenancy import BankVisibility, OneBank, restrict
from shared.changes.locks import lock_target


def put_bank(session: Session, code: str, name: str) -> Bank:
    """Create or rename a bank."""
    lock_target(session, f"bank:{code}")  # after an approval of the same bank, not amid it
    stmt = insert(Bank).values(code=code, name=name)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Bank.code], set_={"name": name, "updated_at": func.now()}
        )
    )
    return session.scalars(
        select(Bank).where(Bank.code == code).execution_options(populate_existing=True)
    ).one()


def bank_exists(session: Session, code: str) -> bool:
    """Whether a partner bank has this code (the gateway checks a new bank client's code)."""
    return session.get(Bank, code) is not None


def list_banks(
    session: Session, seen: BankVisibility, *, after: str | None = None, limit: int | None = None
) -> Sequence[Bank]:
    """The banks the caller sees (all of them, or only its own) by code: up to `limit + 1`
    after code `after`, or all of them when `limit` is None."""
    stmt = restrict(select(Bank), Bank.code, seen)
    if after is not None:
        stmt = stmt.where(Bank.code > after)
    stmt = stmt.order_by(Bank.code)
    return session.scalars(stmt if limit is None else stmt.limit(limit + 1)).all()


def put_product(session: Session, code: str, data: ProductIn) -> Product:
    """Create or replace a product."""
    lock_target(session, f"product:{code}")  # after an approval of the same product
    if session.get(Bank, data.bank_code) is None:
        raise BankNotFound(f"No bank {data.bank_code!r}: create it with PUT /v1/admin/banks/…")
    values: dict[str, Any] = data.model_dump(mode="python")
    values["limit_tiers"] = [t.model_dump(mode="json") for t in data.limit_tiers]
    existing = session.get(Product, code)
    if existing is not None and existing.bank_code != data.bank_code:
        raise WrongTransition(
            f"Product {code} belongs to {existing.bank_code}; codes are permanent"
        )
    stmt = insert(Product).values(code=code, **values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Product.code], set_={**values, "updated_at": func.now()}
        )
    )
    return session.scalars(
        select(Product).where(Product.code == code).execution_options(populate_existing=True)
    ).one()


def list_products(
    session: Session,
    seen: BankVisibility,
    *,
    after: tuple[str, str] | None = None,
    limit: int | None = None,
) -> Sequence[Product]:
    """The products of the banks the caller sees in (bank code, code) order: up to
    `limit + 1` after `after`, or all of them when `limit` is None."""
    stmt = restrict(select(Product), Product.bank_code, seen)
    if after is not None:
        stmt = stmt.where(tuple_(Product.bank_code, Product.code) > tuple_(*after))
    stmt = stmt.order_by(Product.bank_code, Product.code)
    return session.scalars(stmt if limit is None else stmt.limit(limit + 1)).all()


def get_product(session: Session, seen: BankVisibility, code: str) -> Product:
    """A product; another bank's product is not found."""
    stmt = restrict(select(Product).where(Product.code == code), Product.bank_code, seen)
    product = session.scalars(stmt).one_or_none()
    if product is None:
        of_bank = f" of bank {seen.code}" if isinstance(seen, OneBank) else ""
        raise ProductNotFound(f"No product {code!r}{of_bank}")
    return product
