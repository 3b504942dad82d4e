"""The guarantee service: its routers and the paths the gateway routes to it."""

from __future__ import annotations

from services.guarantee.api import admin, router
from shared.app import ServiceSpec

SERVICE = ServiceSpec(
    name="guarantee",
    title="InnoCredit guarantee",
    description=(
        "泰信保 waiver status, guarantee fee quotes, consents and the credit-firm feature export."
    ),
    routers=(router, admin),
    route_prefixes=("/v1/guarantee", "/v1/admin/consents", "/v1/admin/fee-rates"),
    whoami_prefix="/v1/guarantee",
    tags={
        "guarantee": "泰信保: fee waivers and quotes, fee rates, consents, and the credit "
        "firms' feature export (scopes `guarantee:read`, `export:read`).",
        "admin: guarantee": "Operators: fee rates and consents (scope `admin`).",
    },
)
