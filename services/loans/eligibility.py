"""The eligibility rule of a credit product, in one place: whether a firm with these
categories and points qualifies on a day, and for how much.

`services.loans.quotes.offer_for` explains it to one firm (every reason that applies);
`product_shifts` applies it to groups of firms under two sets of points, for the what-if
report of a draft points model (`shared.eligibility`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.loans.models import Product
from services.loans.products import list_products
from shared.auth.tenancy import BankVisibility
from shared.eligibility import PointsGroup, ProductLadder, ProductShift, Rung

NOTHING = Decimal("0.00")


def is_active(product: Product, on: date) -> bool:
    """Whether the product is offered on day `on` (`active_from` to `active_to`, inclusive)."""
    return product.active_from <= on and (product.active_to is None or on <= product.active_to)


def category_allowed(product: Product, categories: Collection[str]) -> bool:
    """Whether the firm has one of the product's categories (any firm when it names none)."""
    return not product.eligible_categories or bool(
        set(product.eligible_categories) & set(categories)
    )


def tier_reached(product: Product, points: int) -> dict[str, Any] | None:
    """The highest limit tier whose `min_points` the points reach, or None."""
    tiers = [t for t in product.limit_tiers if t["min_points"] <= points]
    return tiers[-1] if tiers else None


def tier_of(
    product: Product, categories: Collection[str], points: int, on: date
) -> tuple[bool, Decimal]:
    """(eligible, maximum amount) of a firm with `categories` and `points` on day `on`:
    eligible when the product is active, a category matches, the points reach `min_points`
    and a limit tier (the highest reached sets the maximum; 0.00 when not eligible)."""
    if not (is_active(product, on) and category_allowed(product, categories)):
        return False, NOTHING
    if points < product.min_points:
        return False, NOTHING
    tier = tier_reached(product, points)
    return (False, NOTHING) if tier is None else (True, Decimal(tier["max_amount"]))


def product_shifts(session: Session, on: date, groups: Sequence[PointsGroup]) -> list[ProductShift]:
    """Every product's eligibility before and after, over `groups` of firms, on day `on`
    (products in bank, code order)."""
    products = session.scalars(select(Product).order_by(Product.bank_code, Product.code)).all()
    return [shift_of(product, on, groups) for product in products]


def shift_of(product: Product, on: date, groups: Sequence[PointsGroup]) -> ProductShift:
    """One product's eligibility before and after over `groups` (the rule once per distinct
    categories and points)."""
    seen: dict[tuple[frozenset[str], int], tuple[bool, Decimal]] = {}

    def rule(categories: frozenset[str], points: int) -> tuple[bool, Decimal]:
        key = (categories, points)
        if key not in seen:
            seen[key] = tier_of(product, categories, points, on)
        return seen[key]

    before = after = gained = lost = up = down = 0
    amount_before = amount_after = NOTHING
    for group in groups:
        was, was_max = rule(group.categories, group.points_before)
        now, now_max = rule(group.categories, group.points_after)
        n = group.count
        before += n * was
        after += n * now
        gained += n * (now and not was)
        lost += n * (was and not now)
        up += n * (was and now and now_max > was_max)
        down += n * (was and now and now_max < was_max)
        amount_before += n * was_max
        amount_after += n * now_max
    return ProductShift(
        product_code=product.code,
        bank_code=product.bank_code,
        name=product.name,
        min_points=product.min_points,
        eligible_before=before,
        eligible_after=after,
        gained=gained,
        lost=lost,
        tier_up=up,
        tier_down=down,
        max_amount_before=amount_before,
        max_amount_after=amount_after,
    )


def product_ladders(
    session: Session, seen: BankVisibility, categories: Collection[str], on: date
) -> list[ProductLadder]:
    """The ladders of the products the caller sees, for a firm with `categories` on day `on`
    (products in bank, code order)."""
    return [ladder_of(product, categories, on) for product in list_products(session, seen)]


def ladder_of(product: Product, categories: Collection[str], on: date) -> ProductLadder:
    """A product's rungs for a firm: each limit tier from max(its `min_points`, the
    product's), the rule of `tier_of` (so the paths to a product's next tier follow it)."""
    rungs: dict[int, Decimal] = {}
    for tier in product.limit_tiers:
        rungs[max(int(tier["min_points"]), product.min_points)] = Decimal(tier["max_amount"])
    why_not: Literal["category", "inactive"] | None = None
    if not is_active(product, on):
        why_not = "inactive"
    elif not category_allowed(product, categories):
        why_not = "category"
    return ProductLadder(
        product_code=product.code,
        bank_code=product.bank_code,
        name=product.name,
        open_to_firm=why_not is None,
        why_not=why_not,
        rungs=tuple(Rung(p, a) for p, a in sorted(rungs.items())),
    )
