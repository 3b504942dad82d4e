"""The 诊断书 and the paths to a target (`/v1/scoring/enterprises/{uscc}/diagnosis`,
`…/paths`): the bureau's public advice, so every bank reads any firm's (a product target is
still one the caller can see: a bank's own, any for the bureau and operators —
`ProductsVisible`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.scoring import diagnosis_read, documents_api, paths_read
from services.scoring.model_versions import get_model
from services.scoring.paths_schemas import PathsOut
from services.scoring.pointsmodel import ModelDefinition
from services.scoring.ranking import points_of
from services.scoring.registry import enterprise_at, get_enterprise
from services.scoring.schemas import Diagnosis
from shared import clock
from shared.as_of import AsOf
from shared.auth.deps import ProductsVisible, ScoringReader
from shared.db import DbSession
from shared.eligibility import ProductLadders
from shared.negotiation import PDF, Negotiated, media_responses
from shared.openapi import problems
from shared.uscc import Uscc
from shared.years import LatestPeriod

router = APIRouter(prefix="/v1/scoring", tags=["scoring"])

TargetQuery = Annotated[
    str,
    Query(
        pattern=r"^(top-100|rank:[1-9][0-9]{0,6}|points:[0-9]{1,6}|product:[A-Za-z0-9_-]{1,40})$",
        description="`top-100`, `rank:N`, `points:P` or `product:CODE` (the product's next "
        "limit tier above the firm's points, or its first when the firm is not eligible yet)",
        examples=["top-100"],
    ),
]


def _ladders(request: Request) -> ProductLadders:
    ladders: ProductLadders = request.app.state.product_ladders
    return ladders


@router.get(
    "/enterprises/{uscc}/diagnosis",
    response_model=Diagnosis,
    responses={**problems(404), **media_responses(PDF, headers=documents_api.PDF_HEADERS)},
    summary="The 诊断书 (innovation diagnosis), as JSON or as a PDF to hand over",
)
def get_enterprise_diagnosis(
    uscc: Uscc,
    request: Request,
    session: DbSession,
    principal: ScoringReader,
    media: Negotiated,
    as_of: AsOf,
    period: LatestPeriod = None,
) -> Diagnosis | Response:
    """Percentiles among peers, strengths, weaknesses, rule-made services and policies, the
    ranks in the district and industry, and the paths to the next limit tier and the top 100.
    `as_of`: in the ranking of that instant, with the attributes then. `Accept:
    application/pdf` issues the printable 诊断书 in Chinese: a new verification code each
    time (`X-Diagnosis-Document`), recorded with who asked, which anyone can check at
    `GET /v1/scoring/diagnosis-documents/{code}`."""
    found = diagnosis_read.diagnose(session, uscc, period, _ladders(request), as_of)
    if media == PDF:
        return documents_api.pdf_response(request, session, principal, found, as_of)
    return found


@router.get(
    "/enterprises/{uscc}/paths",
    response_model=PathsOut,
    responses=problems(404, 409),
    summary="Paths to a target: the smallest indicator changes that reach it",
)
def get_enterprise_paths(
    uscc: Uscc,
    request: Request,
    session: DbSession,
    _: ScoringReader,
    products: ProductsVisible,
    target: TargetQuery,
    as_of: AsOf,
    period: LatestPeriod = None,
) -> PathsOut:
    """Up to 3 plans, cheapest first (fewest changes, then least relative change), each a
    distinct set of actionable indicators whose changes reach the target under the model of
    the firm's points; or why none does. 409 `indicators-changed` when the firm's indicators
    were loaded after the ranking."""
    enterprise = get_enterprise(session, uscc)[0]
    points, ranking = points_of(session, uscc, period, as_of)
    attributes = (enterprise_at(session, uscc, as_of) if as_of else None) or enterprise
    model = ModelDefinition.model_validate(get_model(session, ranking.model_version).definition)
    firm = paths_read.load_firm(
        session,
        points,
        ranking,
        model,
        attributes.stage,
        attributes.industry_code,
        attributes.categories,
    )
    kind, _colon, argument = target.partition(":")
    if kind == "top-100":
        goal = paths_read.rank_goal(session, firm, 100, kind="top-100")
    elif kind == "rank":
        goal = paths_read.rank_goal(session, firm, int(argument))
    elif kind == "points":
        goal = paths_read.points_goal(int(argument))
    else:
        on = clock.today() if as_of is None else clock.local_date(as_of)
        ladders = _ladders(request)(session, products, attributes.categories, on)
        found = paths_read.tier_goal(ladders, points.points, product=argument)
        if found is None:  # a named product is always a goal; kept for the type
            raise AssertionError("tier_goal answers a product target")
        goal = found
    return paths_read.paths_to(session, firm, goal)
