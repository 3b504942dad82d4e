"""The loans service's HTTP API: `router` (/v1/loans) and `admin` (/v1/admin), assembled from
one module per sub-domain. Handlers are thin: they take the tenant from the auth dependencies
and call the domain modules."""

from __future__ import annotations

from fastapi import APIRouter

from services.loans.api import applications, calendar, products, stats

router = APIRouter(prefix="/v1/loans", tags=["loans"])
for part in (products.router, applications.router, calendar.router, stats.router):
    router.include_router(part)

admin = APIRouter(prefix="/v1/admin", tags=["admin: loans"])
for part in (calendar.admin, products.admin):
    admin.include_router(part)

__all__ = ["admin", "router"]
