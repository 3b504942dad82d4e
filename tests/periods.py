"""Fresh ranking periods for tests that share one database.

Every test that loads indicators or recomputes a ranking takes its period from the pool, so no
two tests of a process touch the same period and nobody keeps a list of reserved years. A test
that also needs the year before (indicators for revenue growth, or a year with no ranking) or
after (the waiver year of a ranking and its fee rates) asks for it, and those years are then
nobody else's either. Tests of one module that read the same ranking share it: a module fixture
takes one period from the session's pool (`periods.fresh()`).

Periods are the years the API accepts but its bounds (2001-2099). The pool is per database, i.e.
per pytest process: each xdist worker has its own database and pool; the demo and fuzz tests
make databases of their own. A year the pool hands out must hold no scoring data yet, so a test
that wrote one without asking the pool is caught by the next test that gets it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from services.scoring.models import IndicatorRow, Points, RecomputeRun

FIRST, LAST = 2001, 2099


class PeriodPool:
    """Hands out periods no other test of this database uses."""

    def __init__(
        self,
        first: int = FIRST,
        last: int = LAST,
        *,
        in_use: Callable[[int], bool] = lambda year: False,
    ) -> None:
        self._first = first
        self._next = first
        self._last = last
        self._in_use = in_use
        self.handed_out: list[int] = []

    def fresh(self, *, previous: bool = False, following: bool = False) -> int:
        """A period p nobody else uses; with `previous`, p - 1 too; with `following`, p + 1."""
        span = 1 + int(previous) + int(following)
        start = self._next
        years = range(start, start + span)
        if years[-1] > self._last:
            raise RuntimeError(
                f"the test period pool ({self._first}-{self._last}) is used up; tests that read "
                "one ranking can share a module fixture's period"
            )
        self._next = years[-1] + 1
        self.handed_out.extend(years)
        collided = [year for year in years if self._in_use(year)]
        if collided:
            raise RuntimeError(
                f"period {collided[0]} already has scoring data in this database: a test loaded "
                "or ranked it without taking it from the pool"
            )
        return start + int(previous)


def scoring_data_in(db: sessionmaker[Session]) -> Callable[[int], bool]:
    """Whether a year has indicator rows, recompute runs or points in the database of `db`."""

    def in_use(year: int) -> bool:
        with db() as session:
            return any(
                session.scalar(select(exists().where(column == year)))
                for column in (IndicatorRow.period, RecomputeRun.period, Points.period)
            )

    return in_use
