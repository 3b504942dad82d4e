"""Scoring endpoints: thin handlers over `service` and `diagnosis`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from services.scoring import diagnosis, service
from services.scoring.models import PointsModel
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
from shared.app import settings_of
from shared.auth.deps import require_scopes
from shared.auth.principal import Principal
from shared.bulk import parse_rows
from shared.db import DbSession
from shared.openapi import parsed_body, problems
from shared.pagination import CursorParam, Limit, decode_cursor, next_cursor
from shared.uscc import Uscc
from shared.vocab import Category, District

Reader = Annotated[Principal, Depends(require_scopes("scoring:read"))]
Admin = Annotated[Principal, Depends(require_scopes("admin"))]
PeriodPath = Annotated[int, Path(ge=2000, le=2100, description="A year, e.g. 2025")]
PeriodQuery = Annotated[
    int | None, Query(ge=2000, le=2100, description="A year (default: the latest ranked period)")
]

router = APIRouter(prefix="/v1/scoring", tags=["scoring"])
admin = APIRouter(prefix="/v1/admin", tags=["admin: scoring"])

_CSV = {"text/csv": {"schema": {"type": "string"}}}


def _enterprise_out(session: DbSession, uscc: str) -> EnterpriseOut:
    enterprise, industry_name = service.get_enterprise(session, uscc)
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
def get_enterprise(uscc: Uscc, session: DbSession, _: Reader) -> EnterpriseOut:
    """Name, district, industry, growth stage, categories, founded date."""
    return _enterprise_out(session, uscc)


@router.get(
    "/enterprises/{uscc}/points",
    response_model=PointsOut,
    summary="An enterprise's points, rank and breakdown",
)
def get_points(uscc: Uscc, session: DbSession, _: Reader, period: PeriodQuery = None) -> PointsOut:
    """Points in the period's ranking; the breakdown explains every point."""
    row, ranking = service.points_of(session, uscc, period)
    return PointsOut(
        uscc=uscc,
        period=ranking.period,
        model_version=ranking.model_version,
        points=row.points,
        total_exact=f"{row.total_exact}",
        rank=row.rank,
        rank_total=row.rank_total,
        percentile=service.percentile(row.below, row.rank_total),
        breakdown=[BreakdownItem.model_validate(item) for item in row.breakdown],
        computed_at=row.computed_at,
    )


@router.get(
    "/enterprises/{uscc}/diagnosis",
    response_model=Diagnosis,
    summary="The 诊断书 (innovation diagnosis)",
)
def get_diagnosis(
    uscc: Uscc, session: DbSession, _: Reader, period: PeriodQuery = None
) -> Diagnosis:
    """Percentiles among peers, strengths, weaknesses, and rule-made services and policies."""
    return diagnosis.diagnose(session, uscc, period)


