"""Scoring endpoints: thin handlers over the registry, indicators, model versions, the
recompute pipeline, the ranking and the diagnosis."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.scoring import diagnosis, indicators, model_versions, ranking, registry
from services.scoring import recompute as pipeline  # a handler below is named `recompute`
from services.scoring.changes import (
    MODEL_PUBLISH,
    POINTS_RECOMPUTE,
    model_out,
    recompute_params,
)
from services.scoring.model_body import model_from_bytes
from services.scoring.pointsmodel import ModelDefinition
from services.scoring.schemas import (
    BreakdownItem,
    BulkResult,
    Diagnosis,
    Distribution,
    EnterpriseIn,
    EnterpriseOut,
    IndicatorIn,
    IndustryIn,
    IndustryOut,
    ModelOut,
    PointsOut,
    RankingEntry,
    RankingPage,
    RecomputeIn,
    RunOut,
)
from services.scoring.sheets import DISTRIBUTION_COLUMNS, RANKING_COLUMNS
from shared.as_of import AsOf
from shared.auth.deps import Admin, ScoringReader
from shared.bulk import parse_rows
from shared.changes.api import GOVERNED, Governed
from shared.db import DbSession, ReplicaSession
from shared.negotiation import JSON, Negotiated, media_responses
from shared.openapi import parsed_body, problems
from shared.openapi_headers import with_headers
from shared.pagination import Page, PageParams
from shared.tabular import FILES, SpreadsheetOptions, every_row, file_response
from shared.uscc import Uscc
from shared.vocab import Category, District

PeriodPath = Annotated[int, Path(ge=2000, le=2100, description="A year, e.g. 2025")]
PeriodQuery = Annotated[
    int | None, Query(ge=2000, le=2100, description="A year (default: the latest ranked period)")
]

router = APIRouter(prefix="/v1/scoring", tags=["scoring"])
admin = APIRouter(prefix="/v1/admin", tags=["admin: scoring"])

_CSV = {"text/csv": {"schema": {"type": "string"}}}


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
    uscc: Uscc, session: DbSession, _: ScoringReader, as_of: AsOf, period: PeriodQuery = None
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
    "/enterprises/{uscc}/diagnosis",
    response_model=Diagnosis,
    summary="The 诊断书 (innovation diagnosis)",
)
def get_enterprise_diagnosis(
    uscc: Uscc, session: DbSession, _: ScoringReader, as_of: AsOf, period: PeriodQuery = None
) -> Diagnosis:
    """Percentiles among peers, strengths, weaknesses, and rule-made services and policies.
    `as_of`: in the ranking of that instant, with the attributes then."""
    return diagnosis.diagnose(session, uscc, period, as_of)


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
    period: PeriodQuery = None,
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
    after = int(keyset.after[0]) if keyset.after else 0
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
    period: PeriodQuery = None,
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
    after = (int(keyset.after[0]), str(keyset.after[1])) if keyset.after else None
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
    after = None
    if keyset.after:
        after = (datetime.fromisoformat(str(keyset.after[0])), str(keyset.after[1]))
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
    period: PeriodQuery = None,
) -> Page[RunOut]:
    """Who recomputed which period with which model, when, how many, how long; newest
    first."""
    keyset = paging.keyset(f"runs:{period}")
    after = int(keyset.after[0]) if keyset.after else None
    rows = pipeline.list_runs(session, period=period, after=after, limit=paging.limit)
    return keyset.page(
        rows, lambda r: [r.id], lambda r: RunOut.model_validate(r, from_attributes=True)
    )


# ---------------------------------------------------------------- admin


async def _raw_body(request: Request) -> tuple[bytes, str | None]:
    return await request.body(), request.headers.get("content-type")


RawBody = Annotated[tuple[bytes, str | None], Depends(_raw_body)]


@admin.put("/industries/{code}", response_model=IndustryOut, summary="Add or rename an industry")
def put_industry(
    code: Annotated[str, Path(pattern=r"^[a-z0-9_]{2,40}$")],
    body: IndustryIn,
    session: DbSession,
    _: Admin,
) -> IndustryOut:
    """Codes are permanent (enterprises refer to them); names and positions may change."""
    return IndustryOut.model_validate(
        registry.put_industry(session, code, body.name, body.position)
    )


@admin.put(
    "/enterprises",
    response_model=BulkResult,
    responses=problems(422),
    openapi_extra=parsed_body(EnterpriseIn, rows=True, other=_CSV),
    summary="Bulk upsert enterprises (JSON or CSV)",
)
def put_enterprises(raw: RawBody, session: DbSession, _: Admin) -> BulkResult:
    """Create or update enterprises by USCC. CSV: UTF-8 (BOM optional) with a header row
    `uscc,name,district,industry,stage,categories,founded_on`; categories separated by `|`.
    Any bad row rejects the whole file (422 with every bad row's number); nothing is written."""
    rows = parse_rows(
        *raw,
        EnterpriseIn,
        list_fields=("categories",),
        check=lambda parsed: registry.check_enterprises(session, parsed),
    )
    done = registry.upsert_enterprises(session, rows)
    return BulkResult(received=len(rows), created=done.created, updated=done.updated)


@admin.put(
    "/indicators/{period}",
    response_model=BulkResult,
    openapi_extra=parsed_body(IndicatorIn, rows=True, other=_CSV),
    summary="Bulk upsert a period's indicator data (JSON or CSV)",
)
def put_indicators(period: PeriodPath, raw: RawBody, session: DbSession, _: Admin) -> BulkResult:
    """Raw indicators per enterprise for a year; derived ones (R&D intensity, R&D staff ratio,
    revenue growth) are computed. Any bad row rejects the whole file; nothing is written."""
    rows = parse_rows(
        *raw, IndicatorIn, check=lambda parsed: indicators.check_indicators(session, parsed)
    )
    done = indicators.upsert_indicators(session, period, rows)
    return BulkResult(received=len(rows), created=done.created, updated=done.updated)


_MODEL_BODY = parsed_body(
    ModelDefinition, other={"application/yaml": {"schema": {"type": "string"}}}
)


async def _model_body(request: Request, _: Admin) -> ModelDefinition:
    """Parse the model only once the caller is known to be an operator (authz before input)."""
    return model_from_bytes(await request.body(), request.headers.get("content-type"))


ModelBody = Annotated[ModelDefinition, Depends(_model_body)]


@admin.post(
    "/models",
    status_code=201,
    response_model=ModelOut,
    responses={201: with_headers("Location"), **problems(409, 422)},
    openapi_extra=_MODEL_BODY,
    summary="Create a draft points model (JSON or YAML)",
)
def create_model(
    definition: ModelBody, session: DbSession, _: Admin, response: Response
) -> ModelOut:
    """A new version, as a draft; publish it to compute points with it."""
    model = model_out(model_versions.create_draft(session, definition))
    response.headers["Location"] = f"/v1/scoring/models/{model.version}"
    return model


@admin.put(
    "/models/{version}",
    response_model=ModelOut,
    responses=problems(409, 422),
    openapi_extra=_MODEL_BODY,
    summary="Replace a draft's definition",
)
def replace_model(version: str, definition: ModelBody, session: DbSession, _: Admin) -> ModelOut:
    """Only drafts change; a published version is immutable (409)."""
    return model_out(model_versions.replace_draft(session, version, definition))


@admin.post(
    "/models/{version}/publish",
    response_model=ModelOut,
    responses={**GOVERNED, **problems(409)},
    summary="Publish a draft model version",
)
def publish_model(version: str, session: DbSession, gov: Governed) -> Any:
    """From now on the version is immutable and can compute points. Governed (four eyes): 202
    with the pending change (linking to the draft's impact report) unless
    INNOCREDIT_FOUR_EYES leaves `model-publish` out."""
    if gov.requires(MODEL_PUBLISH):
        return gov.propose(MODEL_PUBLISH, {"version": version})
    return model_out(model_versions.publish_model(session, version))


@admin.post(
    "/points/{period}/recompute",
    response_model=RunOut,
    responses={**GOVERNED, **problems(409)},
    summary="Recompute a period's points and ranking",
)
def recompute_points(
    period: PeriodPath, session: DbSession, gov: Governed, body: RecomputeIn | None = None
) -> Any:
    """All enterprises of the period in one pass, atomically replacing that period's points
    for the model (default: the latest published), which becomes the period's ranking.
    Governed (four eyes): 202 with the pending change, its model resolved now, unless
    INNOCREDIT_FOUR_EYES leaves `points-recompute` out."""
    model_version = body.model_version if body else None
    if gov.requires(POINTS_RECOMPUTE):
        params = recompute_params(session, period, model_version)
        return gov.propose(POINTS_RECOMPUTE, params)
    run = pipeline.recompute(
        session, period, model_version=model_version, requested_by=gov.maker.client_id
    )
    return RunOut.model_validate(run, from_attributes=True)
