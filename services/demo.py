"""Demo data that tells Taizhou's story: 8,012 enterprises, 5 banks, 9 products, the first half
of 2026 with 662 disbursed loans totalling 4,112,000,000.00 yuan, consents for two credit
firms, and API clients.

Everything goes through the services' own domain functions (bulk upserts, the points
recompute, `loans.submission.submit`, `loans.lifecycle.decide/disburse/report_repayment`,
consents), never around them, with a fixed seed so every load is the same.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.gateway import service as gateway
from services.gateway.schemas import ClientCreate
from services.guarantee import consents
from services.guarantee.schemas import ConsentIn
from services.loans import lifecycle, products, submission
from services.loans.applications import Actor
from services.loans.calendar import WorkCalendar
from services.loans.quotes import offer_for
from services.loans.schemas import (
    ApplicationIn,
    DecisionIn,
    DisbursementIn,
    ProductIn,
    RepaymentIn,
)
from services.scoring import indicators, recompute, registry
from services.scoring import queries as scoring_queries
from services.scoring.models import Enterprise
from services.scoring.schemas import EnterpriseIn, IndicatorIn
from shared.auth.tenancy import AllBanks, OneBank
from shared.clock import SHANGHAI
from shared.uscc import ALPHABET, check_char
from shared.vocab import DISTRICTS

SEED = 2026
ENTERPRISES = 8012
COUNTS = {
    "tech_sme": 3895,
    "high_tech": 1601,
    "gazelle": 33,
    "potential_unicorn": 10,
    "leading_innovator": 10,
}
HIGH_TECH_ALSO_SME = 900  # documented overlap: high-tech firms that are also tech SMEs
DISBURSED_LOANS = 662
DISBURSED_TOTAL = Decimal("4112000000.00")
H1 = (date(2026, 1, 5), date(2026, 6, 19))
RONGXING = "91321203MA1RXYL18"  # + check digit
FIRMS = ("ZXPJ", "XYTZ")

DISTRICT_CODES = {
    "海陵区": "321202",
    "高港区": "321203",
    "姜堰区": "321204",
    "兴化市": "321281",
    "靖江市": "321282",
    "泰兴市": "321283",
}
INDUSTRY_SUFFIX = {
    "health": "医药科技有限公司",
    "equipment": "精密机械有限公司",
    "materials": "新材料科技有限公司",
    "energy": "新能源科技有限公司",
    "ict": "信息技术有限公司",
    "other": "实业有限公司",
}
SYLLABLES = "华瑞康科达恒泰兴盛鑫源通宏博创新中金嘉安远航天海润丰益诚信和美"

BANKS = {
    "TZBANK": "泰州银行",
    "JSBANK": "江苏银行",
    "BOCTZ": "中国银行泰州分行",
    "ICBCTZ": "工商银行泰州分行",
    "ABCTZ": "农业银行泰州分行",
}
# code: (bank, name, min_points, categories, guarantee)
PRODUCTS: dict[str, tuple[str, str, int, list[str], bool]] = {
    "XEGQ": ("TZBANK", "鑫e高企", 100, ["high_tech"], True),
    "TZKD": ("TZBANK", "泰科贷", 60, [], True),
    "SKD": ("JSBANK", "苏科贷", 80, ["tech_sme", "high_tech"], False),
    "ZYKJD": ("BOCTZ", "中银科技贷", 90, [], False),
    "KCD": ("ICBCTZ", "科创贷", 100, [], False),
    "CXJFD": ("ICBCTZ", "创新积分贷", 70, [], True),
    "KJED": ("ABCTZ", "科技e贷", 80, [], False),
    "JFD": ("ABCTZ", "积分贷", 60, [], True),
    "DLD": ("ABCTZ", "瞪羚贷", 150, ["gazelle", "potential_unicorn", "leading_innovator"], False),
}
TIERS = [(120, "5000000.00"), (150, "8000000.00"), (200, "15000000.00"), (250, "25000000.00")]

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Credentials:
    """A client created for the demo (its secret is shown once)."""

    name: str
    role: str
    client_id: str
    client_secret: str


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
    enterprises = _enterprises(rng)
    registry.upsert_enterprises(session, enterprises)
    progress(f"indicators 2024 and 2025 for {len(enterprises)} enterprises")
    for period in (2024, 2025):
        indicators.upsert_indicators(session, period, _indicators(enterprises, period))
    for period in (2024, 2025):
        progress(f"points {period} (default model)")
        recompute.recompute(session, period, model_version=None, requested_by="demo")
    progress("banks and products")
    _banks_and_products(session)
    progress("first half of 2026: applications, decisions, disbursements")
    _loans(session, rng, enterprises, progress)
    progress("consents for two credit-reporting firms")
    _consents(session, rng, enterprises)
    progress("API clients")
    return _clients(session)


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


def _enterprises(rng: random.Random) -> list[EnterpriseIn]:
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


def _indicators(enterprises: list[EnterpriseIn], period: int) -> list[IndicatorIn]:
    return [
        _rongxing(period)
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


def _rongxing(period: int) -> IndicatorIn:
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


# ---------------------------------------------------------------- loans


def _banks_and_products(session: Session) -> None:
    for code, name in BANKS.items():
        products.put_bank(session, code, name)
    for code, (bank, name, min_points, categories, guarantee_applies) in PRODUCTS.items():
        tiers = [{"min_points": min_points, "max_amount": "2000000.00"}]
        tiers += [{"min_points": p, "max_amount": a} for p, a in TIERS if p > min_points]
        products.put_product(
            session,
            code,
            ProductIn.model_validate(
                {
                    "bank_code": bank,
                    "name": name,
                    "min_points": min_points,
                    "eligible_categories": categories,
                    "limit_tiers": tiers,
                    "term_min_months": 6,
                    "term_max_months": 36,
                    "rate_min": "0.0300",
                    "rate_max": "0.0550",
                    "guarantee": guarantee_applies,
                    "active_from": "2025-01-01",
                }
            ),
        )


def _amounts(rng: random.Random, maxima: list[Decimal]) -> list[Decimal]:
    """Amounts in steps of 10,000 yuan, each within its quote, summing to DISBURSED_TOTAL."""
    step = Decimal("10000")
    amounts = [
        min(m, (m * Decimal(rng.uniform(0.35, 0.9)) / step).to_integral_value() * step)
        for m in maxima
    ]
    total = sum(amounts, Decimal(0))
    order = list(range(len(amounts)))
    while total != DISBURSED_TOTAL:
        rng.shuffle(order)
        moved = False
        for i in order:
            if total < DISBURSED_TOTAL and amounts[i] + step <= maxima[i]:
                amounts[i] += step
            elif total > DISBURSED_TOTAL and amounts[i] - step >= Decimal("500000"):
                amounts[i] -= step
            else:
                continue
            total += step if total < DISBURSED_TOTAL else -step
            moved = True
            if total == DISBURSED_TOTAL:
                break
        if not moved:
            raise RuntimeError("the demo borrowers' quotes cannot reach the H1 total")
    return amounts


def _business_moment(rng: random.Random, day: date) -> datetime:
    return datetime.combine(day, time(rng.randint(8, 17), rng.randint(0, 59)), tzinfo=SHANGHAI)


def _loans(
    session: Session, rng: random.Random, enterprises: list[EnterpriseIn], progress: Progress
) -> None:
    calendar = WorkCalendar()
    days = [H1[0] + timedelta(days=d) for d in range((H1[1] - H1[0]).days + 1)]
    workdays = [d for d in days if calendar.is_working_day(d)]
    by_uscc = {e.uscc: e for e in enterprises}
    ranking = [s for s in scoring_queries.top(session, 2025, len(enterprises)) if s.points >= 100]
    ranked = [(snap.points, by_uscc[snap.uscc]) for snap in ranking]
    rongxing = next(e for _, e in ranked if e.name.startswith("泰州榕兴"))
    snapshots = {snap.uscc: snap for snap in ranking}
    catalogue = products.list_products(session, AllBanks())

    def offers(e: EnterpriseIn) -> list[tuple[str, Decimal]]:
        """What each product would lend: the quote rule a submission applies, in H1."""
        facts = scoring_queries.EnterpriseFacts(
            e.uscc, e.name, e.district, e.industry, e.stage, tuple(e.categories)
        )
        found = [offer_for(p, facts, snapshots[e.uscc], H1[0]) for p in catalogue]
        return [(q.product_code, q.max_amount) for q in found if q.eligible]

    borrowers = [rongxing, *[e for _, e in ranked if e is not rongxing][: DISBURSED_LOANS - 1]]
    plans = []
    for e in borrowers:
        choices = offers(e)
        best = max(m for _, m in choices)
        code = "XEGQ" if e is rongxing else rng.choice([c for c, m in choices if m == best])
        plans.append((e, code, best))
    amounts = _amounts(rng, [Decimal("2850000.00") if e is rongxing else m for e, _, m in plans[:]])
    # 榕兴医疗's loan is exactly 2,850,000.00; the others absorb the difference.
    amounts = _pin_rongxing(amounts, [m for _, _, m in plans])

    others = [e for _, e in ranked[len(borrowers) :]] or [e for _, e in ranked]
    for n, ((e, code, _), amount) in enumerate(zip(plans, amounts, strict=True)):
        day = date(2026, 3, 9) if e is rongxing else rng.choice(workdays[:-6])
        _one_loan(
            session,
            rng,
            calendar,
            e.uscc,
            code,
            amount,
            day,
            "approved",
            pinned_days=1 if e is rongxing else None,
        )
        if n % 100 == 0:
            progress(f"  {n}/{DISBURSED_LOANS} disbursed loans")
    for outcome, count in (("rejected", 143), ("withdrawn", 37)):
        for _ in range(count):
            e = rng.choice(others)
            choices = offers(e)
            if not choices:
                continue
            code, best = rng.choice(choices)
            amount = min(best, Decimal(rng.randrange(50, 300)) * 10000)
            _one_loan(session, rng, calendar, e.uscc, code, amount, rng.choice(workdays), outcome)


def _pin_rongxing(amounts: list[Decimal], maxima: list[Decimal]) -> list[Decimal]:
    difference = amounts[0] - Decimal("2850000.00")
    amounts[0] = Decimal("2850000.00")
    step = Decimal("10000")
    i = 1
    while difference != 0:
        if difference > 0 and amounts[i] + step <= maxima[i]:
            amounts[i] += step
            difference -= step
        elif difference < 0 and amounts[i] - step >= Decimal("500000"):
            amounts[i] -= step
            difference += step
        i = i % (len(amounts) - 1) + 1
    return amounts


def _one_loan(
    session: Session,
    rng: random.Random,
    calendar: WorkCalendar,
    uscc: str,
    code: str,
    amount: Decimal,
    day: date,
    outcome: str,
    pinned_days: int | None = None,
) -> None:
    bank = PRODUCTS[code][0]
    acting, actor = OneBank(bank), Actor(client_id="demo", request_id=None)
    submitted = _business_moment(rng, day)
    app = submission.submit(
        session,
        acting,
        ApplicationIn(
            uscc=uscc,
            product_code=code,
            amount=amount,
            term_months=rng.choice([12, 12, 24, 36]),
            submitted_at=submitted,
        ),
        actor,
    )
    if outcome == "withdrawn":
        lifecycle.withdraw(session, acting, app.id, actor)
        return
    # Most decisions within two working days, some late.
    days = (
        pinned_days
        if pinned_days is not None
        else rng.choices([0, 1, 2, 3, 4, 6], [10, 45, 33, 7, 3, 2])[0]
    )
    decided_day = calendar.add_working_days(day, days)[0] if days else day
    decided = _business_moment(rng, decided_day).replace(hour=18 if days == 0 else 16)
    if outcome == "rejected":
        lifecycle.decide(
            session,
            acting,
            app.id,
            DecisionIn(outcome="rejected", reason_codes=["risk"], decided_at=decided),
            actor,
        )
        return
    rate = Decimal(rng.choice(["0.0345", "0.0365", "0.0385", "0.0420"]))
    lifecycle.decide(
        session,
        acting,
        app.id,
        DecisionIn(
            outcome="approved",
            approved_amount=amount,
            annual_rate=rate,
            reason_codes=["points"],
            decided_at=decided,
        ),
        actor,
    )
    lifecycle.disburse(
        session,
        acting,
        app.id,
        DisbursementIn(
            amount=amount,
            disbursed_at=decided + timedelta(hours=1),
            reference=f"{bank}-{app.id.hex[:10]}",
        ),
        actor,
    )
    roll = rng.random()
    if roll < 0.03:
        lifecycle.report_repayment(
            session,
            acting,
            app.id,
            RepaymentIn(status="overdue", outstanding_principal=amount, as_of=date(2026, 10, 31)),
            actor,
        )
    elif roll < 0.10:
        lifecycle.report_repayment(
            session,
            acting,
            app.id,
            RepaymentIn(
                status="repaid", outstanding_principal=Decimal("0.00"), as_of=date(2026, 11, 1)
            ),
            actor,
        )


# ---------------------------------------------------------------- consents and clients


def _consents(session: Session, rng: random.Random, enterprises: list[EnterpriseIn]) -> None:
    granted = datetime(2026, 2, 1, 9, tzinfo=UTC)
    for firm, share in zip(FIRMS, (0.30, 0.20), strict=True):
        consents.grant_many(
            session,
            [
                ConsentIn(
                    uscc=e.uscc,
                    firm_code=firm,
                    granted_at=granted,
                    evidence_ref=f"授权书-{firm}-{e.uscc[-6:]}",
                )
                for e in enterprises
                if rng.random() < share or e.name.startswith("泰州榕兴")
            ],
            by="demo",
        )


def _clients(session: Session) -> list[Credentials]:
    wanted = [
        ClientCreate(name=f"{name} loan system", role="bank", bank_code=code)
        for code, name in BANKS.items()
    ]
    wanted.append(ClientCreate(name="泰州市科技局 dashboard", role="bureau"))
    wanted += [
        ClientCreate(name=f"{firm} credit model", role="credit_firm", firm_code=firm)
        for firm in FIRMS
    ]
    out = []
    for data in wanted:
        client, secret = gateway.create_client(session, data)
        out.append(Credentials(data.name, data.role, client.client_id, secret))
    return out
