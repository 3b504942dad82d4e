"""The statutory holidays of 《全国年节及纪念日放假办法》 (2024 revision, in force 2025), any year.

The measures fix the days off for all citizens: 元旦 1 January; 春节 除夕 and 正月初一–初三;
清明 (the day of the Qingming solar term); 劳动节 1–2 May; 端午 五月初五; 中秋 八月十五;
国庆 1–3 October — 13 days, 12 when 中秋 falls on 1–3 October. The lunar dates and the solar
term come from `lunar-python`, which computes new moons and solar terms in Beijing time, the
Asia/Shanghai day the measures mean. What each year's State Council notice decides — the
day off in lieu of a holiday on a weekend (补假), the make-up working days (调休) and the
bridge days they buy — cannot be computed, and is not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from lunar_python import Lunar, Solar

IN_FORCE_FROM = 2025
"""The first year the 2024 revision governs; earlier years had other rules."""


@dataclass(frozen=True, slots=True)
class Festival:
    """One statutory holiday and its days off in a Gregorian year."""

    name: str
    days: tuple[date, ...]


def _gregorian(lunar_year: int, month: int, day: int) -> date:
    solar = Lunar.fromYmd(lunar_year, month, day).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def _qingming(year: int) -> date:
    # The solar-term table of a day after 春节 and before 清明 holds that year's 清明.
    term = Solar.fromYmd(year, 4, 1).getLunar().getJieQiTable()["清明"]
    return date(term.getYear(), term.getMonth(), term.getDay())


@cache
def festivals(year: int) -> tuple[Festival, ...]:
    """The statutory holidays of `year` under the 2024 rules, in calendar order.

    Every lunar date here falls in the Gregorian year of the same number: 正月初一 between
    21 January and 20 February, 端午 in May or June, 中秋 in September or October. 除夕 is the
    day before 正月初一 — the last day of the twelfth month, 29 or 30 days long.
    """
    new_year = _gregorian(year, 1, 1)
    return (
        Festival("元旦", (date(year, 1, 1),)),
        Festival("春节", tuple(new_year + timedelta(days=n) for n in range(-1, 3))),
        Festival("清明", (_qingming(year),)),
        Festival("劳动节", (date(year, 5, 1), date(year, 5, 2))),
        Festival("端午", (_gregorian(year, 5, 5),)),
        Festival("中秋", (_gregorian(year, 8, 15),)),
        Festival("国庆", (date(year, 10, 1), date(year, 10, 2), date(year, 10, 3))),
    )


@cache
def statutory_days(year: int) -> frozenset[date]:
    """Every statutory day off of `year` under the 2024 rules (computed once per year)."""
    return frozenset(day for festival in festivals(year) for day in festival.days)
