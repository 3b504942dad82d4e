"""Loans endpoints: thin handlers over `service`, with idempotency on money-relevant writes."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from services.loans import idempotency, service
from services.loans.idempotency import Stored
from services.loans.models import Application, Product
from services.loans.schemas import (
    ApplicationIn,
    ApplicationOut,
    BankIn,
    BankOut,
    CalendarIn,
    CalendarLoaded,
    CalendarOut,
    DeadlineOut,
    DecisionIn,
    DisbursementIn,
    EventOut,
    ProductIn,
    ProductOut,
    Quote,
    RepaymentIn,
    Stats,
    StatsRow,
)
from shared.app import settings_of
from shared.auth.deps import require_scopes
from shared.auth.principal import Principal
from shared.clock import local_date
from shared.db import DbSession
from shared.errors import Forbidden, Unprocessable
from shared.openapi import parsed_body, problems
from shared.pagination import CursorParam, Limit, Page, decode_cursor, next_cursor
from shared.timestamps import Timestamp
from shared.uscc import Uscc

Reader = Annotated[Principal, Depends(require_scopes("loans:read"))]
Writer = Annotated[Principal, Depends(require_scopes("loans:write"))]
StatsReader = Annotated[Principal, Depends(require_scopes("stats:read"))]
Admin = Annotated[Principal, Depends(require_scopes("admin"))]


def _idempotency_key(request: Request) -> str | None:
    """The Idempotency-Key header, checked by `idempotency.check_key` (400 when bad)."""
    return request.headers.get("idempotency-key")


IdemKey = Annotated[str | None, Depends(_idempotency_key)]
# The document declares the header required (a write without one is 400), which FastAPI
# cannot say for a header it does not validate itself.
_IDEMPOTENT_WRITE: dict[str, Any] = {"parameters": [idempotency.PARAMETER]}
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=1000)]
CodePath = Annotated[str, Path(pattern=r"^[A-Z0-9_]{2,32}$")]
ProductPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{2,40}$")]
Year = Annotated[int, Path(ge=2000, le=2100)]

router = APIRouter(prefix="/v1/loans", tags=["loans"])
admin = APIRouter(prefix="/v1/admin", tags=["admin: loans"])

_IDEMPOTENT = {"description": "Replayed: same status and body, `Idempotent-Replayed: true`"}


def _actor(request: Request, principal: Principal) -> service.Actor:
    return service.Actor(
        principal.client_id, principal.bank_code, request.scope.get("state", {}).get("request_id")
    )


def _bank_scope(principal: Principal) -> str | None:
    """The bank a caller is confined to (None: bureau and admin see every bank)."""
    return principal.bank_code if principal.role == "bank" else None


def _product_out(product: Product) -> ProductOut:
    return ProductOut.model_validate(product, from_attributes=True)


def _app_out(app: Application) -> dict[str, object]:
    return ApplicationOut.model_validate(app, from_attributes=True).model_dump(mode="json")


def _respond(stored: Stored, replayed: bool) -> JSONResponse:
    headers = dict(stored.headers)
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(stored.body, status_code=stored.status, headers=headers)


def _idempotent(
    request: Request,
    session: DbSession,
    principal: Principal,
    key: str | None,
    payload: object,
    work: Callable[[], Application],
    status: int = 200,
) -> JSONResponse:
    def run() -> Stored:
        app = work()
        headers = {"ETag": service.etag(app)}
        if status == 201:
            headers["Location"] = f"/v1/loans/applications/{app.id}"
        return Stored(status, _app_out(app), headers)

    stored, replayed = idempotency.run(
        session,
        client_id=principal.client_id,
        key=key,
        endpoint=f"{request.method} {request.url.path}",
        payload=payload,
        work=run,
    )
    return _respond(stored, replayed)


# ---------------------------------------------------------------- banks and products


@router.get("/banks", response_model=list[BankOut], summary="Partner banks")
def list_banks(session: DbSession, principal: Reader) -> list[BankOut]:
    """A bank sees itself; the bureau and operators see all five."""
    return [BankOut.model_validate(b) for b in service.list_banks(session, _bank_scope(principal))]


@router.get("/products", response_model=list[ProductOut], summary="Credit products")
def list_products(session: DbSession, principal: Reader) -> list[ProductOut]:
    """A bank sees its own products; the bureau and operators see all nine."""
    return [_product_out(p) for p in service.list_products(session, _bank_scope(principal))]


@router.get("/products/{code}", response_model=ProductOut, summary="One credit product")
def get_product(code: ProductPath, session: DbSession, principal: Reader) -> ProductOut:
    """Another bank's product is not found."""
    return _product_out(service.get_product(session, code, _bank_scope(principal)))


