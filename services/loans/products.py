"""Partner banks and their credit products: the operators' catalogue, read per tenant.

Writing the catalogue is an operator's job (not a tenant write); reading it takes the caller's
`BankVisibility`, so a bank sees its own bank and products only (others' are "not found").
Every change appends a version (`loan_bank_version`, `loan_product_version`, valid from the
application clock's now), so a product is also read as it was at an instant. Never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.loans.errors import BankNotFound, ProductNotFound, WrongTransition
from services.loans.models import Bank, BankVersion, Product, ProductVersion
from services.loans.schemas import ProductIn
from shared import clock
from shared.auth.tenancy import BankVisibility, OneBank, restrict
from shared.changes.locks import lock_target
from shared.timestamps import format_instant

# What a product version holds: every column of the product but its code and `updated_at`.
TERMS = (
    "bank_code",
    "name",
    "min_points",
    "eligible_categories",
    "limit_tiers",
    "term_min_months",
    "term_max_months",
    "rate_min",
    "rate_max",
    "guarantee",
    "active_from",
    "active_to",
)


def put_bank(session: Session, code: str, name: str) -> Bank:
    """Create or rename a bank (a new name is a new version)."""
    lock_target(session, f"bank:{code}")  # after an approval of the same bank, not amid it
    at = clock.now()
    before = session.scalar(select(Bank.name).where(Bank.code == code))
    stmt = insert(Bank).values(code=code, name=name, created_at=at, updated_at=at)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Bank.code], set_={"name": name, "updated_at": at}
        )
    )
    if before != name:
        session.add(BankVersion(code=code, name=name, valid_from=at))
    return session.scalars(
        select(Bank).where(Bank.code == code).execution_options(populate_existing=True)
    ).one()


def bank_exists(session: Session, code: str) -> bool:
    """Whether a partner bank has this code (the gateway checks a new bank client's code)."""
    return session.get(Bank, code) is not None


def bank_name(session: Session, code: str) -> str | None:
    """A partner bank's name (scoring prints it on a 诊断书 a bank asked for)."""
    bank = session.get(Bank, code)
    return None if bank is None else bank.name


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


def check_product(session: Session, code: str, data: ProductIn) -> tuple[Bank, Product | None]:
    """What writing `data` as product `code` needs: its bank exists (`BankNotFound`) and an
    existing product keeps its bank (`WrongTransition`). The bank and the existing product."""
    bank = session.get(Bank, data.bank_code)
    if bank is None:
        raise BankNotFound(f"No bank {data.bank_code!r}: create it with PUT /v1/admin/banks/…")
    existing = session.get(Product, code)
    if existing is not None and existing.bank_code != data.bank_code:
        raise WrongTransition(
            f"Product {code} belongs to {existing.bank_code}; codes are permanent"
        )
    return bank, existing


def put_product(session: Session, code: str, data: ProductIn) -> Product:
    """Create or replace a product."""
    lock_target(session, f"product:{code}")  # after an approval of the same product
    _, existing = check_product(session, code, data)
    values: dict[str, Any] = data.model_dump(mode="python")
    values["limit_tiers"] = [t.model_dump(mode="json") for t in data.limit_tiers]
    at = clock.now()
    before = None if existing is None else {t: getattr(existing, t) for t in TERMS}
    stmt = insert(Product).values(code=code, **values, updated_at=at)
    session.execute(
        stmt.on_conflict_do_update(index_elements=[Product.code], set_={**values, "updated_at": at})
    )
    product = session.scalars(
        select(Product).where(Product.code == code).execution_options(populate_existing=True)
    ).one()
    terms = {t: getattr(product, t) for t in TERMS}
    if terms != before:  # a new version only when the terms change
        session.add(ProductVersion(code=code, **terms, valid_from=at))
        session.flush()
    return product


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


def product_version(
    session: Session, seen: BankVisibility, code: str, at: datetime | None
) -> tuple[Product, datetime]:
    """A product (another bank's is not found) and since when it has had its terms: now, or
    as it was at the instant `at` — then a value built from that version, not a row."""
    if at is None:
        product = get_product(session, seen, code)
        since = session.scalar(
            select(ProductVersion.valid_from)
            .where(ProductVersion.code == code)
            .order_by(ProductVersion.valid_from.desc(), ProductVersion.id.desc())
            .limit(1)
        )
        return product, since or product.updated_at
    stmt = restrict(
        select(ProductVersion).where(ProductVersion.code == code, ProductVersion.valid_from <= at),
        ProductVersion.bank_code,
        seen,
    )
    version = session.scalars(
        stmt.order_by(ProductVersion.valid_from.desc(), ProductVersion.id.desc()).limit(1)
    ).first()
    if version is None:
        of_bank = f" of bank {seen.code}" if isinstance(seen, OneBank) else ""
        raise ProductNotFound(f"No product {code!r}{of_bank} at {format_instant(at)}")
    terms = {t: getattr(version, t) for t in TERMS}
    return Product(code=code, **terms, updated_at=version.valid_from), version.valid_from
