"""A guaranteed submission's 泰信保 fee: the answer guarantee's own quote gives, decided on the
enterprise and latest points the submission has already read, so each row is read once.

Each case submits inside a transaction that is rolled back (its fee rate with it), for an
enterprise ranked in fresh periods around the loan's year Y: the waiver rests on period Y − 1,
and the enterprise's latest points may be of Y − 1, before it or after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.guarantee import fees, waiver
from services.loans.applications import Actor
from services.loans.schemas import ApplicationIn
from services.loans.submission import submit
from services.scoring import queries as scoring
from shared.auth.tenancy import OneBank
from shared.clock import frozen_at
from tests.factories import A_INDICATORS, B_INDICATORS, Factory, indicators
from tests.periods import PeriodPool


@dataclass(frozen=True)
class Case:
    """An enterprise, the loan's year, and what the waiver must say and cost in reads."""

    uscc: str
    year: int
    reason: str
    ranking_period: int | None
    scoring_reads: int  # statements on sc_* tables in the whole submission


def _latest_is_the_prior_period(factory: Factory, periods: PeriodPool) -> Case:
    p = periods.fresh(following=True)
    [a] = factory.ranked(p, [A_INDICATORS])
    return Case(a, p + 1, "top-100", p, 2)  # the enterprise and its latest points: nothing more


def _latest_before_a_ranking_without_it(factory: Factory, periods: PeriodPool) -> Case:
    p = periods.fresh(previous=True, following=True)
    [a] = factory.ranked(p - 1, [A_INDICATORS])
    factory.ranked(p, [B_INDICATORS])
    return Case(a, p + 1, "not-ranked", p, 3)  # + whether Y − 1 has a ranking


def _latest_before_no_ranking(factory: Factory, periods: PeriodPool) -> Case:
    p = periods.fresh(previous=True, following=True)
    [a] = factory.ranked(p - 1, [A_INDICATORS])
    return Case(a, p + 1, "ranking-unavailable", None, 3)


def _latest_after_and_ranked_before(factory: Factory, periods: PeriodPool) -> Case:
    p = periods.fresh(previous=True)
    [a] = factory.ranked(p - 1, [A_INDICATORS])
    factory.indicators(p, [indicators(a, **A_INDICATORS)])
    factory.recompute(p)
    return Case(a, p, "top-100", p - 1, 4)  # + the ranking and the points of Y − 1


def _latest_after_and_not_ranked_before(factory: Factory, periods: PeriodPool) -> Case:
    p = periods.fresh(previous=True)
    factory.ranked(p - 1, [B_INDICATORS])
    [a] = factory.ranked(p, [A_INDICATORS])
    return Case(a, p, "not-ranked", p - 1, 4)


def _latest_after_no_ranking_before(factory: Factory, periods: PeriodPool) -> Case:
    p = periods.fresh(previous=True)
    [a] = factory.ranked(p, [A_INDICATORS])
    return Case(a, p, "ranking-unavailable", None, 3)


CASES: dict[str, Callable[[Factory, PeriodPool], Case]] = {
    "latest points of Y-1": _latest_is_the_prior_period,
    "latest points before Y-1, Y-1 ranked without them": _latest_before_a_ranking_without_it,
    "latest points before Y-1, Y-1 not ranked": _latest_before_no_ranking,
    "latest points after Y-1, ranked in Y-1": _latest_after_and_ranked_before,
    "latest points after Y-1, not in Y-1's ranking": _latest_after_and_not_ranked_before,
    "latest points after Y-1, Y-1 not ranked": _latest_after_no_ranking_before,
}


@contextmanager
def _scoring_reads(engine: Engine) -> Iterator[list[str]]:
    """The statements on scoring's tables (sc_*) executed meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if " sc_" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("situation", CASES)
def test_the_fee_is_guarantees_quote_on_rows_read_once(
    situation: str,
    factory: Factory,
    periods: PeriodPool,
    db: sessionmaker[Session],
    engine: Engine,
) -> None:
    case = CASES[situation](factory, periods)
    bank = factory.bank()
    product = factory.product(bank, min_points=1)
    data = ApplicationIn.model_validate(
        {
            "uscc": case.uscc,
            "product_code": product,
            "amount": "1000000.00",
            "term_months": 7,
            "submitted_at": datetime(case.year, 6, 1, 2, tzinfo=UTC).isoformat(),
        }
    )
    with db() as session:
        try:
            fees.set_fee_rate(session, case.year, Decimal("0.0120"), "test", "test")
            # The pool's periods run past this year: submit as the loan's year sees it, or a
            # June of a year to come would be a submission from the future.
            with (
                frozen_at(datetime(case.year, 6, 2, tzinfo=UTC)),
                _scoring_reads(engine) as reads,
            ):
                app = submit(session, OneBank(bank), data, Actor("test", None))
            expected = fees.quote(session, case.uscc, data.amount, data.term_months, case.year)
            facts = scoring.enterprise(session, case.uscc)
            assert facts is not None
            latest = scoring.current_points(session, case.uscc)
            given = waiver.waiver_given(session, facts, latest, case.year)
        finally:
            session.rollback()

    assert app.guarantee_fee == {
        "year": case.year,
        "fee_rate": "0.0120",
        "fee": "7000.00",
        "waived": expected.waived,
        "payable_fee": f"{expected.payable_fee}",
        "waiver_reason": expected.waiver.reason,
        "ranking_period": expected.waiver.ranking_period,
        "rank": expected.waiver.rank,
    }
    assert given == expected.waiver  # rank_total and model version too
    assert (expected.waiver.reason, expected.waiver.ranking_period) == (
        case.reason,
        case.ranking_period,
    )
    assert sum("FROM sc_enterprise" in s for s in reads) == 1, reads
    assert len(reads) == case.scoring_reads, reads
