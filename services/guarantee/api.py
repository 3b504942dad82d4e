"""Guarantee endpoints: waiver, fee quotes and rates, consents, the feature export."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from services.guarantee import consents, export, fees, waiver
from services.guarantee.changes import FEE_RATE
from services.guarantee.errors import NotAFirm
from services.guarantee.features import FEATURE_SCHEMA_VERSION, FEATURES
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
    WaiverOut,
    WaiverPage,
)
from services.guarantee.sheets import FEATURE_COLUMNS, WAIVER_COLUMNS
from services.scoring import queries as scoring
from services.scoring.queries import PointsSnapshot
from shared import changefeed as feed
from shared import clock, replica
from shared.app import settings_of
from shared.as_of import AsOf, Versions, require_history
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
from shared.changes.api import GOVERNED, Governed
from shared.db import DbSession
from shared.negotiation import JSON, NDJSON, Negotiated, media_responses
from shared.openapi import problems
from shared.pagination import (
    Page,
    PageParams,
    decode_cursor,
    encode_cursor,
)
from shared.tabular import (
    FILES,
    SpreadsheetOptions,
    file_chunks,
    file_headers,
    file_response,
)
from shared.uscc import Uscc
from shared.years import FIRST_YEAR, LAST_YEAR, YearPath

MAX_EXPORT_ROWS = 100_000

router = APIRouter(prefix="/v1/guarantee", tags=["guarantee"])
admin = APIRouter(prefix="/v1/admin", tags=["admin: guarantee"])


def _this_year(at: datetime | None = None) -> int:
    """The year of today, or of the instant `at`, in Asia/Shanghai."""
    return (clock.today() if at is None else clock.local_date(at)).year


def _ranking_used(session: Session, year: int, at: datetime | None) -> Versions:
    """The ranking run a waiver of `year` rests on (that of `year − 1`, at `at`)."""
    require_history(at, lambda: scoring.history_start(session))
    return waiver.ranking_versions(session, year, at)


# `ActingFirm`, refused as the export's own problem (`NotAFirm`, 403).
ExportingFirm = Annotated[OneFirm, Depends(refused_as(NotAFirm, acting_firm))]


@router.get(
    "/enterprises/{uscc}/waiver", response_model=WaiverOut, summary="泰信保 fee waiver for a year"
)
def get_waiver(
    uscc: Uscc,
    session: DbSession,
    _: GuaranteeReader,
    as_of: AsOf,
    year: Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR)] = None,
) -> WaiverOut:
    """Waived when in the top 100 of the ranking of the previous year's period; no ranking
    for that period → `waived: false, reason: "ranking-unavailable"`. `as_of`: on the
    ranking of that instant (and `year` defaults to that instant's)."""
    year = year or _this_year(as_of)
    used = _ranking_used(session, year, as_of)
    return WaiverOut.of(uscc, waiver.waiver_for(session, uscc, year, as_of), used)


def _top_entry(standing: PointsSnapshot) -> TopEntry:
    return TopEntry(
        rank=standing.rank,
        uscc=standing.uscc,
        points=standing.points,
        ranking_period=standing.period,
        model_version=standing.model_version,
    )


@router.get(
    "/waivers/{year}",
    response_model=WaiverPage,
    summary="The enterprises waived in a year",
    responses=media_responses(*FILES),
)
def list_waivers(
    year: YearPath,
    session: DbSession,
    _: GuaranteeReader,
    media: Negotiated,
    options: SpreadsheetOptions,
    paging: PageParams,
    as_of: AsOf,
) -> WaiverPage | StreamingResponse:
    """The top 100 of period `year − 1`, by rank: the waiver status of a page of that
    period's ranking is its USCCs' presence here. Every `guarantee:read` caller, banks too:
    the top 100 is a published list, and a bank reads the whole ranking already. A CSV or
    XLSX file holds all of them (after `cursor` when one is given). `as_of`: the list of
    that instant; a cursor pages the ranking run it came from (another run's is refused)."""
    used = _ranking_used(session, year, as_of)
    keyset = paging.keyset(f"waivers:{year}:{used.ranking_run}")
    after = keyset.first(int) or 0
    # At most `waiver.TOP` rows by the rule: read whole, paged here.
    rest = [s for s in waiver.top_list(session, year, as_of) if s.rank > after]
    if media != JSON:
        rows = [_top_entry(s).model_dump(mode="json") for s in rest]
        return file_response(media, WAIVER_COLUMNS, rows, options, name=f"waivers-{year}")
    page = keyset.page(rest[: paging.limit + 1], lambda s: [s.rank], _top_entry)
    return WaiverPage(items=page.items, next_cursor=page.next_cursor, versions=used)


@router.post(
    "/quotes",
    response_model=QuoteOut,
    responses=problems(409),
    summary="Price the 泰信保 guarantee",
)
def quote_guarantee_fee(
    body: QuoteIn, session: DbSession, _: GuaranteeReader, as_of: AsOf
) -> QuoteOut:
    """fee = amount × annual rate × months / 12, half-up to cents; waived → payable 0.00.
    Writes nothing. `as_of`: with the ranking and the fee rate in force at that instant (and
    `year` defaults to that instant's)."""
    year = body.year or _this_year(as_of)
    used = _ranking_used(session, year, as_of)
    found = fees.quote(session, body.uscc, body.amount, body.term_months, year, as_of)
    return QuoteOut(
        uscc=body.uscc,
        year=year,
        amount=body.amount,
        term_months=body.term_months,
        fee_rate=found.fee_rate,
        fee=found.fee,
        waived=found.waived,
        payable_fee=found.payable_fee,
        waiver=WaiverOut.of(body.uscc, found.waiver, used),
        versions=used.model_copy(update={"fee_rate_id": found.fee_rate_id}),
    )


@router.get("/fee-rates", response_model=Page[FeeRateOut], summary="Fee-rate history")
def list_fee_rates(
    session: DbSession,
    _: GuaranteeReader,
    paging: PageParams,
) -> Page[FeeRateOut]:
    """Every rate ever set, newest first."""
    keyset = paging.keyset("fee-rates")
    after = keyset.values(datetime, int)
    rows = fees.fee_history(session, after=after, limit=paging.limit)
    return keyset.page(rows, lambda r: [r.set_at.isoformat(), r.id], FeeRateOut.model_validate)


@admin.post(
    "/fee-rates",
    status_code=201,
    response_model=FeeRateOut,
    responses=GOVERNED,
    summary="Set the 泰信保 fee rate from a year on",
)
def create_fee_rate(body: FeeRateIn, session: DbSession, gov: Governed) -> Any:
    """The newest setting for the latest effective year ≤ a loan's year applies. Governed (four
    eyes): 202 with the pending change unless INNOCREDIT_FOUR_EYES leaves `fee-rate` out."""
    if gov.requires(FEE_RATE):
        return gov.propose(FEE_RATE, body.model_dump(mode="json"))
    return FeeRateOut.model_validate(
        fees.set_fee_rate(session, body.effective_year, body.rate, body.note, gov.maker.client_id)
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
def create_consent(body: ConsentIn, session: DbSession, principal: Admin) -> ConsentOut:
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
def list_consents(
    session: DbSession,
    _reader: GuaranteeReader,
    _programme: ProgrammeWide,
    firms: FirmsVisible,
    paging: PageParams,
    uscc: Annotated[Uscc | None, Query()] = None,
    firm_code: Annotated[str | None, Query(max_length=32)] = None,
) -> Page[ConsentOut]:
    """Every consent, revoked and expired ones included, oldest first."""
    keyset = paging.keyset(f"consents:{tenant_code(firms)}:{uscc}:{firm_code}")
    after = keyset.values(datetime, uuid.UUID)
    rows = consents.list_consents(
        session, firms, uscc=uscc, firm_code=firm_code, after=after, limit=paging.limit
    )
    return keyset.page(rows, lambda c: [c.created_at.isoformat(), str(c.id)], _consent_out)


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
    summary="Incremental feature export (NDJSON, CSV or XLSX)",
    response_class=StreamingResponse,
    responses=media_responses(
        NDJSON,
        *FILES,
        headers=("X-Next-Cursor", "X-Feature-Schema-Version", "Cache-Control"),
    ),
)
def pull_feature_export(
    request: Request,
    principal: ExportReader,
    firm: ExportingFirm,
    media: Negotiated,
    options: SpreadsheetOptions,
    since: Annotated[
        str | None, Query(max_length=1024, description="cursor of the last pull")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EXPORT_ROWS)] = 10_000,
) -> StreamingResponse:
    """Rows of consented enterprises changed since the cursor, each with
    `feature_schema_version`; tombstones `{uscc, deleted: true}` for consents revoked or
    expired since. The next cursor is in `X-Next-Cursor` and, for NDJSON, the last line.
    CSV and XLSX hold the same rows and cells (XLSX typed by the data dictionary)."""
    key = settings_of(request).cursor_key
    context = f"export:{firm.code}"
    start = int(decode_cursor(since, key=key, context=context)[0]) if since else 0
    factory = request.app.state.sessionmaker
    with factory.begin() as writer:
        consents.record_expiries(writer)
        high = feed.high_water(writer)  # committed before the reader's snapshot begins
    # On the replica only once it has replayed that commit (else on the primary).
    reading = replica.reader_after_commit(
        factory,
        request.app.state.read_sessionmaker,
        wait_seconds=settings_of(request).replica_wait_seconds,
    )
    reader: Session = reading()
    reader.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    try:
        page = export.export_page(reader, firm, start, limit, high=high)
    except BaseException:
        reader.close()
        raise
    next_cursor = encode_cursor([page.until], key=key, context=context)
    request_id = request.scope.get("state", {}).get("request_id")

    tombstones = sum(not live for _, live in page.rows)
    rows = 0

    def records() -> Iterator[Sequence[str | None]]:
        nonlocal rows
        for batch in export.export_csv(reader, page):
            rows += len(batch)
            yield from batch

    def stream() -> Iterator[bytes]:
        nonlocal rows
        try:
            if media == NDJSON:
                for lines in export.export_ndjson(reader, page):
                    rows += len(lines)
                    yield "".join(f"{line}\n" for line in lines).encode()
                yield (json.dumps({"next_cursor": next_cursor}) + "\n").encode()
            else:
                yield from file_chunks(media, FEATURE_COLUMNS, records(), options, name="features")
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
                media_type=media,
                request_id=request_id,
            )

    headers = file_headers(media, "features") if media != NDJSON else {"Content-Type": NDJSON}
    return StreamingResponse(
        stream(),
        media_type=headers.pop("Content-Type"),
        headers={
            **headers,
            "X-Next-Cursor": next_cursor,
            "X-Feature-Schema-Version": FEATURE_SCHEMA_VERSION,
            "Cache-Control": "no-store",
        },
    )
