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
