"""Drift between two recompute runs: the PSI of the points and of each indicator, with its
band and chi-square p-value (`services.scoring.psi`), and the indicators' missing-value rates.

The runs are two periods' rankings (`period`, `baseline_period`) or any two runs by id.
Points are read by run; every run's points are kept since migration 0013 (before it, a later
recompute of a period with the same model deleted the earlier run's points). Indicators are
the periods' indicator data as it is now, each enterprise's 14 values made as a recompute
makes them (`services.scoring.facts`); a value that cannot be derived (R&D intensity without
revenue, growth without the period before) is missing. Two runs of one period have the same
indicators, so only their points are compared.
"""

from __future__ import annotations

from array import array
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.scoring import facts, psi
from services.scoring.errors import NoIndicators, PointsNotFound
from services.scoring.models import RecomputeRun
from services.scoring.ranking import ranking_of
from shared.errors import Unprocessable
from shared.vocab import INDICATOR_LABELS, INDICATORS

_POINTS_SQL = text("SELECT points FROM sc_points WHERE period = :period AND run_id = :run")


@dataclass(frozen=True, slots=True)
class Runs:
    """The run compared and its baseline."""

    run: RecomputeRun
    baseline: RecomputeRun


def runs(
    session: Session,
    *,
    period: int | None,
    baseline_period: int | None,
    run: int | None,
    baseline_run: int | None,
) -> Runs:
    """The two runs: by id (`run` and `baseline_run`, both), else the rankings of `period`
    (default the latest ranked) and `baseline_period` (default the period before)."""
    no_period = period is None and baseline_period is None
    if run is not None and baseline_run is not None and no_period:
        return Runs(_run(session, run), _run(session, baseline_run))
    if run is not None or baseline_run is not None:
        errors = [
            {"loc": ["query", name], "msg": message}
            for name, value, message in (
                ("run", run, "needed with baseline_run"),
                ("baseline_run", baseline_run, "needed with run"),
            )
            if value is None
        ] + [
            {"loc": ["query", name], "msg": "not with run and baseline_run"}
            for name, value in (("period", period), ("baseline_period", baseline_period))
            if value is not None
        ]
        raise Unprocessable("Compare two runs or two periods, not both", errors=errors)
    ranking = ranking_of(session, period)
    base = ranking_of(session, ranking.period - 1 if baseline_period is None else baseline_period)
    return Runs(_run(session, ranking.run_id), _run(session, base.run_id))


def _run(session: Session, run_id: int) -> RecomputeRun:
    found = session.get(RecomputeRun, run_id)
    if found is None:
        raise PointsNotFound(f"No recompute run {run_id}: GET /v1/scoring/runs lists them")
    return found


def drift(session: Session, of: Runs) -> dict[str, Any]:
    """The drift report (`monitoring_schemas.Drift`) of `of.run` against `of.baseline`."""
    points = psi.compare(_points(session, of.baseline), _points(session, of.run))
    indicators = None
    if of.run.period != of.baseline.period:
        now, before = _indicators(session, of.run.period), _indicators(session, of.baseline.period)
        indicators = [
            {
                "indicator": name,
                "label": INDICATOR_LABELS[name],
                "missing_rate": now.missing_rate(name),
                "baseline_missing_rate": before.missing_rate(name),
                "stability": asdict(
                    psi.compare(
                        before.values[name],
                        now.values[name],
                        baseline_missing=before.missing[name],
                        actual_missing=now.missing[name],
                    )
                ),
            }
            for name in INDICATORS
        ]
    return {
        **_side("", of.run),
        **_side("baseline_", of.baseline),
        "points": asdict(points),
        "indicators": indicators,
    }


def _side(prefix: str, run: RecomputeRun) -> dict[str, Any]:
    return {
        f"{prefix}period": run.period,
        f"{prefix}run_id": run.id,
        f"{prefix}model_version": run.model_version,
    }


def _points(session: Session, run: RecomputeRun) -> list[float]:
    points = session.scalars(_POINTS_SQL, {"period": run.period, "run": run.id}).all()
    if not points:
        raise PointsNotFound(
            f"Points of run {run.id} are no longer kept: a recompute of period {run.period} "
            f"with model {run.model_version} replaced them before every run's points were kept"
        )
    return [float(p) for p in points]


@dataclass(frozen=True, slots=True)
class _Sample:
    """A period's indicator values (present ones, as floats) and missing counts."""

    count: int
    values: dict[str, array[float]]
    missing: dict[str, int]

    def missing_rate(self, name: str) -> float:
        return self.missing[name] / self.count if self.count else 0.0


def _indicators(session: Session, period: int) -> _Sample:
    values: dict[str, array[float]] = {name: array("d") for name in INDICATORS}
    missing = dict.fromkeys(INDICATORS, 0)
    count = 0
    for rows in facts.batches(session, period):
        count += len(rows)
        for row in rows:
            derived, _ = facts.derived(row)
            for name in INDICATORS:
                value = derived.get(name)
                if value is None:
                    missing[name] += 1
                else:
                    values[name].append(float(value))
    if not count:
        raise NoIndicators(f"No indicator data for period {period} any more")
    return _Sample(count, values, missing)
