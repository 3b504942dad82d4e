"""The years the API takes (a ranking period, a calendar or waiver year, a fee rate's
effective year): 2000-2100, in one place, and the path and query parameters that carry one."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

FIRST_YEAR, LAST_YEAR = 2000, 2100

YearPath = Annotated[int, Path(ge=FIRST_YEAR, le=LAST_YEAR, description="A year, e.g. 2025")]
"""A year in a path (`/v1/loans/calendar/{year}`, `/v1/admin/points/{period}/recompute`)."""

LatestPeriod = Annotated[
    int | None,
    Query(ge=FIRST_YEAR, le=LAST_YEAR, description="A year (default: the latest ranked period)"),
]
"""A ranking period in a query, the latest ranked one when left out."""
