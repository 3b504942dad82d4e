"""The demo's 8,012 enterprises and their indicators (synthetic, seeded; 泰州榕兴医疗 as
the article tells it)."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from services.demo.story import (
    COUNTS,
    DISTRICT_CODES,
    ENTERPRISES,
    HIGH_TECH_ALSO_SME,
    INDUSTRY_SUFFIX,
    RONGXING,
    SYLLABLES,
)
from services.scoring.schemas import EnterpriseIn, IndicatorIn
from shared.uscc import ALPHABET, check_char
from shared.vocab import DISTRICTS

# ---------------------------------------------------------------- enterprises


def _uscc(district: str, n: int) -> str:
    body = "91" + DISTRICT_CODES[district] + "MA"
    digits, k = [], n
    for _ in range(7):
        digits.append(ALPHABET[k % len(ALPHABET)])
        k //= len(ALPHABET)
    first17 = body + "".join(reversed(digits))
    return first17 + check_char(first17)


def _categories() -> list[list[str]]:
    """Exact counts per category; every gazelle, potential unicorn and leading innovator is a
    high-tech enterprise, and HIGH_TECH_ALSO_SME high-tech firms are also tech SMEs."""
    cats: list[list[str]] = [[] for _ in range(ENTERPRISES)]
    elite = (
        ["leading_innovator"] * COUNTS["leading_innovator"]
        + ["potential_unicorn"] * COUNTS["potential_unicorn"]
        + ["gazelle"] * COUNTS["gazelle"]
    )
    for i in range(COUNTS["high_tech"]):
        cats[i].append("high_tech")
        if i < len(elite):
            cats[i].append(elite[i])
        elif i < len(elite) + HIGH_TECH_ALSO_SME:
            cats[i].append("tech_sme")
    sme_only = COUNTS["tech_sme"] - HIGH_TECH_ALSO_SME
    for i in range(COUNTS["high_tech"], COUNTS["high_tech"] + sme_only):
        cats[i].append("tech_sme")
    return [sorted(c) for c in cats]


def enterprises_of(rng: random.Random) -> list[EnterpriseIn]:
    """The 8,012 enterprises: districts, industries, stages and the article's category counts."""
    industries = list(INDUSTRY_SUFFIX)
    weights = [30, 25, 20, 10, 10, 5]  # 大健康 leads the 1+4 system
    rows = [
        EnterpriseIn(
            uscc=RONGXING + check_char(RONGXING),
            name="泰州榕兴医疗用品股份有限公司",
            district="高港区",
            industry="health",
            stage="growth",
            categories=["high_tech", "tech_sme"],
            founded_on=date(2008, 3, 18),
        )
    ]
    names: set[str] = {rows[0].name}
    categories_of = _categories()
    # 榕兴医疗 takes one of the high-tech + tech-SME slots, so the counts stay exact.
    slot = categories_of.index(["high_tech", "tech_sme"])
    categories_of[0], categories_of[slot] = categories_of[slot], categories_of[0]
    for i, categories in enumerate(categories_of[1:], start=1):
        district = rng.choice(DISTRICTS)
        industry = rng.choices(industries, weights)[0]
        name = "泰州" + "".join(rng.sample(SYLLABLES, 2)) + INDUSTRY_SUFFIX[industry]
        while name in names:  # 2 syllables run out for 8,000 names: add a third
            name = "泰州" + "".join(rng.sample(SYLLABLES, 3)) + INDUSTRY_SUFFIX[industry]
        names.add(name)
        elite = bool(set(categories) & {"gazelle", "potential_unicorn", "leading_innovator"})
        stage = (
            "mature"
            if "leading_innovator" in categories
            else "growth"
            if elite
            else rng.choices(["seed", "startup", "growth", "mature"], [5, 30, 45, 20])[0]
        )
        founded = date(rng.randint(1995, 2024), rng.randint(1, 12), rng.randint(1, 28))
        rows.append(
            EnterpriseIn(
                uscc=_uscc(district, 100_000 + i * 7919),
                name=name,
                district=district,
                industry=industry,
                stage=stage,
                categories=categories,
                founded_on=founded,
            )
        )
    return rows


def _money(value: float) -> Decimal:
    return Decimal(int(value)).quantize(Decimal("0.01"))


def indicators_of(enterprises: list[EnterpriseIn], period: int) -> list[IndicatorIn]:
    """Every enterprise's indicators for `period` (泰州榕兴医疗's as the article gives them)."""
    return [
        rongxing_indicators(period)
        if e.name.startswith("泰州榕兴")
        else synthetic_indicators(e.uscc, e.categories, period)
        for e in enterprises
    ]


def synthetic_indicators(uscc: str, categories: Iterable[str], period: int) -> IndicatorIn:
    """One enterprise-year of the demo's synthetic indicators: stronger categories get more
    of everything; stable per enterprise and year (bench/export.py generates with it too)."""
    cats = set(categories)
    strength = (
        4.0
        if cats & {"leading_innovator", "potential_unicorn"}
        else 3.0
        if "gazelle" in cats
        else 2.0
        if "high_tech" in cats
        else 1.2
        if "tech_sme" in cats
        else 0.7
    )
    local = random.Random(f"{uscc}:{period}")  # per enterprise and year, stable
    growth = 1 + local.uniform(-0.05, 0.35) if period == 2025 else 1.0
    base = random.Random(uscc)
    revenue = base.lognormvariate(17.2, 0.9) * strength * growth
    intensity = min(0.25, base.uniform(0.01, 0.07) * strength**0.7)
    staff = max(8, int(revenue / base.uniform(600_000, 1_200_000)))
    rd_staff = min(staff, int(staff * min(0.6, base.uniform(0.05, 0.25) * strength**0.5)))
    return IndicatorIn(
        uscc=uscc,
        invention_patents=int(base.expovariate(1 / (1.5 * strength**1.6))),
        utility_models=int(base.expovariate(1 / (3 * strength))),
        software_copyrights=int(base.expovariate(1 / (1.5 * strength))),
        rd_expense=_money(revenue * intensity),
        revenue=_money(revenue),
        rd_staff=rd_staff,
        total_staff=staff,
        equity_financing=_money(base.lognormvariate(16, 1.2) * strength)
        if base.random() < 0.15 * strength
        else Decimal("0.00"),
        awards_provincial=int(base.random() < 0.08 * strength),
        awards_national=int(base.random() < 0.01 * strength**2),
        jbgs_funds_paid=_money(local.uniform(1_000_000, 8_000_000))
        if period == 2025 and local.random() < 0.004 * strength
        else Decimal("0.00"),
    )


def rongxing_indicators(period: int) -> IndicatorIn:
    """榕兴医疗: exactly 188 points in 2025 under the default model (see README)."""
    uscc = RONGXING + check_char(RONGXING)
    if period == 2024:
        return IndicatorIn(
            uscc=uscc,
            invention_patents=4,
            utility_models=7,
            software_copyrights=3,
            rd_expense=Decimal("4800000.00"),
            revenue=Decimal("70000000.00"),
            rd_staff=28,
            total_staff=140,
            equity_financing=Decimal("0.00"),
            awards_provincial=0,
        )
    return IndicatorIn(
        uscc=uscc,
        invention_patents=5,
        utility_models=8,
        software_copyrights=4,
        rd_expense=Decimal("6000000.00"),
        revenue=Decimal("86000000.00"),
        rd_staff=32,
        total_staff=150,
        equity_financing=Decimal("12000000.00"),
        awards_provincial=1,
    )
