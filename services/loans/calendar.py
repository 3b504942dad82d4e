"""China's working-day calendar and the two-working-day decision deadline.

Working days follow the official schedule: weekends and statutory holidays are off, make-up
working days (调休, often a Saturday or Sunday) are on. A year's schedule comes from an
operator's upload when there is one ("loaded"), else from the `chinese-calendar` package for
the years it knows ("bundled"). A year neither knows is provisional, and so is every deadline
that touches it: from 2025 on it has the statutory holidays the 2024 measures fix
("statutory"), with the notice's make-up days and bridge days still unknown; before 2025 it
is plain weekdays ("weekdays"). `chinese-calendar` raises for years it does not know, so it is
only ever read through its data tables, for the years it covers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Literal

import chinese_calendar
from typing_extensions import TypeAliasType

from services.loans.statutory import IN_FORCE_FROM, statutory_days
from shared.clock import SHANGHAI

WORKING_DAYS_TO_DECIDE = 2
END_OF_DAY = time(23, 59, 59)

CalendarSource = TypeAliasType(
    "CalendarSource", Literal["bundled", "loaded", "statutory", "weekdays"]
)
"""Where a year's schedule comes from; the last two are provisional."""

_BUNDLED_HOLIDAYS = frozenset(chinese_calendar.holidays)
_BUNDLED_WORKDAYS = frozenset(chinese_calendar.workdays)
BUNDLED_YEARS = frozenset(d.year for d in _BUNDLED_HOLIDAYS | _BUNDLED_WORKDAYS)


@dataclass(frozen=True, slots=True)
class YearSchedule:
    """One year's days off and make-up working days, and where they come from."""

    year: int
    source: CalendarSource
    holidays: frozenset[date]
    make_up_workdays: frozenset[date]
    loaded_at: datetime | None = None  # when an operator loaded it (source "loaded")

    @property
    def provisional(self) -> bool:
        """Whether the official schedule may still differ: nobody loaded it, no package knows it."""
        return self.source in ("statutory", "weekdays")

    def is_working_day(self, day: date) -> bool:
        """Whether `day` (in this year) is a working day."""
        if day in self.make_up_workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5


@cache
def bundled(year: int) -> YearSchedule | None:
    """The `chinese-calendar` schedule of `year`, or None if the package does not know it."""
    if year not in BUNDLED_YEARS:
        return None
    holidays = frozenset(d for d in _BUNDLED_HOLIDAYS if d.year == year)
    workdays = frozenset(d for d in _BUNDLED_WORKDAYS if d.year == year)
    return YearSchedule(year, "bundled", holidays, workdays)


def statutory(year: int) -> YearSchedule | None:
    """A provisional schedule: the statutory holidays of a year the 2024 measures govern (None
    before them), no make-up working days."""
    if year < IN_FORCE_FROM:
        return None
    return YearSchedule(year, "statutory", statutory_days(year), frozenset())


def weekdays(year: int) -> YearSchedule:
    """A provisional schedule: Monday to Friday, no holidays."""
    return YearSchedule(year, "weekdays", frozenset(), frozenset())


def unloaded(year: int) -> YearSchedule:
    """The schedule of a year nobody loaded: bundled, else statutory, else weekdays."""
    return bundled(year) or statutory(year) or weekdays(year)


@dataclass(frozen=True, slots=True)
class Deadline:
    """When a decision is due, and whether an unpublished year made it provisional."""

    due_at: datetime
    provisional: bool


class WorkCalendar:
    """Working days across years: loaded schedules first, then `unloaded`'s."""

    def __init__(self, loaded: Mapping[int, YearSchedule] | None = None) -> None:
        self._loaded = dict(loaded or {})
        self._cache: dict[int, YearSchedule] = {}

    def schedule(self, year: int) -> YearSchedule:
        """The schedule in force for `year`."""
        found = self._cache.get(year)
        if found is None:
            found = self._loaded.get(year) or unloaded(year)
            self._cache[year] = found
        return found

    def is_working_day(self, day: date) -> bool:
        """Whether `day` is a working day."""
        return self.schedule(day.year).is_working_day(day)

    def consulted(self) -> list[YearSchedule]:
        """The schedules read so far, by year: what an answer was counted with."""
        return [self._cache[year] for year in sorted(self._cache)]

    def add_working_days(self, start: date, count: int) -> tuple[date, bool]:
        """The `count`-th working day after `start` (start itself never counts), and whether
        any year consulted was provisional."""
        day, found, provisional = start, 0, False
        while found < count:
            day += timedelta(days=1)
            schedule = self.schedule(day.year)
            provisional = provisional or schedule.provisional
            if schedule.is_working_day(day):
                found += 1
        return day, provisional

    def working_days_between(self, start: date, end: date) -> tuple[int, bool]:
        """Working days after `start` up to and including `end` (0 when end ≤ start)."""
        count, provisional, day = 0, False, start
        while day < end:
            day += timedelta(days=1)
            schedule = self.schedule(day.year)
            provisional = provisional or schedule.provisional
            if schedule.is_working_day(day):
                count += 1
        return count, provisional

    def decision_deadline(self, submitted_at: datetime) -> Deadline:
        """Due 23:59:59 Asia/Shanghai of the 2nd working day after the local submission date."""
        if submitted_at.tzinfo is None:
            raise ValueError("submitted_at must be timezone-aware")
        return self.deadline_after(submitted_at.astimezone(SHANGHAI).date())

    def deadline_after(self, submitted_date: date) -> Deadline:
        """The deadline of an application submitted on the Shanghai business date
        `submitted_date` (for a caller that has the date already)."""
        due_day, provisional = self.add_working_days(submitted_date, WORKING_DAYS_TO_DECIDE)
        return Deadline(datetime.combine(due_day, END_OF_DAY, tzinfo=SHANGHAI), provisional)


def validate_year(year: int, holidays: Iterable[date], make_up: Iterable[date]) -> list[str]:
    """Problems with an uploaded schedule (empty when it is consistent)."""
    problems: list[str] = []
    holidays, make_up = set(holidays), set(make_up)
    for day in sorted(holidays | make_up):
        if day.year != year:
            problems.append(f"{day} is not in {year}")
    for day in sorted(holidays & make_up):
        problems.append(f"{day} is both a holiday and a make-up working day")
    for day in sorted(make_up):
        if day.weekday() < 5:
            problems.append(f"{day} is a weekday: a make-up working day is a Saturday or Sunday")
    return problems
