"""The loans service: its routers and the paths the gateway routes to it."""

from __future__ import annotations

import services.loans.webhooks.models  # noqa: F401  (the service's webhook tables)
from services.loans.api import admin, router
from services.loans.api import webhooks as webhooks_api
from services.loans.webhooks import described
from shared.app import ServiceSpec

SERVICE = ServiceSpec(
    name="loans",
    title="InnoCredit loans",
    description=(
        "Banks, the nine 创新积分贷 products, applications, decisions against the "
        "two-working-day target, disbursements and statistics."
    ),
    routers=(router, admin, webhooks_api.router),
    route_prefixes=("/v1/loans", "/v1/admin/banks", "/v1/admin/products", "/v1/admin/calendar"),
    whoami_prefix="/v1/loans",
    webhooks=described.router,
    tags={
        "loans": "Banks and products, quotes, applications and their decisions, disbursements "
        "and repayment reports, decision deadlines, the calendar and statistics (scopes "
        "`loans:read`, `loans:write`, `stats:read`).",
        "webhooks": "A bank's (and the bureau's) endpoints for events pushed as they happen, "
        "signed as Standard Webhooks, and what was delivered to them (scope `loans:read`; "
        'README "Webhooks: events pushed to banks").',
        "admin: loans": "Operators: banks, products and the official calendar (scope `admin`).",
    },
)
