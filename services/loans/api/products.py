"""Endpoints of the catalogue: banks, products and quotes (read per tenant, written by
operators)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from services.loans import products, quotes
from services.loans.changes import BANK, PRODUCT
from services.loans.models import Product
from services.loans.schemas import BankIn, BankOut, ProductIn, ProductOut, Quote
from services.scoring import queries as scoring
from shared.as_of import AsOf, Versions, require_history
from shared.auth.deps import BanksVisible, LoansReader
from shared.auth.tenancy import tenant_code
from shared.changes.api import GOVERNED, Governed
from shared.clock import local_date, today
from shared.db import DbSession
from shared.openapi import problems
from shared.pagination import Page, PageParams
from shared.uscc import Uscc

CodePath = Annotated[str, Path(pattern=r"^[A-Z0-9_]{2,32}$")]
ProductPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{2,40}$")]

router = APIRouter()
admin = APIRouter()


def _product_out(product: Product) -> ProductOut:
    return ProductOut.model_validate(product, from_attributes=True)


@router.get("/banks", response_model=Page[BankOut], summary="Partner banks")
def list_banks(
    session: DbSession,
    _: LoansReader,
    seen: BanksVisible,
    paging: PageParams,
) -> Page[BankOut]:
    """By code. A bank sees itself; the bureau and operators see all five."""
    keyset = paging.keyset(f"banks:{tenant_code(seen)}")
    after = keyset.first(str)
    rows = products.list_banks(session, seen, after=after, limit=paging.limit)
    return keyset.page(rows, lambda b: [b.code], BankOut.model_validate)


@router.get("/products", response_model=Page[ProductOut], summary="Credit products")
def list_products(
    session: DbSession,
    _: LoansReader,
    seen: BanksVisible,
    paging: PageParams,
) -> Page[ProductOut]:
    """By bank code, then product code. A bank sees its own products; the bureau and
    operators see all nine."""
    keyset = paging.keyset(f"products:{tenant_code(seen)}")
    after = keyset.values(str, str)
    rows = products.list_products(session, seen, after=after, limit=paging.limit)
    return keyset.page(rows, lambda p: [p.bank_code, p.code], _product_out)


@router.get("/products/{code}", response_model=ProductOut, summary="One credit product")
def get_product(
    code: ProductPath, session: DbSession, _: LoansReader, seen: BanksVisible
) -> ProductOut:
    """Another bank's product is not found."""
    return _product_out(products.get_product(session, seen, code))


@router.get("/products/{code}/quote", response_model=Quote, summary="Eligibility quote")
def get_loan_quote(
    code: ProductPath,
    uscc: Annotated[Uscc, Query()],
    session: DbSession,
    _: LoansReader,
    seen: BanksVisible,
    as_of: AsOf,
) -> Quote:
    """Whether the enterprise qualifies now and for how much, with the reasons. `as_of`: with
    the product's terms, the enterprise's points and attributes, and the date, of that
    instant."""
    require_history(as_of, lambda: scoring.history_start(session))
    product, since = products.product_version(session, seen, code, as_of)
    on = today() if as_of is None else local_date(as_of)
    used = Versions(product_valid_from=since)
    return quotes.quote(session, product, uscc, on, at=as_of, versions=used)


@admin.put(
    "/banks/{code}",
    response_model=BankOut,
    responses=GOVERNED,
    summary="Create or rename a bank",
)
def put_bank(code: CodePath, body: BankIn, session: DbSession, gov: Governed) -> Any:
    """Bank codes are permanent: clients and applications refer to them. Governed (four
    eyes): 202 with the pending change unless INNOCREDIT_FOUR_EYES leaves `bank` out."""
    if gov.requires(BANK):
        return gov.propose(BANK, {"code": code, "name": body.name})
    return BankOut.model_validate(products.put_bank(session, code, body.name))


@admin.put(
    "/products/{code}",
    response_model=ProductOut,
    responses={**GOVERNED, **problems(409)},
    summary="Create or replace a product",
)
def put_product(code: ProductPath, body: ProductIn, session: DbSession, gov: Governed) -> Any:
    """A product stays with its bank; changing `bank_code` is refused (409). Governed (four
    eyes): 202 with the pending change unless INNOCREDIT_FOUR_EYES leaves `product` out."""
    if gov.requires(PRODUCT):
        return gov.propose(PRODUCT, {"code": code, "product": body.model_dump(mode="json")})
    return _product_out(products.put_product(session, code, body))
