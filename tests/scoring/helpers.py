"""Build enterprises and indicator rows for scoring tests."""

from __future__ import annotations

import random
from typing import Any

from shared.uscc import ALPHABET, check_char

_rng = random.Random()


def new_uscc() -> str:
    """A fresh, valid 统一社会信用代码."""
    body = "913212" + "".join(_rng.choice(ALPHABET) for _ in range(11))
    return body + check_char(body)


def enterprise(uscc: str | None = None, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "uscc": uscc or new_uscc(),
        "name": "测试企业",
        "district": "海陵区",
        "industry": "health",
        "stage": "growth",
        "categories": ["tech_sme"],
        "founded_on": "2015-06-01",
    }
    row.update(overrides)
    return row


def indicators(uscc: str, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "uscc": uscc,
        "invention_patents": 0,
        "utility_models": 0,
        "software_copyrights": 0,
        "rd_expense": "0.00",
        "revenue": "0.00",
        "rd_staff": 0,
        "total_staff": 10,
        "equity_financing": "0.00",
        "awards_provincial": 0,
        "awards_national": 0,
        "jbgs_funds_paid": "0.00",
    }
    row.update(overrides)
    return row


# Worked example (also in the README): growth stage, 高新技术企业 + 科技型中小企业.
A_INDICATORS = {
    "invention_patents": 3,  # 3 × 10 = 30
    "utility_models": 4,  # 4 × 2 = 8
    "software_copyrights": 7,  # 7 × 2 = 14, capped at 10
    "rd_expense": "10000000.00",  # 8 × log10(1e7 / 1e5) = 16
    "revenue": "100000000.00",  # 10 × log10(1e8 / 1e6) = 20; R&D intensity 0.10 → 30
    "rd_staff": 25,
    "total_staff": 100,  # R&D staff ratio 0.25 → 10
    "equity_financing": "10000000.00",  # 5 × log10(1e7 / 1e6) = 5
    "awards_provincial": 1,  # 5
    "awards_national": 0,  # 0
}
A_PREVIOUS_REVENUE = "80000000.00"  # growth 25% → 15
A_POINTS = 30 + 8 + 10 + 16 + 30 + 10 + 20 + 15 + 5 + 5 + 0 + 5 + 20  # bonuses 5 + 20 → 174

# Start-up stage, no previous period: stage weights 1.2 on patents and R&D intensity, 0.8 on
# revenue; revenue growth cannot be derived (0 points, and the breakdown says why).
B_INDICATORS = {
    "invention_patents": 2,  # 2 × 10 × 1.2 = 24
    "rd_expense": "1000000.00",  # 8 × log10(10) = 8; intensity 0.10 → 30 × 1.2 = 36
    "revenue": "10000000.00",  # 10 × log10(10) × 0.8 = 8
    "rd_staff": 5,
    "total_staff": 50,  # 0.10 → 5
}
B_POINTS = 24 + 8 + 36 + 5 + 8 + 5  # tech_sme bonus → 86
