"""Model monitoring endpoints: a model's what-if impact on a period before it is published,
and drift between two runs. For the bureau and operators (`ProgrammeWide`): banks do not see
a draft's winners and losers before publication. Both read the primary (`DbSession`): the
impact report scores into temporary tables, which a hot standby refuses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse

from services.scoring import drift, impact
from services.scoring.monitoring_schemas import Drift, Impact
from services.scoring.monitoring_sheets import drift_sheets, impact_sheets
from shared import clock
from shared.auth.deps import ProgrammeWide, ScoringReader
from shared.db import DbSession
from shared.eligibility import ProductShifts
from shared.negotiation import JSON, XLSX, Negotiated, media_responses
from shared.openapi import problems
from shared.tabular import FileOptions, HeaderLanguage, workbook_response
from shared.years import FIRST_YEAR, LAST_YEAR, LatestPeriod

router = APIRouter(prefix="/v1/scoring", tags=["scoring: monitoring"])

RunQuery = Annotated[int | None, Query(ge=1, le=2**63 - 1, description="A recompute run's id")]
ModelVersion = Annotated[str, Path(max_length=40, description="A model version, e.g. TZ-2026.1")]
Headers = Annotated[
    HeaderLanguage,
    Query(description="XLSX column headers: `en` (the JSON field names) or `zh` (中文)"),
]


@router.get(
    "/models/{version}/impact",
    response_model=Impact,
    responses={**problems(404, 422), **media_responses(XLSX)},
    summary="What a model would do to a period's ranking (JSON, or XLSX)",
)
def get_model_impact(
    request: Request,
    version: ModelVersion,
    session: DbSession,
    _: ScoringReader,
    _programme: ProgrammeWide,
    media: Negotiated,
    period: LatestPeriod = None,
    baseline: Annotated[
        str | None,
        Query(max_length=40, description="A model version (default: the ranking's model)"),
    ] = None,
    headers: Headers = "en",
) -> Impact | StreamingResponse:
    """Scores the period's enterprises with `version` (a draft too) and with `baseline`,
    ranks both with the ranking's tie order, and compares them; `sc_points` and the ranking
    are not touched. Rank changes (by size, quantiles, the ten largest each way), who enters
    and leaves the top 100 (the 泰信保 waiver of the year after), mean points by district,
    industry, stage and category, each product's eligibility and limit tiers (judged today),
    and the PSI of the points with its band and chi-square p-value. An XLSX workbook has one
    sheet per table."""
    of = impact.basis(session, version, period, baseline)
    shifts: ProductShifts = request.app.state.product_shifts
    report = Impact.model_validate(impact.impact(session, of, shifts, clock.today()))
    if media == JSON:
        return report
    name = f"impact-{of.version.version}-{of.period}"
    return workbook_response(impact_sheets(report), FileOptions(headers), name=name)


@router.get(
    "/drift",
    response_model=Drift,
    responses={**problems(404, 422), **media_responses(XLSX)},
    summary="Drift of points and indicators between two runs (JSON, or XLSX)",
)
def get_drift(
    session: DbSession,
    _: ScoringReader,
    _programme: ProgrammeWide,
    media: Negotiated,
    period: LatestPeriod = None,
    baseline_period: Annotated[
        int | None,
        Query(
            ge=FIRST_YEAR, le=LAST_YEAR, description="A year (default: the year before `period`)"
        ),
    ] = None,
    run: RunQuery = None,
    baseline_run: RunQuery = None,
    headers: Headers = "en",
) -> Drift | StreamingResponse:
    """The PSI of the points and of each of the 14 indicators, with its band (< 0.10 stable,
    0.10–0.25 investigate, ≥ 0.25 significant) and a chi-square p-value, binned on the
    baseline's deciles; and each indicator's missing-value rate. Between two periods'
    rankings, or between two runs by id (`run` and `baseline_run`: every run's points are
    kept). An XLSX workbook has a summary, one row per quantity and one per bin."""
    of = drift.runs(
        session, period=period, baseline_period=baseline_period, run=run, baseline_run=baseline_run
    )
    report = Drift.model_validate(drift.drift(session, of))
    if media == JSON:
        return report
    name = f"drift-{report.run_id}-{report.baseline_run_id}"
    return workbook_response(drift_sheets(report), FileOptions(headers), name=name)
