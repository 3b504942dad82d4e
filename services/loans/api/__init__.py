"""The loans service's HTTP API: `router` (/v1/loans) and `admin` (/v1/admin), assembled from
one module per sub-domain. Handlers are thin: they take the tenant from the auth dependencies
and call the domain modules."""

from __future__ import annotations

from fastapi import APIRouter

from services.loans.api import applications, calendar, products, stats

router = APIRouter(prefix="/v1/loans", tags=["loans"])
router.include_router(products.router)
router.include_router(applications.router)
router.include_router(calendar.router)
router.include_router(stats.router)

admin = APIRouter(prefix="/v1/admin", tags=["admin: loans"])
admin.include_router(calendar.admin)
admin.include_router(products.admin)

__all__ = ["admin", "router"]
