"""Scoring's read endpoints (`/v1/scoring/…`): thin handlers over the registry, model
versions, the recompute runs and the ranking. The diagnosis and the paths to a target are in
`diagnosis_api.py`, operators' writes in `admin_api.py`, impact and drift in
`monitoring_api.py`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from services.scoring import model_versions, ranking, registry
from services.scoring import recompute as pipeline  # a handler below is named `recompute`
from services.scoring.changes import (
    model_out,
)
from services.scoring.schemas import (
    BreakdownItem,
    Distribution,
    EnterpriseOut,
    IndustryOut,
    ModelOut,
    PointsOut,
    RankingEntry,
    RankingPage,
    RunOut,
)
from services.scoring.sheets import DISTRIBUTION_COLUMNS, RANKING_COLUMNS
from shared.as_of import AsOf
from shared.auth.deps import ScoringReader
from shared.db import DbSession, ReplicaSession
from shared.negotiation import JSON, Negotiated, media_responses
from shared.openapi import problems
from shared.pagination import Page, PageParams
from shared.tabular import FILES, SpreadsheetOptions, every_row, file_response
from shared.uscc import Uscc
from shared.vocab import Category, District
from shared.years import LatestPeriod

router = APIRouter(prefix="/v1/scoring", tags=["scoring"])


def _enterprise_out(session: DbSession, uscc: str) -> EnterpriseOut:
    enterprise, industry_name = registry.get_enterprise(session, uscc)
    return EnterpriseOut(
        uscc=enterprise.uscc,
        name=enterprise.name,
        district=enterprise.district,
        industry=enterprise.industry_code,
        industry_name=industry_name,
        stage=enterprise.stage,
        categories=list(enterprise.categories),
        founded_on=enterprise.founded_on,
        updated_at=enterprise.updated_at,
    )


@router.get("/enterprises/{uscc}", response_model=EnterpriseOut, summary="An enterprise")
def get_enterprise(uscc: Uscc, session: DbSession, _: ScoringReader) -> EnterpriseOut:
    """Name, district, industry, growth stage, categories, founded date."""
    return _enterprise_out(session, uscc)


@router.get(
    "/enterprises/{uscc}/points",
    response_model=PointsOut,
    summary="An enterprise's points, rank and breakdown",
)
def get_enterprise_points(
    uscc: Uscc, session: DbSession, _: ScoringReader, as_of: AsOf, period: LatestPeriod = None
) -> PointsOut:
    """Points in the period's ranking; the breakdown explains every point. `as_of`: in the
    ranking of that instant."""
    row, of_period = ranking.points_of(session, uscc, period, as_of)
    return PointsOut(
        uscc=uscc,
        period=of_period.period,
        model_version=of_period.model_version,
        points=row.points,
        total_exact=f"{row.total_exact}",
        rank=row.rank,
        rank_total=row.rank_total,
        percentile=ranking.percentile(row.below, row.rank_total),
        breakdown=[BreakdownItem.model_validate(item) for item in row.breakdown],
        computed_at=row.computed_at,
        versions=ranking.versions_of(of_period),
    )


@router.get(
    "/rankings",
    response_model=RankingPage,
    responses={**problems(404), **media_responses(*FILES)},
    summary="A period's ranking (JSON pages, or the whole ranking as CSV or XLSX)",
)
def list_rankings(
    request: Request,
    session: ReplicaSession,
    _: ScoringReader,
    media: Negotiated,
    options: SpreadsheetOptions,
    paging: PageParams,
    as_of: AsOf,
    period: LatestPeriod = None,
    district: District | None = None,
    industry: Annotated[str | None, Query(max_length=40)] = None,
    category: Category | None = None,
) -> RankingPage | StreamingResponse:
    """Rank order (filtered rankings are re-ranked within the filter). Ties: points, then
    the exact total before rounding, then USCC ascending — so ranks are unique. A CSV or
    XLSX file holds the whole (filtered) ranking, after `cursor` when one is given. `as_of`:
    the ranking of that instant, with the names and attributes then; a cursor pages the
    ranking run it came from (another run's cursor is refused)."""
    of_period = ranking.ranking_of(session, period, as_of)
    where = ranking.RankingFilter(district=district, industry=industry, category=category)
    keyset = paging.keyset(
        f"ranking:{of_period.period}:{of_period.run_id}:{district}:{industry}:{category}"
    )
    after = keyset.first(int) or 0
    if media != JSON:
        every = every_row(
            request.app.state.read_sessionmaker,
            lambda s, a, n: ranking.ranking_rows(
                s, of_period, where, after=a or 0, limit=n, at=as_of
            ),
            lambda r: int(r.rank),
            after,
        )
        of = {"period": of_period.period, "model_version": of_period.model_version}
        entries = ({**of, **_ranking_entry(r).model_dump(mode="json")} for r in every)
        name = f"ranking-{of_period.period}"
        return file_response(media, RANKING_COLUMNS, entries, options, name=name)
    rows = ranking.ranking_rows(
        session, of_period, where, after=after, limit=paging.limit, at=as_of
    )
    page = keyset.page(rows, lambda r: [r.rank], _ranking_entry)
    return RankingPage(
        period=of_period.period,
        model_version=of_period.model_version,
        rank_total=rows[0].rank_total if rows else 0,
        items=page.items,
        next_cursor=page.next_cursor,
        versions=ranking.versions_of(of_period),
    )


def _ranking_entry(row: Any) -> RankingEntry:
    return RankingEntry(
        rank=row.rank,
        uscc=row.uscc,
        name=row.name,
        district=row.district,
        industry=row.industry_code,
        stage=row.stage,
        categories=list(row.categories),
        points=row.points,
        total_exact=f"{row.total_exact}",
        percentile=ranking.percentile(row.below, row.rank_total),
        overall_rank=row.overall_rank,
        previous_rank=row.previous_rank,
        previous_points=row.previous_points,
    )


@router.get(
    "/distribution",
    response_model=Distribution,
    responses={**problems(404), **media_responses(*FILES)},
    summary="Points distribution (JSON, or its bins as CSV or XLSX)",
)
def get_distribution(
    session: ReplicaSession,
    _: ScoringReader,
    media: Negotiated,
    options: SpreadsheetOptions,
    as_of: AsOf,
    period: LatestPeriod = None,
    bins: Annotated[int, Query(ge=1, le=200)] = 20,
    district: District | None = None,
    industry: Annotated[str | None, Query(max_length=40)] = None,
    category: Category | None = None,
) -> Distribution | StreamingResponse:
    """Histogram (equal-width bins between min and max) and quantiles of a period's points,
    over the enterprises the filters keep (as `/v1/scoring/rankings` filters). A CSV or XLSX
    file holds one row per bin (`from`, `to`, `count`) with the period, model and filters.
    `as_of`: the ranking of that instant, filtered on the attributes then."""
    of_period = ranking.ranking_of(session, period, as_of)
    where = ranking.RankingFilter(district=district, industry=industry, category=category)
    result = Distribution.model_validate(
        ranking.distribution(session, of_period, bins, where, as_of)
    )
    if media == JSON:
        return result
    of = result.model_dump(
        mode="json", include={"period", "model_version", "district", "industry", "category"}
    )
    rows = [{**of, "from": b.lower, "to": b.upper, "count": b.count} for b in result.histogram]
    return file_response(
        media, DISTRIBUTION_COLUMNS, rows, options, name=f"distribution-{of_period.period}"
    )


@router.get("/industries", response_model=Page[IndustryOut], summary="The industry list")
def list_industries(
    session: DbSession,
    _: ScoringReader,
    paging: PageParams,
) -> Page[IndustryOut]:
    """The city's "1+4" industry system (a managed list), in display order."""
    keyset = paging.keyset("industries")
    after = keyset.values(int, str)
    rows = registry.list_industries(session, after=after, limit=paging.limit)
    return keyset.page(rows, lambda i: [i.position, i.code], IndustryOut.model_validate)


@router.get("/models", response_model=Page[ModelOut], summary="Points model versions")
def list_models(
    session: DbSession,
    _: ScoringReader,
    paging: PageParams,
) -> Page[ModelOut]:
    """Every version, drafts included, newest first."""
    keyset = paging.keyset("models")
    after = keyset.values(datetime, str)
    rows = model_versions.list_models(session, after=after, limit=paging.limit)
    return keyset.page(rows, lambda m: [m.created_at.isoformat(), m.version], model_out)


@router.get("/models/{version}", response_model=ModelOut, summary="One points model version")
def get_model(version: str, session: DbSession, _: ScoringReader) -> ModelOut:
    """The definition: indicators, transforms, weights, stage weights, bonuses."""
    return model_out(model_versions.get_model(session, version))


@router.get("/runs", response_model=Page[RunOut], summary="Recent recompute runs")
def list_recompute_runs(
    session: DbSession,
    _: ScoringReader,
    paging: PageParams,
    period: LatestPeriod = None,
) -> Page[RunOut]:
    """Who recomputed which period with which model, when, how many, how long; newest
    first."""
    keyset = paging.keyset(f"runs:{period}")
    after = keyset.first(int)
    rows = pipeline.list_runs(session, period=period, after=after, limit=paging.limit)
    return keyset.page(
        rows, lambda r: [r.id], lambda r: RunOut.model_validate(r, from_attributes=True)
    )
