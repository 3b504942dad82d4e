"""A product and two firms as plain rows, for the loans rules' unit tests (the quote, the
eligibility rule): no HTTP, no database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.loans.models import Product
from services.scoring.queries import EnterpriseFacts

ON = date(2026, 3, 9)
TIERS = [
    {"min_points": 100, "max_amount": "1000000.00"},
    {"min_points": 150, "max_amount": "3000000.00"},
    {"min_points": 200, "max_amount": "5000000.00"},
]


def product(**overrides: object) -> Product:
    values: dict[str, object] = {
        "code": "XEGQ",
        "bank_code": "TZB",
        "name": "鑫e高企",
        "min_points": 100,
        "eligible_categories": ["high_tech"],
        "limit_tiers": TIERS,
        "term_min_months": 6,
        "term_max_months": 36,
        "rate_min": Decimal("0.0300"),
        "rate_max": Decimal("0.0600"),
        "guarantee": True,
        "active_from": date(2025, 1, 1),
        "active_to": None,
    }
    return Product(**{**values, **overrides})


HIGH_TECH = EnterpriseFacts(
    "91321203MA1RXYL18X", "榕兴医疗", "高港区", "pharma", "growth", ("high_tech", "tech_sme")
)
SME_ONLY = EnterpriseFacts(
    "91321203MA1RXYL29X", "初创科技", "海陵区", "ict", "startup", ("tech_sme",)
)
