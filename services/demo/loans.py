"""The demo's banks, products and the first half of 2026: 662 disbursed loans of
4,112,000,000.00 yuan, rejections and withdrawals, through the loans domain functions."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from services.demo.story import (
    BANKS,
    DISBURSED_LOANS,
    DISBURSED_TOTAL,
    H1,
    PRODUCTS,
    TIERS,
    Progress,
)
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
from services.scoring import queries as scoring_queries
from services.scoring.schemas import EnterpriseIn
from shared.auth.tenancy import AllBanks, OneBank
from shared.clock import SHANGHAI

# ---------------------------------------------------------------- loans


def banks_and_products(session: Session) -> None:
    """The five partner banks and their nine products, through the loans domain functions."""
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


def loans_of_h1(
    session: Session, rng: random.Random, enterprises: list[EnterpriseIn], progress: Progress
) -> None:
    """The first half of 2026: the 662 disbursed loans summing to the article's total (榕兴医疗's
    2,850,000.00 among them), then rejections and withdrawals."""
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
