"""The 泰信保 waiver: the guarantee fee is waived for a year for the enterprises in the top
100 of the ranking of the previous year's period.

`decide` is the rule on its inputs alone; `waiver_for` reads them from scoring (through
`services.scoring.queries` only); `waiver_given` reads only what a caller that has already
read the enterprise and its latest points (a loan submission) does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from services.guarantee.errors import EnterpriseUnknown
from services.scoring import queries as scoring
from shared.as_of import Versions
from shared.vocab import WAIVER_TOP

TOP = WAIVER_TOP
"""Ranks 1 to 100 of period `year − 1` are waived in `year`."""


@dataclass(frozen=True, slots=True)
class Waiver:
    """Whether the 泰信保 fee is waived for `year`, and the ranking it rests on."""

    year: int
    waived: bool
    reason: str
    ranking_period: int | None = None
    rank: int | None = None
    rank_total: int | None = None
    model_version: str | None = None


def decide(
    year: int, ranking: tuple[int, str] | None, standing: scoring.PointsSnapshot | None
) -> Waiver:
    """The rule: waived for `year` when ranked at most `TOP` in the ranking of `year − 1`.

    `ranking` is that period's (period, model version), None when it has no ranking yet
    (→ "ranking-unavailable"); `standing` the enterprise's place in it, None when it has no
    points there (→ "not-ranked"). Ranks are unique (ties are broken by the ranking's
    documented rule), so exactly 100 enterprises are waived in a year with 100 or more ranked.
    """
    if ranking is None:
        return Waiver(year, False, "ranking-unavailable")
    if standing is None:
        return Waiver(year, False, "not-ranked", ranking[0], None, None, ranking[1])
    waived = standing.rank <= TOP
    return Waiver(
        year,
        waived,
        "top-100" if waived else "outside-top-100",
        standing.period,
        standing.rank,
        standing.rank_total,
        standing.model_version,
    )


def waiver_for(session: Session, uscc: str, year: int, at: datetime | None = None) -> Waiver:
    """Whether `uscc`'s fee is waived in `year`, now or as it was at the instant `at` (the
    ranking of `year − 1` then in force; `EnterpriseUnknown` if it is not in the points
    database)."""
    if scoring.enterprise(session, uscc) is None:
        raise EnterpriseUnknown(f"No enterprise with USCC {uscc} in the points database")
    ranking = scoring.ranking_period(session, year - 1, at)
    standing = None if ranking is None else scoring.current_points(session, uscc, year - 1, at)
    return decide(year, ranking, standing)


def waiver_given(
    session: Session,
    enterprise: scoring.EnterpriseFacts,
    latest: scoring.PointsSnapshot | None,
    year: int,
) -> Waiver:
    """`waiver_for` an enterprise the caller has read in this transaction, with its latest
    points (`scoring.current_points` without a period; None when it has none) read there too:
    the same answer, reading only the rows those do not tell.

    Latest points of period `year − 1` are the standing (points are only current with their
    period's ranking, so they also name it); latest points of an earlier period mean none in
    `year − 1`, so only whether it has a ranking is read; only latest points of a later period
    leave `year − 1`'s standing to read.
    """
    prior = year - 1
    if latest is not None and latest.period == prior:
        return decide(year, (latest.period, latest.model_version), latest)
    ranking = scoring.ranking_period(session, prior)
    if ranking is None or latest is None or latest.period < prior:
        return decide(year, ranking, None)
    return decide(year, ranking, scoring.current_points(session, enterprise.uscc, prior))


def ranking_versions(session: Session, year: int, at: datetime | None = None) -> Versions:
    """The ranking run a waiver of `year` rests on (that of `year − 1`, now or at `at`)."""
    run = scoring.ranking_run(session, year - 1, at)
    if run is None:
        return Versions()
    return Versions(ranking_run=run.run_id, model_version=run.model_version)


def top_list(
    session: Session, year: int, at: datetime | None = None
) -> list[scoring.PointsSnapshot]:
    """The enterprises waived in `year`: the top 100 of period `year − 1` (its ranking at the
    instant `at`; None: now)."""
    return scoring.top(session, year - 1, TOP, at)
