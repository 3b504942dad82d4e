"""What a change of points does to the credit products: the shape of the answer scoring asks
for and loans gives.

Scoring may not read loans (the import contracts), yet a draft model's impact report names
the firms that would gain or lose each product. So the composition root (`services.runtime`)
hands the scoring app loans' `product_shifts` as a `ProductShifts`, as it hands the gateway
`bank_exists`; this module is the neutral ground both sides name.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from sqlalchemy.orm import Session

from shared.auth.tenancy import BankVisibility


@dataclass(frozen=True, slots=True)
class PointsGroup:
    """Firms with the same categories and the same points before and after a change."""

    categories: frozenset[str]
    points_before: int
    points_after: int
    count: int


@dataclass(frozen=True, slots=True)
class ProductShift:
    """One product's eligibility before and after a change of points, over the same firms:
    how many qualify, how many gain or lose it, how many reach a higher or lower limit tier
    (eligible both times), and the sum of their maximum amounts (yuan)."""

    product_code: str
    bank_code: str
    name: str
    min_points: int
    eligible_before: int
    eligible_after: int
    gained: int
    lost: int
    tier_up: int
    tier_down: int
    max_amount_before: Decimal
    max_amount_after: Decimal


ProductShifts = Callable[[Session, date, Sequence[PointsGroup]], list[ProductShift]]
"""Every product's shift on day `on` for the groups of firms given (loans' `product_shifts`)."""


@dataclass(frozen=True, slots=True)
class Rung:
    """Points from which a product gives a firm at most `max_amount` (yuan)."""

    points: int
    max_amount: Decimal


@dataclass(frozen=True, slots=True)
class ProductLadder:
    """A product's rungs for a firm: the points of each limit tier it can reach, ascending
    (`open_to_firm` false, with `why_not`, when the firm cannot have it whatever its points)."""

    product_code: str
    bank_code: str
    name: str
    open_to_firm: bool
    why_not: Literal["category", "inactive"] | None
    rungs: tuple[Rung, ...]


ProductLadders = Callable[[Session, BankVisibility, Collection[str], date], list[ProductLadder]]
"""The ladders of the products a caller sees, for a firm's categories on a day (loans'
`product_ladders`)."""
