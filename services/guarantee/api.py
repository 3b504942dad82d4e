"""Guarantee endpoints: waiver, fee quotes and rates, consents, the feature export."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from sqlalchemy.orm import Session

from services.guarantee import consents, export, fees, waiver
from services.guarantee.errors import NotAFirm
from services.guarantee.features import FEATURE_NAMES, FEATURE_SCHEMA_VERSION, FEATURES
from services.guarantee.models import Consent
from services.guarantee.schemas import (
    ConsentIn,
    ConsentOut,
    FeatureOut,
    FeatureSchema,
    FeeRateIn,
    FeeRateOut,
    QuoteIn,
    QuoteOut,
    TopEntry,
    WaiverBasis,
    WaiverOut,
)
from shared import clock
from shared.app import settings_of
from shared.auth.deps import (
    Admin,
    ExportReader,
    FirmsVisible,
    GuaranteeReader,
    ProgrammeWide,
    acting_firm,
    refused_as,
)
from shared.auth.tenancy import OneFirm, tenant_code
from shared.db import DbSession
from shared.openapi import problems
from shared.pagination import CursorParam, Keyset, Limit, Page, decode_cursor, encode_cursor
from shared.uscc import Uscc

Year = Annotated[int, Path(ge=2000, le=2100)]
MAX_EXPORT_ROWS = 100_000

router = APIRouter(prefix="/v1/guarantee", tags=["guarantee"])
admin = APIRouter(prefix="/v1/admin", tags=["admin: guarantee"])


def _this_year() -> int:
    return clock.today().year


# `ActingFirm`, refused as the export's own problem (`NotAFirm`, 403).
ExportingFirm = Annotated[OneFirm, Depends(refused_as(NotAFirm, acting_firm))]


def _waiver_out(uscc: str, found: waiver.Waiver) -> WaiverOut:
    basis = None
    if found.ranking_period is not None and found.model_version is not None:
        basis = WaiverBasis(
            ranking_period=found.ranking_period,
            rank=found.rank,
            rank_total=found.rank_total,
            model_version=found.model_version,
        )
    return WaiverOut(
        uscc=uscc, year=found.year, waived=found.waived, basis=basis, reason=found.reason
    )


@router.get(
    "/enterprises/{uscc}/waiver", response_model=WaiverOut, summary="泰信保 fee waiver for a year"
)
def get_waiver(
    uscc: Uscc,
    session: DbSession,
    _: GuaranteeReader,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> WaiverOut:
    """Waived when in the top 100 of the ranking of the previous year's period; no ranking
    for that period → `waived: false, reason: "ranking-unavailable"`."""
    return _waiver_out(uscc, waiver.waiver_for(session, uscc, year or _this_year()))


@router.get(
    "/waivers/{year}",
    response_model=list[TopEntry],
    summary="The enterprises waived in a year (bureau, operators)",
    responses={200: {"content": {"text/csv": {}}}},
)
def get_waivers(
    year: Year,
    request: Request,
    session: DbSession,
    _reader: GuaranteeReader,
    _programme: ProgrammeWide,
) -> list[TopEntry] | PlainTextResponse:
    """The top 100 of period `year − 1`; `Accept: text/csv` for CSV."""
    entries = [
        TopEntry(
            rank=s.rank,
            uscc=s.uscc,
            points=s.points,
            ranking_period=s.period,
            model_version=s.model_version,
        )
        for s in waiver.top_list(session, year)
    ]
    if "text/csv" in request.headers.get("accept", ""):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(list(TopEntry.model_fields))
        for e in entries:
            writer.writerow(e.model_dump(mode="json").values())
        return PlainTextResponse(out.getvalue(), media_type="text/csv; charset=utf-8")
    return entries


@router.post(
    "/quotes",
    response_model=QuoteOut,
    responses=problems(409),
    summary="Price the 泰信保 guarantee",
)
def post_quote(body: QuoteIn, session: DbSession, _: GuaranteeReader) -> QuoteOut:
    """fee = amount × annual rate × months / 12, half-up to cents; waived → payable 0.00.
    Writes nothing."""
    year = body.year or _this_year()
    found = fees.quote(session, body.uscc, body.amount, body.term_months, year)
    return QuoteOut(
        uscc=body.uscc,
        year=year,
        amount=body.amount,
        term_months=body.term_months,
        fee_rate=found.fee_rate,
        fee=found.fee,
        waived=found.waived,
        payable_fee=found.payable_fee,
        waiver=_waiver_out(body.uscc, found.waiver),
    )


@router.get("/fee-rates", response_model=list[FeeRateOut], summary="Fee-rate history")
def get_fee_rates(session: DbSession, _: GuaranteeReader) -> list[FeeRateOut]:
    """Every rate ever set, newest first."""
    return [FeeRateOut.model_validate(r) for r in fees.fee_history(session)]


@admin.post(
    "/fee-rates",
    status_code=201,
    response_model=FeeRateOut,
    summary="Set the 泰信保 fee rate from a year on",
)
def post_fee_rate(body: FeeRateIn, session: DbSession, principal: Admin) -> FeeRateOut:
    """The newest setting for the latest effective year ≤ a loan's year applies."""
    return FeeRateOut.model_validate(
        fees.set_fee_rate(session, body.effective_year, body.rate, body.note, principal.client_id)
    )