@router.get("/products/{code}/quote", response_model=Quote, summary="Eligibility quote")
def get_quote(
    code: ProductPath, uscc: Annotated[Uscc, Query()], session: DbSession, principal: Reader
) -> Quote:
    """Whether the enterprise qualifies now and for how much, with the reasons."""
    product = service.get_product(session, code, _bank_scope(principal))
    return service.quote(session, product, uscc, local_date(datetime.now(UTC)))


# ---------------------------------------------------------------- applications


@router.post(
    "/applications",
    status_code=201,
    response_model=ApplicationOut,
    responses={200: _IDEMPOTENT, **problems(400, 404, 409)},
    openapi_extra=_IDEMPOTENT_WRITE,
    summary="Submit an application (Idempotency-Key)",
)
def submit(
    body: ApplicationIn,
    request: Request,
    session: DbSession,
    principal: Writer,
    key: IdemKey,
) -> JSONResponse:
    """Checked against the quote at submission; snapshots points, rank and model version;
    computes the two-working-day decision deadline."""
    return _idempotent(
        request,
        session,
        principal,
        key,
        body.model_dump(mode="json"),
        lambda: service.submit(session, body, _actor(request, principal)),
        status=201,
    )


@router.get("/applications", response_model=Page[ApplicationOut], summary="Applications")
def list_applications(
    request: Request,
    session: DbSession,
    principal: Reader,
    status: Annotated[str | None, Query(max_length=12)] = None,
    product_code: Annotated[str | None, Query(max_length=40)] = None,
    updated_since: Annotated[Timestamp | None, Query()] = None,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> Page[ApplicationOut]:
    """Ordered by (updated_at, id): a client syncing with `updated_since` sees every change.
    A bank sees only its own bank's applications."""
    if updated_since is not None and updated_since.tzinfo is None:
        raise Unprocessable(
            "updated_since needs a UTC offset",
            errors=[{"loc": ["query", "updated_since"], "msg": "offset required"}],
        )
    bank = _bank_scope(principal)
    key = settings_of(request).cursor_key
    context = f"applications:{bank}:{status}:{product_code}:{updated_since}"
    after = None
    if cursor:
        at, ident = decode_cursor(cursor, key=key, context=context)
        after = (datetime.fromisoformat(str(at)), uuid.UUID(str(ident)))
    rows = service.list_applications(
        session,
        bank,
        service.ApplicationFilter(status, product_code, updated_since),
        after=after,
        limit=limit,
    )
    return Page[ApplicationOut](
        items=[ApplicationOut.model_validate(a, from_attributes=True) for a in rows[:limit]],
        next_cursor=next_cursor(
            rows, limit, lambda a: [a.updated_at.isoformat(), str(a.id)], key=key, context=context
        ),
    )


@router.get("/applications/{app_id}", response_model=ApplicationOut, summary="An application")
def get_application(
    app_id: uuid.UUID, session: DbSession, principal: Reader, response: Response
) -> ApplicationOut:
    """With an `ETag` for `If-Match` on state changes."""
    app = service.get_application(session, app_id, _bank_scope(principal))
    response.headers["ETag"] = service.etag(app)
    return ApplicationOut.model_validate(app, from_attributes=True)


@router.get(
    "/applications/{app_id}/events",
    response_model=list[EventOut],
    summary="An application's history",
)
def list_events(app_id: uuid.UUID, session: DbSession, principal: Reader) -> list[EventOut]:
    """Every state change, oldest first: who, when, from which status to which."""
    return [
        EventOut.model_validate(e) for e in service.events(session, app_id, _bank_scope(principal))
    ]


def _own_bank(principal: Principal) -> None:
    if principal.role != "bank" or principal.bank_code is None:
        raise Forbidden("Only the bank that holds an application changes it")


@router.post(
    "/applications/{app_id}/decision",
    response_model=ApplicationOut,
    responses=problems(400, 409),
    openapi_extra=_IDEMPOTENT_WRITE,
    summary="Record the decision (once; Idempotency-Key)",
)
def decide(
    app_id: uuid.UUID,
    body: DecisionIn,
    request: Request,
    session: DbSession,
    principal: Writer,
    key: IdemKey,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Sets `decision_working_days` (working days after the submission date up to and
    including the decision date) and `on_time`."""
    _own_bank(principal)
    return _idempotent(
        request,
        session,
        principal,
        key,
        body.model_dump(mode="json"),
        lambda: service.decide(session, app_id, body, _actor(request, principal), if_match),
    )


@router.post(
    "/applications/{app_id}/disbursements",
    response_model=ApplicationOut,
    responses=problems(400, 409),
    openapi_extra=_IDEMPOTENT_WRITE,
    summary="Record a disbursement (Idempotency-Key)",
)
def disburse(
    app_id: uuid.UUID,
    body: DisbursementIn,
    request: Request,
    session: DbSession,
    principal: Writer,
    key: IdemKey,
    if_match: IfMatch = None,
) -> JSONResponse:
    """The disbursements' sum never exceeds the approved amount."""
    _own_bank(principal)
    return _idempotent(
        request,
        session,
        principal,
        key,
        body.model_dump(mode="json"),
        lambda: service.disburse(session, app_id, body, _actor(request, principal), if_match),
    )


@router.post(
    "/applications/{app_id}/repayment-status",
    response_model=ApplicationOut,
    responses=problems(400, 409),
    openapi_extra=_IDEMPOTENT_WRITE,
    summary="Report the repayment status (Idempotency-Key)",
)
def repayment_status(
    app_id: uuid.UUID,
    body: RepaymentIn,
    request: Request,
    session: DbSession,
    principal: Writer,
    key: IdemKey,
    if_match: IfMatch = None,
) -> JSONResponse:
    """`current` (still disbursed), `overdue`, `repaid` or `defaulted`, with the outstanding
    principal as of a date."""
    _own_bank(principal)
    return _idempotent(
        request,
        session,
        principal,
        key,
        body.model_dump(mode="json"),
        lambda: service.report_repayment(
            session, app_id, body, _actor(request, principal), if_match
        ),
    )


@router.post(
    "/applications/{app_id}/withdraw",
    response_model=ApplicationOut,
    responses=problems(409),
    summary="Withdraw an undecided application",
)
def withdraw(
    app_id: uuid.UUID,
    request: Request,
    session: DbSession,
    principal: Writer,
    response: Response,
    if_match: IfMatch = None,
) -> ApplicationOut:
    """Only from `submitted`; anything else is 409 invalid-transition."""
    _own_bank(principal)
    app = service.withdraw(session, app_id, _actor(request, principal), if_match)
    response.headers["ETag"] = service.etag(app)
    return ApplicationOut.model_validate(app, from_attributes=True)


# ---------------------------------------------------------------- deadlines and calendar


@router.get("/deadline", response_model=DeadlineOut, summary="The two-working-day deadline")
def deadline(
    submitted_at: Annotated[Timestamp, Query(description="RFC 3339 with offset")],
    session: DbSession,
    _: Reader,
) -> DeadlineOut:
    """Due 23:59:59 Asia/Shanghai of the 2nd working day after the local submission date."""
    if submitted_at.tzinfo is None:
        raise Unprocessable(
            "submitted_at needs a UTC offset, e.g. 2026-11-20T10:00:00+08:00",
            errors=[{"loc": ["query", "submitted_at"], "msg": "offset required"}],
        )
    found = service.work_calendar(session).decision_deadline(submitted_at)
    return DeadlineOut(
        submitted_at=submitted_at,
        submitted_date=local_date(submitted_at),
        due_at=found.due_at,
        provisional=found.provisional,
    )


@router.get("/calendar/{year}", response_model=CalendarOut, summary="A year's working days")
def get_calendar(year: Year, session: DbSession, _: Reader) -> CalendarOut:
    """Holidays and make-up working days, and where they come from."""
    schedule = service.calendar_year(session, year)
    return CalendarOut(
        year=year,
        source=schedule.source,
        holidays=sorted(schedule.holidays),
        make_up_workdays=sorted(schedule.make_up_workdays),
    )


_CALENDAR_BODY = parsed_body(
    CalendarIn,
    other={
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "date,kind rows; kind is holiday or workday",
            }
        }
    },
)


