"""Demo data that tells Taizhou's story: 8,012 enterprises, 5 banks, 9 products, the first half
of 2026 with 662 disbursed loans totalling 4,112,000,000.00 yuan, consents for two credit
firms, API clients, and dashboard users (`users`, created by the command that loads the demo).

Everything goes through the services' own domain functions (bulk upserts, the points
recompute, `loans.submission.submit`, `loans.lifecycle.decide/disburse/report_repayment`,
consents), never around them, with a fixed seed so every load is the same.
"""

from __future__ import annotations

import random

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.demo.enterprises import enterprises_of, indicators_of, synthetic_indicators
from services.demo.loans import banks_and_products, loans_of_h1
from services.demo.parties import (
    BUREAU_USER,
    CHECKER_NAME,
    Credentials,
    DemoUser,
    clients,
    consents_for_firms,
    users,
)
from services.demo.story import (
    COUNTS,
    DISTRICT_CODES,
    ENTERPRISES,
    FIRMS,
    INDUSTRY_SUFFIX,
    RONGXING,
    SEED,
    SYLLABLES,
    Progress,
)
from services.scoring import indicators, recompute, registry
from services.scoring.models import Enterprise

__all__ = [
    "BUREAU_USER",
    "CHECKER_NAME",
    "COUNTS",
    "DISTRICT_CODES",
    "ENTERPRISES",
    "FIRMS",
    "INDUSTRY_SUFFIX",
    "RONGXING",
    "SYLLABLES",
    "Credentials",
    "DatabaseNotEmpty",
    "DemoUser",
    "is_empty",
    "load",
    "synthetic_indicators",
    "users",
]


class DatabaseNotEmpty(Exception):
    """Demo data only goes into an empty database."""


def is_empty(session: Session) -> bool:
    """Whether the points database has no enterprises yet."""
    return session.scalar(select(func.count()).select_from(Enterprise)) == 0


def load(session: Session, progress: Progress) -> list[Credentials]:
    """Fill an empty database with the demo; return the clients' credentials."""
    if not is_empty(session):
        raise DatabaseNotEmpty(
            "The database already has enterprises; demo data only goes into an empty database"
        )
    rng = random.Random(SEED)
    progress("enterprises")
    enterprises = enterprises_of(rng)
    registry.upsert_enterprises(session, enterprises)
    progress(f"indicators 2024 and 2025 for {len(enterprises)} enterprises")
    for period in (2024, 2025):
        indicators.upsert_indicators(session, period, indicators_of(enterprises, period))
    for period in (2024, 2025):
        progress(f"points {period} (default model)")
        recompute.recompute(session, period, model_version=None, requested_by="demo")
    progress("banks and products")
    banks_and_products(session)
    progress("first half of 2026: applications, decisions, disbursements")
    loans_of_h1(session, rng, enterprises, progress)
    progress("consents for two credit-reporting firms")
    consents_for_firms(session, rng, enterprises)
    progress("API clients")
    return clients(session)
