"""The scoring service: its routers and the paths the gateway routes to it."""

from __future__ import annotations

from services.scoring import admin_api, diagnosis_api, documents_api, monitoring_api
from services.scoring.api import router
from shared.app import ServiceSpec

SERVICE = ServiceSpec(
    name="scoring",
    title="InnoCredit scoring",
    description=(
        "Enterprises, indicator data, the points model, rankings and the 诊断书 (diagnosis)."
    ),
    routers=(
        router,
        diagnosis_api.router,
        documents_api.router,
        monitoring_api.router,
        admin_api.admin,
    ),
    route_prefixes=(
        "/v1/scoring",
        "/v1/admin/enterprises",
        "/v1/admin/industries",
        "/v1/admin/indicators",
        "/v1/admin/models",
        "/v1/admin/points",
    ),
    whoami_prefix="/v1/scoring",
    tags={
        "scoring": "Innovation points: enterprises, points and their breakdown, rankings, the "
        "distribution, the 诊断书, industries, model versions and recompute runs "
        "(scope `scoring:read`).",
        "scoring: monitoring": "The bureau and operators: what a points model would change "
        "before it is published (impact) and drift between recompute runs (PSI with band and "
        "chi-square p-value); scope `scoring:read`, roles bureau and admin.",
        "admin: scoring": "Operators: enterprises, industries, indicator data, points models "
        "and recomputes (scope `admin`).",
    },
)
