"""Endpoints of applications: submit, read, list, history, and the bank's changes.

Reads see what the caller's `BanksVisible` lets it; every write acts for the `ActingBank` (a
bank's own client), is idempotent where money is concerned, and honours `If-Match`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from services.loans import applications, deadlines, lifecycle, submission
from services.loans.api.sheets import APPLICATION_COLUMNS
from services.loans.api.writes import (
    CHANGED,
    CREATED,
    IDEMPOTENT_WRITE,
    TAGGED,
    IdempotentWrite,
    IfMatchHeader,
    actor,
    elapsed_in,
    etag,
)
from services.loans.applications import (
    ApplicationFilter,
    Elapsed,
    application_out,
    due_window,
    list_position,
)
from services.loans.schedule import work_calendar
from services.loans.schemas import (
    ApplicationDeadline,
    ApplicationIn,
    ApplicationOut,
    ApplicationStatus,
    DecisionDue,
    DecisionIn,
    DisbursementIn,
    EventOut,
    RepaymentIn,
)
from services.scoring import queries as scoring
from shared.as_of import AsOf, require_history
from shared.auth.deps import ActingBank, BanksVisible, LoansReader, LoansWriter
from shared.auth.tenancy import tenant_code
from shared.clock import today
from shared.db import DbSession
from shared.errors import Unprocessable
from shared.negotiation import JSON, Negotiated, media_responses
from shared.openapi import problems
from shared.pagination import Page, PageParams
from shared.tabular import FILES, SpreadsheetOptions, every_row, file_response
from shared.timestamps import Timestamp

router = APIRouter()


@router.post(
    "/applications",
    status_code=201,
    response_model=ApplicationOut,
    responses={**CREATED, **problems(400, 404, 409)},
    openapi_extra=IDEMPOTENT_WRITE,
    summary="Submit an application (Idempotency-Key)",
)
def submit_application(
    body: ApplicationIn, write: IdempotentWrite, bank: ActingBank
) -> JSONResponse:
    """Checked against the quote at submission; snapshots points, rank and model version;
    computes the two-working-day decision deadline."""
    return write(body, lambda s, who: submission.submit(s, bank, body, who), created=True)


@router.get(
    "/applications",
    response_model=Page[ApplicationOut],
    responses=media_responses(*FILES),
    summary="Applications (JSON pages, or the whole list as CSV or XLSX)",
)
def list_applications(
    request: Request,
    session: DbSession,
    _: LoansReader,
    seen: BanksVisible,
    media: Negotiated,
    options: SpreadsheetOptions,
    paging: PageParams,
    status: ApplicationStatus | None = None,
    product_code: Annotated[str | None, Query(max_length=40)] = None,
    updated_since: Annotated[Timestamp | None, Query()] = None,
    decision_due: Annotated[
        DecisionDue | None,
        Query(
            description="only undecided (`submitted`) applications whose decision deadline, as "
            "an Asia/Shanghai business date, is before today (`overdue`), today (`today`), or "
            "after today up to and including the next working day (`tomorrow`); ordered by "
            "(decision_due_at, id)"
        ),
    ] = None,
) -> Page[ApplicationOut] | StreamingResponse:
    """Ordered by (updated_at, id): a client syncing with `updated_since` sees every change;
    with `decision_due`, by (decision_due_at, id), most overdue first. A bank sees only its own
    bank's applications. A CSV or XLSX file holds the whole filtered list (after `cursor` when
    one is given; `limit` sizes JSON pages only)."""
    if updated_since is not None and updated_since.tzinfo is None:
        raise Unprocessable(
            "updated_since needs a UTC offset",
            errors=[{"loc": ["query", "updated_since"], "msg": "offset required"}],
        )
    keyset = paging.keyset(
        f"applications:{tenant_code(seen)}:{status}:{product_code}:{updated_since}:{decision_due}"
    )
    after = keyset.values(datetime, uuid.UUID)
    # One calendar and one date for the whole answer: its windows and its elapsed days agree.
    calendar, on = work_calendar(session), today()
    elapsed = Elapsed(lambda: calendar, on)
    due = None if decision_due is None else due_window(decision_due, calendar, on)
    where = ApplicationFilter(status, product_code, updated_since, due)
    if media != JSON:
        every = every_row(
            request.app.state.sessionmaker,
            lambda s, a, n: applications.list_applications(s, seen, where, after=a, limit=n),
            lambda a: list_position(where, a),
            after,
        )
        rows = (application_out(a, elapsed).model_dump(mode="json") for a in every)
        return file_response(media, APPLICATION_COLUMNS, rows, options, name="applications")
    rows_page = applications.list_applications(
        session, seen, where, after=after, limit=paging.limit
    )
    return keyset.page(
        rows_page,
        lambda a: [list_position(where, a)[0].isoformat(), str(a.id)],
        lambda a: application_out(a, elapsed),
    )


@router.get(
    "/applications/{app_id}",
    response_model=ApplicationOut,
    responses=TAGGED,
    summary="An application",
)
def get_application(
    app_id: uuid.UUID, session: DbSession, _: LoansReader, seen: BanksVisible, response: Response
) -> ApplicationOut:
    """With an `ETag` for `If-Match` on state changes."""
    app = applications.get_application(session, seen, app_id)
    response.headers["ETag"] = etag(app)
    return application_out(app, elapsed_in(session))


@router.get(
    "/applications/{app_id}/deadline",
    response_model=ApplicationDeadline,
    summary="An application's decision deadline (now or as of an instant)",
)
def get_application_deadline(
    app_id: uuid.UUID, session: DbSession, _: LoansReader, seen: BanksVisible, as_of: AsOf
) -> ApplicationDeadline:
    """When the decision is due and whether that is provisional; `as_of`: as it stood at that
    instant (a calendar load may have moved it since), 404 when the application did not exist
    yet."""
    require_history(as_of, lambda: scoring.history_start(session))
    return deadlines.deadline_of(session, seen, app_id, as_of)


@router.get(
    "/applications/{app_id}/events",
    response_model=Page[EventOut],
    summary="An application's history",
)
def list_application_events(
    app_id: uuid.UUID,
    session: DbSession,
    _: LoansReader,
    seen: BanksVisible,
    paging: PageParams,
) -> Page[EventOut]:
    """Every state change, oldest first: who, when, from which status to which."""
    keyset = paging.keyset(f"events:{tenant_code(seen)}:{app_id}")
    after = keyset.first(int)
    rows = applications.events(session, seen, app_id, after=after, limit=paging.limit)
    return keyset.page(rows, lambda e: [e.id], EventOut.model_validate)


@router.post(
    "/applications/{app_id}/decision",
    response_model=ApplicationOut,
    responses={**CHANGED, **problems(400, 409)},
    openapi_extra=IDEMPOTENT_WRITE,
    summary="Record the decision (once; Idempotency-Key)",
)
def decide_application(
    app_id: uuid.UUID,
    body: DecisionIn,
    write: IdempotentWrite,
    bank: ActingBank,
    if_match: IfMatchHeader,
) -> JSONResponse:
    """Sets `decision_working_days` (working days after the submission date up to and
    including the decision date) and `on_time`."""
    return write(body, lambda s, who: lifecycle.decide(s, bank, app_id, body, who, if_match))


@router.post(
    "/applications/{app_id}/disbursements",
    response_model=ApplicationOut,
    responses={**CHANGED, **problems(400, 409)},
    openapi_extra=IDEMPOTENT_WRITE,
    summary="Record a disbursement (Idempotency-Key)",
)
def record_disbursement(
    app_id: uuid.UUID,
    body: DisbursementIn,
    write: IdempotentWrite,
    bank: ActingBank,
    if_match: IfMatchHeader,
) -> JSONResponse:
    """The disbursements' sum never exceeds the approved amount."""
    return write(body, lambda s, who: lifecycle.disburse(s, bank, app_id, body, who, if_match))


