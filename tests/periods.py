"""Fresh ranking periods for tests that share one database.

Every test that loads indicators or recomputes a ranking takes its period from the pool, so no
two tests of a session touch the same period and nobody keeps a list of reserved years. A test
that also needs the year before (indicators for revenue growth) or after (the waiver year of
a ranking) asks for it, and those years are then nobody else's either. Periods are years the
API accepts (2000-2100); the pool is per database, i.e. per pytest process (each xdist worker
has its own database; the demo and fuzz tests make databases of their own).
"""

from __future__ import annotations

FIRST, LAST = 2001, 2042  # 2043-2099: periods of tests that predate the pool


class PeriodPool:
    """Hands out periods no other test of this database uses."""

    def __init__(self, first: int = FIRST, last: int = LAST) -> None:
        self._next = first
        self._last = last

    def fresh(self, *, previous: bool = False, following: bool = False) -> int:
        """A period p nobody else uses; with `previous`, p - 1 too; with `following`, p + 1."""
        period = self._next + (1 if previous else 0)
        end = period + (1 if following else 0)
        if end > self._last:
            raise RuntimeError(
                f"the test period pool ({FIRST}-{LAST}) is used up; tests that need no ranking "
                "of their own can share a module fixture's period"
            )
        self._next = end + 1
        return period
