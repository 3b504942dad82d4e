"""The statutory holidays of the 2024 measures, computed for any year, checked against the
published schedules `chinese-calendar` carries and against the lunar calendar itself."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest
from lunar_python import Lunar, LunarYear, Solar

from services.loans.statutory import IN_FORCE_FROM, festivals, statutory_days

# chinese-calendar's names for the festivals of the measures.
NAMES = {
    "元旦": "New Year's Day",
    "春节": "Spring Festival",
    "清明": "Tomb-sweeping Day",
    "劳动节": "Labour Day",
    "端午": "Dragon Boat Festival",
    "中秋": "Mid-autumn Festival",
    "国庆": "National Day",
}
SPREAD = range(2000, 2041)


def days_of(year: int) -> dict[str, tuple[date, ...]]:
    return {festival.name: festival.days for festival in festivals(year)}


def lunar(day: date) -> Lunar:
    return Solar.fromYmd(day.year, day.month, day.day).getLunar()


@pytest.mark.parametrize("year", range(IN_FORCE_FROM, 2027))
def test_every_computed_day_is_the_official_holiday_of_its_name(year: int) -> None:
    for name, days in days_of(year).items():
        for day in days:
            assert chinese_calendar.holidays.get(day) == NAMES[name], (name, day)


@pytest.mark.parametrize("year", range(2008, IN_FORCE_FROM))
def test_the_festivals_older_rules_shared_were_days_off_then_too(year: int) -> None:
    # From 2008 every festival here was a day off; 除夕 and 2 May became ones only in 2025.
    # chinese-calendar does not list every weekend day of a holiday, so: none is a working day.
    found = days_of(year)
    shared = statutory_days(year) - {found["春节"][0], date(year, 5, 2)}
    assert len(shared) >= 10  # 11, or 10 when 中秋 falls on 1–3 October
    for day in sorted(shared):
        assert not chinese_calendar.is_workday(day), day


def test_the_2027_holidays_as_published_in_almanacs() -> None:
    assert days_of(2027) == {
        "元旦": (date(2027, 1, 1),),
        "春节": tuple(date(2027, 2, d) for d in (5, 6, 7, 8)),  # 除夕 on the 29th of 腊月
        "清明": (date(2027, 4, 5),),
        "劳动节": (date(2027, 5, 1), date(2027, 5, 2)),
        "端午": (date(2027, 6, 9),),
        "中秋": (date(2027, 9, 15),),
        "国庆": (date(2027, 10, 1), date(2027, 10, 2), date(2027, 10, 3)),
    }


def test_2033_the_year_of_the_leap_eleventh_month() -> None:
    # The "2033 problem" that broke simpler lunar algorithms.
    found = days_of(2033)
    assert (found["春节"][1], found["端午"][0], found["中秋"][0]) == (
        date(2033, 1, 31),
        date(2033, 6, 1),
        date(2033, 9, 8),
    )


@pytest.mark.parametrize("year", SPREAD)
def test_thirteen_days_twelve_when_mid_autumn_meets_national_day(year: int) -> None:
    found = days_of(year)
    clash = found["中秋"][0] in found["国庆"]
    assert len(statutory_days(year)) == (12 if clash else 13)
    assert all(day.year == year for day in statutory_days(year))
    assert found["元旦"] == (date(year, 1, 1),)
    assert found["劳动节"] == (date(year, 5, 1), date(year, 5, 2))
    assert found["国庆"] == tuple(date(year, 10, d) for d in (1, 2, 3))


@pytest.mark.parametrize("year", SPREAD)
def test_lunar_festivals_fall_on_their_lunar_dates(year: int) -> None:
    found = days_of(year)
    eve, *first_days = found["春节"]
    assert [(lunar(d).getYear(), lunar(d).getMonth(), lunar(d).getDay()) for d in first_days] == [
        (year, 1, 1),
        (year, 1, 2),
        (year, 1, 3),
    ]
    last_month = LunarYear.fromYear(year - 1).getMonth(lunar(eve).getMonth())
    assert abs(lunar(eve).getMonth()) == 12  # the twelfth month, or a leap twelfth
    assert lunar(eve).getDay() == last_month.getDayCount()  # its last day, the 29th or 30th
    assert (lunar(found["端午"][0]).getMonth(), lunar(found["端午"][0]).getDay()) == (5, 5)
    assert (lunar(found["中秋"][0]).getMonth(), lunar(found["中秋"][0]).getDay()) == (8, 15)


def test_new_years_eve_is_the_29th_in_some_years_and_the_30th_in_others() -> None:
    eves = {lunar(days_of(year)["春节"][0]).getDay() for year in SPREAD}
    assert eves == {29, 30}


@pytest.mark.parametrize("year", SPREAD)
def test_qingming_is_the_day_of_the_solar_term(year: int) -> None:
    (day,) = days_of(year)["清明"]
    # chinese-calendar computes solar terms on its own (a century formula with corrections).
    terms = chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 10))
    assert terms[0] == (day, "清明")
    assert lunar(day).getJieQi() == "清明"
    assert lunar(day - timedelta(days=1)).getJieQi() == ""


def test_any_year_a_timestamp_can_reach_is_computed_once() -> None:
    for year in (1900, 2999, 3000):
        assert len(statutory_days(year)) in (12, 13)
    assert statutory_days(2031) is statutory_days(2031)
