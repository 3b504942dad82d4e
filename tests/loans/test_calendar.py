"""The two-working-day deadline on China's calendar: bundled, loaded, and provisional years."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.loans.calendar import WorkCalendar, YearSchedule, validate_year
from shared.clock import SHANGHAI

CAL = WorkCalendar()


def due(moment: str, calendar: WorkCalendar = CAL) -> tuple[datetime, bool]:
    found = calendar.decision_deadline(datetime.fromisoformat(moment))
    return found.due_at, found.provisional


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T23:59:59+08:00")


def test_friday_is_due_tuesday() -> None:
    assert due("2026-11-20T10:00:00+08:00") == (at("2026-11-24"), False)


def test_national_day_holiday_is_skipped() -> None:
    assert due("2026-09-30T10:00:00+08:00") == (at("2026-10-09"), False)


def test_a_make_up_saturday_is_a_working_day() -> None:
    # 2026-10-10 (Saturday) is a 调休 working day: Friday's deadline is Monday, not Tuesday.
    assert CAL.is_working_day(date(2026, 10, 10))
    assert due("2026-10-09T09:00:00+08:00") == (at("2026-10-12"), False)


def test_the_submission_day_never_counts_whatever_the_hour() -> None:
    assert due("2026-11-23T00:00:01+08:00") == due("2026-11-23T23:59:00+08:00")


def test_late_evening_and_just_after_midnight_land_on_different_days() -> None:
    monday_late = due("2026-11-23T23:59:00+08:00")
    tuesday_early = due("2026-11-24T00:01:00+08:00")
    assert monday_late[0] == at("2026-11-25")
    assert tuesday_early[0] == at("2026-11-26")


def test_any_offset_is_converted_to_shanghai() -> None:
    # 16:01 UTC on Monday is 00:01 on Tuesday in Shanghai.
    assert due("2026-11-23T16:01:00+00:00")[0] == at("2026-11-26")
    assert due("2026-11-23T11:01:00-05:00")[0] == at("2026-11-26")  # 00:01 Tuesday, Shanghai
    assert due("2026-11-23T10:59:00-05:00")[0] == at("2026-11-25")  # 23:59 Monday, Shanghai


def test_an_unloaded_year_has_its_statutory_holidays_and_stays_provisional() -> None:
    # 2027 is not bundled: New Year's Day and 除夕–初三 (5-8 February) are off all the same.
    assert CAL.schedule(2027).source == "statutory"
    assert due("2026-12-30T10:00:00+08:00") == (at("2027-01-04"), True)
    assert due("2027-02-04T10:00:00+08:00") == (at("2027-02-10"), True)
    assert not any(CAL.is_working_day(date(2027, 2, d)) for d in (5, 6, 7, 8))
    # Make-up working days stay unknown: no weekend day of 2027 works yet.
    assert not CAL.is_working_day(date(2027, 2, 20))


def test_a_loaded_year_replaces_its_statutory_holidays_completely() -> None:
    official = YearSchedule(2027, "loaded", frozenset({date(2027, 10, 1)}), frozenset())
    loaded = WorkCalendar({2027: official})
    assert due("2026-12-30T10:00:00+08:00", loaded) == (at("2027-01-01"), False)
    assert due("2027-02-04T10:00:00+08:00", loaded) == (at("2027-02-08"), False)


def test_years_before_the_2024_rules_nobody_loaded_are_plain_weekdays() -> None:
    assert CAL.schedule(2003).source == "weekdays"
    assert CAL.is_working_day(date(2003, 1, 1))
    assert due("2002-12-31T10:00:00+08:00") == (at("2003-01-02"), True)
    assert [CAL.schedule(y).source for y in (2004, 2026, 2027)] == [
        "bundled",
        "bundled",
        "statutory",
    ]


def test_a_deadline_at_the_far_edge_of_timestamps_is_computed() -> None:
    assert due("2999-12-31T10:00:00+08:00") == (at("3000-01-03"), True)


def test_working_days_between_counts_after_start_through_end() -> None:
    assert CAL.working_days_between(date(2026, 11, 20), date(2026, 11, 20)) == (0, False)
    assert CAL.working_days_between(date(2026, 11, 20), date(2026, 11, 23)) == (1, False)
    assert CAL.working_days_between(date(2026, 9, 30), date(2026, 10, 9)) == (2, False)


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.decision_deadline(datetime(2026, 11, 20, 10))


def test_schedule_validation() -> None:
    assert validate_year(2027, [date(2027, 1, 1)], [date(2027, 2, 6)]) == []
    problems = validate_year(
        2027, [date(2026, 12, 31), date(2027, 2, 6)], [date(2027, 2, 6), date(2027, 2, 8)]
    )
    assert any("not in 2027" in p for p in problems)
    assert any("both" in p for p in problems)
    assert any("weekday" in p for p in problems)


moments = st.datetimes(
    min_value=datetime(2004, 1, 1),
    max_value=datetime(2030, 12, 31),
    timezones=st.sampled_from(
        [UTC, SHANGHAI, timezone(timedelta(hours=-8)), timezone(timedelta(hours=14))]
    ),
)


@settings(max_examples=300, deadline=None)
@given(moments)
def test_due_day_is_a_working_day_after_the_submission_date(moment: datetime) -> None:
    found = CAL.decision_deadline(moment)
    due_day = found.due_at.date()
    assert found.due_at.tzinfo is not None
    assert found.due_at.timetz().replace(tzinfo=None).isoformat() == "23:59:59"
    assert CAL.is_working_day(due_day)
    assert due_day > moment.astimezone(SHANGHAI).date()
    assert CAL.working_days_between(moment.astimezone(SHANGHAI).date(), due_day)[0] == 2


@settings(max_examples=300, deadline=None)
@given(moments, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)))
def test_due_date_is_monotone_in_the_submission_time(moment: datetime, later: timedelta) -> None:
    assert CAL.decision_deadline(moment).due_at <= CAL.decision_deadline(moment + later).due_at