@router.get(
    "/rankings", response_model=RankingPage, responses=problems(404), summary="A period's ranking"
)
def rankings(
    request: Request,
    session: DbSession,
    _: Reader,
    period: PeriodQuery = None,
    district: District | None = None,
    industry: Annotated[str | None, Query(max_length=40)] = None,
    category: Category | None = None,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> RankingPage:
    """Rank order (filtered rankings are re-ranked within the filter). Ties: points, then
    the exact total before rounding, then USCC ascending — so ranks are unique."""
    ranking = service.ranking_of(session, period)
    where = service.RankingFilter(district=district, industry=industry, category=category)
    context = f"ranking:{ranking.period}:{ranking.model_version}:{district}:{industry}:{category}"
    key = settings_of(request).cursor_key
    after = int(decode_cursor(cursor, key=key, context=context)[0]) if cursor else 0
    rows = service.ranking_rows(session, ranking, where, after=after, limit=limit)
    page = rows[:limit]
    total = page[0].rank_total if page else 0
    items = [
        RankingEntry(
            rank=r.rank,
            uscc=r.uscc,
            name=r.name,
            district=r.district,
            industry=r.industry_code,
            stage=r.stage,
            categories=list(r.categories),
            points=r.points,
            total_exact=f"{r.total_exact}",
            percentile=service.percentile(r.below, r.rank_total),
            overall_rank=r.overall_rank,
        )
        for r in page
    ]
    following = next_cursor(rows, limit, lambda r: [r.rank], key=key, context=context)
    return RankingPage(
        period=ranking.period,
        model_version=ranking.model_version,
        rank_total=total,
        items=items,
        next_cursor=following,
    )


@router.get(
    "/distribution",
    response_model=Distribution,
    responses=problems(404),
    summary="Points distribution",
)
def get_distribution(
    session: DbSession,
    _: Reader,
    period: PeriodQuery = None,
    bins: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Distribution:
    """Histogram (equal-width bins between min and max) and quantiles of a period's points."""
    ranking = service.ranking_of(session, period)
    return Distribution.model_validate(service.distribution(session, ranking, bins))


@router.get("/industries", response_model=list[IndustryOut], summary="The industry list")
def list_industries(session: DbSession, _: Reader) -> list[IndustryOut]:
    """The city's "1+4" industry system (a managed list), in display order."""
    return [IndustryOut.model_validate(i) for i in service.list_industries(session)]


@router.get("/models", response_model=list[ModelOut], summary="Points model versions")
def list_models(session: DbSession, _: Reader) -> list[ModelOut]:
    """Every version, drafts included, newest first."""
    return [_model_out(m) for m in service.list_models(session)]


@router.get("/models/{version}", response_model=ModelOut, summary="One points model version")
def get_model(version: str, session: DbSession, _: Reader) -> ModelOut:
    """The definition: indicators, transforms, weights, stage weights, bonuses."""
    return _model_out(service.get_model(session, version))


@router.get("/runs", response_model=list[RunOut], summary="Recent recompute runs")
def list_runs(
    session: DbSession, _: Reader, period: PeriodQuery = None, limit: Limit = 50
) -> list[RunOut]:
    """Who recomputed which period with which model, when, how many, how long."""
    return [
        RunOut.model_validate(r, from_attributes=True)
        for r in service.list_runs(session, period=period, limit=limit)
    ]


def _model_out(model: PointsModel) -> ModelOut:
    return ModelOut(
        version=model.version,
        status=model.status,
        created_at=model.created_at,
        published_at=model.published_at,
        definition=ModelDefinition.model_validate(model.definition),
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
    return IndustryOut.model_validate(service.put_industry(session, code, body.name, body.position))


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
        check=lambda parsed: service.check_enterprises(session, parsed),
    )
    done = service.upsert_enterprises(session, rows)
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
        *raw, IndicatorIn, check=lambda parsed: service.check_indicators(session, parsed)
    )
    done = service.upsert_indicators(session, period, rows)
    return BulkResult(received=len(rows), created=done.created, updated=done.updated)


_MODEL_BODY = parsed_body(
    ModelDefinition, other={"application/yaml": {"schema": {"type": "string"}}}
)


async def _model_body(request: Request, _: Admin) -> ModelDefinition:
    """Parse the model only once the caller is known to be an operator (authz before input)."""
    return service.model_from_bytes(await request.body(), request.headers.get("content-type"))


ModelBody = Annotated[ModelDefinition, Depends(_model_body)]


@admin.post(
    "/models",
    status_code=201,
    response_model=ModelOut,
    responses=problems(409, 422),
    openapi_extra=_MODEL_BODY,
    summary="Create a draft points model (JSON or YAML)",
)
def create_model(definition: ModelBody, session: DbSession, _: Admin) -> ModelOut:
    """A new version, as a draft; publish it to compute points with it."""
    return _model_out(service.create_draft(session, definition))


@admin.put(
    "/models/{version}",
    response_model=ModelOut,
    responses=problems(409, 422),
    openapi_extra=_MODEL_BODY,
    summary="Replace a draft's definition",
)
def replace_model(version: str, definition: ModelBody, session: DbSession, _: Admin) -> ModelOut:
    """Only drafts change; a published version is immutable (409)."""
    return _model_out(service.replace_draft(session, version, definition))


@admin.post(
    "/models/{version}/publish",
    response_model=ModelOut,
    responses=problems(409),
    summary="Publish a draft model version",
)
def publish_model(version: str, session: DbSession, _: Admin) -> ModelOut:
    """From now on the version is immutable and can compute points."""
    return _model_out(service.publish_model(session, version))


@admin.post(
    "/points/{period}/recompute",
    response_model=RunOut,
    responses=problems(409),
    summary="Recompute a period's points and ranking",
)
def recompute(
    period: PeriodPath, session: DbSession, principal: Admin, body: RecomputeIn | None = None
) -> RunOut:
    """All enterprises of the period in one pass, atomically replacing that period's points
    for the model (default: the latest published), which becomes the period's ranking."""
    run = service.recompute(
        session,
        period,
        model_version=body.model_version if body else None,
        requested_by=principal.client_id,
    )
    return RunOut.model_validate(run, from_attributes=True)