async def _calendar_body(request: Request, _: Admin) -> CalendarIn:
    """The schedule as JSON `{holidays, make_up_workdays}` or CSV rows `date,kind`."""
    return service.calendar_from_upload(await request.body(), request.headers.get("content-type"))


@admin.put(
    "/calendar/{year}",
    response_model=CalendarLoaded,
    openapi_extra=_CALENDAR_BODY,
    summary="Load a year's official schedule (JSON or CSV)",
)
def put_calendar(
    year: Year,
    body: Annotated[CalendarIn, Depends(_calendar_body)],
    request: Request,
    session: DbSession,
    principal: Admin,
) -> CalendarLoaded:
    """Overrides the bundled schedule; recomputes provisional deadlines of open applications."""
    count = service.load_calendar(session, year, body, _actor(request, principal))
    return CalendarLoaded(
        year=year,
        source="loaded",
        holidays=sorted(set(body.holidays)),
        make_up_workdays=sorted(set(body.make_up_workdays)),
        recomputed_applications=count,
    )


# ---------------------------------------------------------------- statistics


@router.get(
    "/stats",
    response_model=Stats,
    summary="Loan statistics",
    responses={200: {"content": {"text/csv": {}}}},
)
def get_stats(
    request: Request,
    session: DbSession,
    principal: StatsReader,
    from_: Annotated[date, Query(alias="from")],
    to: date,
    group_by: Literal["bank", "product", "district", "industry", "month", "stage"] | None = None,
) -> Stats | PlainTextResponse:
    """Applications submitted between `from` and `to` (Asia/Shanghai dates, inclusive), per
    group and in total. A bank gets only its own figures. `Accept: text/csv` for CSV."""
    if to < from_:
        raise Unprocessable(
            "`to` is before `from`", errors=[{"loc": ["query", "to"], "msg": "before from"}]
        )
    bank = _bank_scope(principal)
    rows, total = service.stats(
        session, from_date=from_, to_date=to, group_by=group_by, bank_code=bank
    )
    result = Stats(
        from_=from_,
        to=to,
        group_by=group_by,
        bank_code=bank,
        groups=[StatsRow.model_validate(r) for r in rows],
        total=StatsRow.model_validate(total),
    )
    if "text/csv" in request.headers.get("accept", ""):
        return PlainTextResponse(_csv(result), media_type="text/csv; charset=utf-8")
    return result


def _csv(stats: Stats) -> str:
    out = io.StringIO()
    fields = list(StatsRow.model_fields)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(fields)
    for row in [*stats.groups, stats.total.model_copy(update={"group": "TOTAL"})]:
        data = row.model_dump(mode="json")
        writer.writerow(["" if data[f] is None else data[f] for f in fields])
    return out.getvalue()


# ---------------------------------------------------------------- admin


@admin.put("/banks/{code}", response_model=BankOut, summary="Create or rename a bank")
def put_bank(code: CodePath, body: BankIn, session: DbSession, _: Admin) -> BankOut:
    """Bank codes are permanent: clients and applications refer to them."""
    return BankOut.model_validate(service.put_bank(session, code, body.name))


@admin.put(
    "/products/{code}",
    response_model=ProductOut,
    responses=problems(409),
    summary="Create or replace a product",
)
def put_product(code: ProductPath, body: ProductIn, session: DbSession, _: Admin) -> ProductOut:
    """A product stays with its bank; changing `bank_code` is refused (409)."""
    return _product_out(service.put_product(session, code, body))
