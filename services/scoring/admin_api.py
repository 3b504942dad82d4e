"""Scoring's operator endpoints (`/v1/admin/…`, scope `admin`): industries, enterprise and
indicator uploads, points-model drafts and their publication, and recomputes — the last two
governed (four eyes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from services.scoring import indicators, model_versions, registry
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
    BulkResult,
    EnterpriseIn,
    IndicatorIn,
    IndustryIn,
    IndustryOut,
    ModelOut,
    RecomputeIn,
    RunOut,
)
from shared.auth.deps import Admin
from shared.bulk import parse_rows
from shared.changes.api import GOVERNED, Governed
from shared.db import DbSession
from shared.openapi import parsed_body, problems
from shared.openapi_headers import with_headers
from shared.years import YearPath

admin = APIRouter(prefix="/v1/admin", tags=["admin: scoring"])

_CSV = {"text/csv": {"schema": {"type": "string"}}}


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
def put_indicators(period: YearPath, raw: RawBody, session: DbSession, _: Admin) -> BulkResult:
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
    period: YearPath, session: DbSession, gov: Governed, body: RecomputeIn | None = None
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
