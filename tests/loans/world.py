"""The loans tests' small world (the `world` fixture, tests/loans/conftest.py): two banks,
their products, a strong and a weak enterprise with points, the banks', the bureau's and the
admin's tokens; and the bodies tests send in it."""

from __future__ import annotations

from dataclasses import dataclass

from tests.factories import bearer, product_body


@dataclass(frozen=True)
class World:
    bank_a: str
    bank_b: str
    product_a: str  # 鑫e高企-like, bank A, high-tech only, tiers 100/150/200 points
    product_b: str  # bank B, anyone with 80 points
    strong: str  # 174 points, high-tech
    weak: str  # 86 points, tech SME only
    token_a: str
    token_b: str
    bureau: str
    admin: str
    period: int  # the ranking the enterprises' points come from

    def a(self, key: str | None = None) -> dict[str, str]:
        headers = bearer(self.token_a)
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def b(self, key: str | None = None) -> dict[str, str]:
        headers = bearer(self.token_b)
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers


def product(bank: str, *, min_points: int, categories: list[str]) -> dict[str, object]:
    """A 鑫e高企-like product body (tests/factories.py `product_body`)."""
    return product_body(bank, min_points=min_points, eligible_categories=categories)


def application(w: World, **overrides: object) -> dict[str, object]:
    """An application's body: the strong firm asks for product A, 2 850 000 yuan for 12 months;
    `overrides` replace or add fields."""
    body: dict[str, object] = {
        "uscc": w.strong,
        "product_code": w.product_a,
        "amount": "2850000.00",
        "term_months": 12,
    }
    body.update(overrides)
    return body