# ---------------------------------------------------------------- consents


def _consent_out(consent: Consent) -> ConsentOut:
    return ConsentOut.model_validate(
        {
            **{k: getattr(consent, k) for k in ConsentOut.model_fields if k != "live"},
            "live": consents.live(consent, clock.now()),
        }
    )


@admin.post(
    "/consents",
    status_code=201,
    response_model=ConsentOut,
    summary="Record an enterprise's consent to share with a firm",
)
def post_consent(body: ConsentIn, session: DbSession, principal: Admin) -> ConsentOut:
    """Entered by an operator on the enterprise's behalf, with an evidence reference."""
    return _consent_out(consents.grant(session, body, principal.client_id))


@admin.post(
    "/consents/{consent_id}/revoke",
    response_model=ConsentOut,
    responses=problems(409),
    summary="Revoke a consent",
)
def revoke_consent(consent_id: uuid.UUID, session: DbSession, principal: Admin) -> ConsentOut:
    """The history keeps it; the firm's next pull gets a tombstone."""
    return _consent_out(consents.revoke(session, consent_id, principal.client_id))


@router.get("/consents", response_model=Page[ConsentOut], summary="Consents (bureau, operators)")
def get_consents(
    request: Request,
    session: DbSession,
    _reader: GuaranteeReader,
    _programme: ProgrammeWide,
    firms: FirmsVisible,
    uscc: Annotated[Uscc | None, Query()] = None,
    firm_code: Annotated[str | None, Query(max_length=32)] = None,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> Page[ConsentOut]:
    """Every consent, revoked and expired ones included, oldest first."""
    keyset = Keyset.start(
        cursor,
        key=settings_of(request).cursor_key,
        context=f"consents:{tenant_code(firms)}:{uscc}:{firm_code}",
    )
    after = None
    if keyset.after:
        at, ident = keyset.after
        after = (datetime.fromisoformat(str(at)), uuid.UUID(str(ident)))
    rows = consents.list_consents(
        session, firms, uscc=uscc, firm_code=firm_code, after=after, limit=limit
    )
    return keyset.page(rows, limit, lambda c: [c.created_at.isoformat(), str(c.id)], _consent_out)


# ---------------------------------------------------------------- feature export


@router.get(
    "/features/schema", response_model=FeatureSchema, summary="The feature table's data dictionary"
)
def get_feature_schema(_: ExportReader) -> FeatureSchema:
    """Name, type, unit, definition and the schema version each feature appeared in."""
    return FeatureSchema(
        feature_schema_version=FEATURE_SCHEMA_VERSION,
        features=[
            FeatureOut(
                name=f.name,
                type=f.type,
                unit=f.unit,
                definition=f.definition,
                since_version=f.since_version,
            )
            for f in FEATURES
        ],
    )


@router.get(
    "/features",
    summary="Incremental feature export (NDJSON or CSV)",
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}},
)
def get_features(
    request: Request,
    principal: ExportReader,
    firm: ExportingFirm,
    since: Annotated[
        str | None, Query(max_length=1024, description="cursor of the last pull")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EXPORT_ROWS)] = 10_000,
) -> StreamingResponse:
    """Rows of consented enterprises changed since the cursor, each with
    `feature_schema_version`; tombstones `{uscc, deleted: true}` for consents revoked or
    expired since. The next cursor is in `X-Next-Cursor` and, for NDJSON, the last line."""
    key = settings_of(request).cursor_key
    context = f"export:{firm.code}"
    start = int(decode_cursor(since, key=key, context=context)[0]) if since else 0
    csv_out = "text/csv" in request.headers.get("accept", "")
    factory = request.app.state.sessionmaker
    with factory.begin() as writer:
        consents.record_expiries(writer)
    reader: Session = factory()
    reader.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    try:
        page = export.export_page(reader, firm, start, limit)
    except BaseException:
        reader.close()
        raise
    next_cursor = encode_cursor([page.until], key=key, context=context)
    media = "text/csv; charset=utf-8" if csv_out else "application/x-ndjson"
    request_id = request.scope.get("state", {}).get("request_id")

    tombstones = sum(not live for _, live in page.rows)

    def stream() -> Iterator[bytes]:
        rows = 0
        try:
            if csv_out:
                yield _csv_lines([FEATURE_NAMES])
                for records in export.export_csv(reader, page):
                    rows += len(records)
                    yield _csv_lines(records)
            else:
                for lines in export.export_ndjson(reader, page):
                    rows += len(lines)
                    yield "".join(f"{line}\n" for line in lines).encode()
                yield (json.dumps({"next_cursor": next_cursor}) + "\n").encode()
        finally:
            reader.close()
        with factory.begin() as audit:
            export.record_pull(
                audit,
                client_id=principal.client_id,
                firm=firm,
                page=page,
                rows=rows,
                tombstones=tombstones,
                media_type=media.split(";")[0],
                request_id=request_id,
            )

    return StreamingResponse(
        stream(),
        media_type=media,
        headers={
            "X-Next-Cursor": next_cursor,
            "X-Feature-Schema-Version": FEATURE_SCHEMA_VERSION,
            "Cache-Control": "no-store",
        },
    )


def _csv_lines(records: Iterable[Sequence[str | None]]) -> bytes:
    """RFC 4180 lines (CRLF); None is an empty cell."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(records)
    return out.getvalue().encode()
