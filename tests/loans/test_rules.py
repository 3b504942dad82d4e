"""The loans service's pure rules, without HTTP or a database: the quote, the deadline
across China's calendar (what test_calendar.py does not cover yet), the status table and
`If-Match`."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import pytest

from services.loans.api.writes import IfMatch, etag
from services.loans.calendar import WorkCalendar, YearSchedule
from services.loans.errors import WrongTransition
from services.loans.models import Application
from services.loans.quotes import offer_for
from services.loans.schemas import Quote
from services.loans.status import TRANSITIONS, Move, Status, after
from services.scoring.queries import PointsSnapshot
from shared.clock import SHANGHAI
from shared.errors import PreconditionFailed
from tests.loans.rule_examples import HIGH_TECH, ON, SME_ONLY, product

# ---------------------------------------------------------------- the quote rule


def points(n: int) -> PointsSnapshot:
    return PointsSnapshot(HIGH_TECH.uscc, 2025, "TZ-2025.1", n, 12, 8012)


def codes(quote: Quote) -> list[str]:
    return [r.code for r in quote.reasons]


def test_the_highest_tier_reached_sets_the_maximum() -> None:
    quote = offer_for(product(), HIGH_TECH, points(174), ON)
    assert quote.eligible is True
    assert quote.max_amount == Decimal("3000000.00")
    assert codes(quote) == ["tier-applied"]
    assert quote.reasons[0].message == "tier from 150 points: up to 3000000.00 yuan"
    assert (quote.product_code, quote.uscc) == ("XEGQ", HIGH_TECH.uscc)
    assert (quote.points, quote.rank, quote.period, quote.model_version) == (
        174,
        12,
        2025,
        "TZ-2025.1",
    )


@pytest.mark.parametrize(
    ("n", "max_amount"),
    [
        (100, "1000000.00"),  # exactly the product's minimum: the first tier
        (149, "1000000.00"),
        (150, "3000000.00"),  # a tier's own minimum reaches it
        (199, "3000000.00"),
        (200, "5000000.00"),
        (100_000, "5000000.00"),
    ],
)
def test_tier_boundaries_are_inclusive(n: int, max_amount: str) -> None:
    quote = offer_for(product(), HIGH_TECH, points(n), ON)
    assert quote.eligible is True
    assert quote.max_amount == Decimal(max_amount)


def test_one_point_below_the_minimum_is_ineligible() -> None:
    quote = offer_for(product(), HIGH_TECH, points(99), ON)
    assert quote.eligible is False
    assert quote.max_amount == Decimal("0.00")
    assert codes(quote) == ["below-min-points"]
    assert quote.reasons[0].message == "99 points; XEGQ needs 100"
    assert quote.points == 99


def test_no_points_in_any_ranking() -> None:
    quote = offer_for(product(), HIGH_TECH, None, ON)
    assert quote.eligible is False
    assert codes(quote) == ["no-points"]
    assert (quote.points, quote.rank, quote.period, quote.model_version) == (None,) * 4
    assert quote.max_amount == Decimal("0.00")


def test_a_missing_category_is_ineligible_whatever_the_points() -> None:
    quote = offer_for(product(), SME_ONLY, points(250), ON)
    assert quote.eligible is False
    assert quote.max_amount == Decimal("0.00")  # a tier was reached, but it does not apply
    assert codes(quote) == ["category-missing"]
    assert quote.reasons[0].message == "needs one of: high_tech"


def test_a_product_without_categories_takes_anyone() -> None:
    quote = offer_for(product(eligible_categories=[]), SME_ONLY, points(120), ON)
    assert quote.eligible is True
    assert quote.max_amount == Decimal("1000000.00")


def test_points_between_the_minimum_and_the_lowest_tier_reach_no_tier() -> None:
    quote = offer_for(product(min_points=80), HIGH_TECH, points(90), ON)
    assert quote.eligible is False
    assert codes(quote) == ["no-tier"]
    assert quote.max_amount == Decimal("0.00")


@pytest.mark.parametrize(
    ("on", "active"),
    [
        (date(2024, 12, 31), False),
        (date(2025, 1, 1), True),  # the first day counts
        (date(2025, 6, 30), True),  # so does the last
        (date(2025, 7, 1), False),
    ],
)
def test_a_product_is_offered_from_its_first_to_its_last_day(on: date, active: bool) -> None:
    limited = product(active_to=date(2025, 6, 30))
    quote = offer_for(limited, HIGH_TECH, points(174), on)
    assert quote.eligible is active
    if not active:
        assert codes(quote) == ["product-inactive"]
        assert quote.reasons[0].message == "XEGQ is offered from 2025-01-01 to 2025-06-30"
        assert quote.max_amount == Decimal("0.00")


def test_every_reason_is_given_in_order() -> None:
    quote = offer_for(product(active_from=date(2027, 1, 1)), SME_ONLY, points(40), ON)
    assert codes(quote) == ["product-inactive", "category-missing", "below-min-points"]
    assert quote.reasons[0].message == "XEGQ is offered from 2027-01-01"  # no end date


# ---------------------------------------------------------------- the deadline

CAL = WorkCalendar()


def due_at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T23:59:59+08:00")


def deadline(moment: str, calendar: WorkCalendar = CAL) -> tuple[datetime, bool]:
    found = calendar.decision_deadline(datetime.fromisoformat(moment))
    return found.due_at, found.provisional


def test_spring_festival_is_skipped_and_its_make_up_saturday_counts() -> None:
    # 2026: 15-23 February off, Saturday 14 February a make-up working day.
    assert deadline("2026-02-13T10:00:00+08:00") == (due_at("2026-02-24"), False)
    assert deadline("2026-02-14T10:00:00+08:00") == (due_at("2026-02-25"), False)
    assert CAL.working_days_between(date(2026, 2, 13), date(2026, 2, 24)) == (2, False)
    assert CAL.working_days_between(date(2026, 2, 14), date(2026, 2, 23)) == (0, False)


def test_a_make_up_saturday_counts_between_two_days() -> None:
    # Saturday 10 October 2026 is a working day; Sunday 11 October is not.
    assert CAL.working_days_between(date(2026, 10, 9), date(2026, 10, 11)) == (1, False)
    assert CAL.working_days_between(date(2026, 10, 9), date(2026, 10, 12)) == (2, False)


def test_a_known_year_end_with_new_year_and_a_make_up_sunday() -> None:
    # 1-3 January 2026 off, Sunday 4 January a make-up working day: both years are bundled.
    assert deadline("2025-12-31T10:00:00+08:00") == (due_at("2026-01-05"), False)
    assert CAL.working_days_between(date(2025, 12, 31), date(2026, 1, 4)) == (1, False)


def test_an_unknown_year_makes_counting_into_it_provisional() -> None:
    # 2027 is not bundled: its statutory holidays only (1 January is off), and every answer
    # that touches it is provisional.
    assert CAL.working_days_between(date(2026, 12, 30), date(2026, 12, 31)) == (1, False)
    assert CAL.working_days_between(date(2026, 12, 30), date(2027, 1, 5)) == (3, True)
    assert deadline("2026-12-31T10:00:00+08:00") == (due_at("2027-01-05"), True)
    assert deadline("2031-03-03T10:00:00+08:00") == (due_at("2031-03-05"), True)


def test_a_loaded_year_replaces_the_bundled_one() -> None:
    no_holidays = YearSchedule(2026, "loaded", frozenset(), frozenset())
    calendar = WorkCalendar({2026: no_holidays})
    assert deadline("2026-02-13T10:00:00+08:00", calendar) == (due_at("2026-02-17"), False)


def test_the_deadline_of_a_date_is_the_deadline_of_any_moment_of_that_day() -> None:
    for moment in ("2026-02-13T00:00:00+08:00", "2026-02-12T16:30:00+00:00"):
        found = CAL.decision_deadline(datetime.fromisoformat(moment))
        assert found == CAL.deadline_after(date(2026, 2, 13))
    assert CAL.deadline_after(date(2026, 2, 13)).due_at.tzinfo == SHANGHAI


# ---------------------------------------------------------------- the status table


@pytest.mark.parametrize(
    ("status", "move", "target"),
    [
        ("submitted", Move.APPROVE, Status.APPROVED),
        ("submitted", Move.REJECT, Status.REJECTED),
        ("submitted", Move.WITHDRAW, Status.WITHDRAWN),
        ("approved", Move.DISBURSE, Status.DISBURSED),
        ("disbursed", Move.DISBURSE, Status.DISBURSED),  # paid out in parts
        ("disbursed", Move.REPORT_CURRENT, Status.DISBURSED),
        ("disbursed", Move.REPORT_OVERDUE, Status.OVERDUE),
        ("disbursed", Move.REPORT_REPAID, Status.REPAID),
        ("overdue", Move.REPORT_OVERDUE, Status.OVERDUE),
        ("overdue", Move.REPORT_REPAID, Status.REPAID),
        ("overdue", Move.REPORT_DEFAULTED, Status.DEFAULTED),
    ],
)
def test_allowed_moves(status: str, move: Move, target: Status) -> None:
    assert after(status, move) == target


@pytest.mark.parametrize(
    ("status", "move", "tried"),
    [
        ("approved", Move.APPROVE, "decide"),
        ("rejected", Move.REJECT, "decide"),
        ("approved", Move.WITHDRAW, "withdraw"),
        ("submitted", Move.DISBURSE, "disburse"),
        ("repaid", Move.DISBURSE, "disburse"),
        ("approved", Move.REPORT_CURRENT, "report current on"),
        ("disbursed", Move.REPORT_DEFAULTED, "report defaulted on"),
        ("overdue", Move.REPORT_CURRENT, "report current on"),
        ("defaulted", Move.REPORT_REPAID, "report repaid on"),
    ],
)
def test_refused_moves_are_409_and_say_what_was_tried(status: str, move: Move, tried: str) -> None:
    with pytest.raises(WrongTransition, match=f"^Cannot {tried} an application that is {status}$"):
        after(status, move)


def after_ok(status: Status, move: Move) -> bool:
    try:
        after(status, move)
    except WrongTransition:
        return False
    return True


def test_final_statuses_have_no_moves() -> None:
    final = {Status.REJECTED, Status.WITHDRAWN, Status.REPAID, Status.DEFAULTED}
    assert set(Status) - set(TRANSITIONS) == final
    assert all(not any(after_ok(s, m) for m in Move) for s in final)


def test_statuses_are_the_strings_the_database_and_the_api_use() -> None:
    from services.loans.models import STATUSES

    assert STATUSES == (
        "submitted",
        "approved",
        "rejected",
        "withdrawn",
        "disbursed",
        "repaid",
        "overdue",
        "defaulted",
    )
    assert all(type(s) is str for s in STATUSES)


# ---------------------------------------------------------------- If-Match

APP = Application(id=uuid.UUID("0b7a4a9e-5d0c-4c0e-9d7e-6f1e2a3b4c5d"), version=3)
TAG = '"0b7a4a9e-5d0c-4c0e-9d7e-6f1e2a3b4c5d-3"'


@pytest.mark.parametrize(
    "header",
    [TAG, "*", f"W/{TAG}", f'"stale", {TAG}', f' {TAG} ,"other"', f'"x",W/{TAG}', '"a", *'],
)
def test_if_match_lets_a_change_through_when_it_names_the_current_version(header: str) -> None:
    assert etag(APP) == TAG
    IfMatch.parse(header)(APP)


@pytest.mark.parametrize(
    "header",
    [
        '"stale"',
        '"0b7a4a9e-5d0c-4c0e-9d7e-6f1e2a3b4c5d-2"',  # the version before
        '"0B7A4A9E-5D0C-4C0E-9D7E-6F1E2A3B4C5D-3"',  # tags compare exactly
        TAG[1:-1],  # unquoted
        f"w/{TAG}",
        "",
        "**",
    ],
)
def test_if_match_refuses_any_other_version_with_412(header: str) -> None:
    with pytest.raises(PreconditionFailed, match=f"its ETag is now {TAG}"):
        IfMatch.parse(header)(APP)