@router.post(
    "/applications/{app_id}/repayment-status",
    response_model=ApplicationOut,
    responses={**CHANGED, **problems(400, 409)},
    openapi_extra=IDEMPOTENT_WRITE,
    summary="Report the repayment status (Idempotency-Key)",
)
def report_repayment_status(
    app_id: uuid.UUID,
    body: RepaymentIn,
    write: IdempotentWrite,
    bank: ActingBank,
    if_match: IfMatchHeader,
) -> JSONResponse:
    """`current` (still disbursed), `overdue`, `repaid` or `defaulted`, with the outstanding
    principal as of a date."""
    return write(
        body, lambda s, who: lifecycle.report_repayment(s, bank, app_id, body, who, if_match)
    )


@router.post(
    "/applications/{app_id}/withdraw",
    response_model=ApplicationOut,
    responses={**TAGGED, **problems(409)},
    summary="Withdraw an undecided application",
)
def withdraw_application(
    app_id: uuid.UUID,
    request: Request,
    session: DbSession,
    principal: LoansWriter,
    bank: ActingBank,
    response: Response,
    if_match: IfMatchHeader,
) -> ApplicationOut:
    """Only from `submitted`; anything else is 409 invalid-transition."""
    app = lifecycle.withdraw(session, bank, app_id, actor(request, principal), if_match)
    response.headers["ETag"] = etag(app)
    return application_out(app, elapsed_in(session))
