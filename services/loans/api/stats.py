"""The statistics endpoint: loan figures per group and in total, as JSON, CSV or XLSX."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from typing_extensions import TypeAliasType

from services.loans import stats
from services.loans.api.sheets import STATS_COLUMNS
from services.loans.schemas import Stats, StatsRow
from shared.auth.deps import BanksVisible, StatsReader
from shared.auth.tenancy import tenant_code
from shared.db import ReplicaSession
from shared.errors import Unprocessable
from shared.negotiation import JSON, Negotiated, media_responses
from shared.tabular import FILES, SpreadsheetOptions, file_response

router = APIRouter()

StatsGroupBy = TypeAliasType(
    "StatsGroupBy", Literal["bank", "product", "district", "industry", "month", "stage"]
)
"""What loan statistics may be grouped by (`services.loans.stats.GROUPS`)."""


@router.get(
    "/stats",
    response_model=Stats,
    summary="Loan statistics (JSON, CSV or XLSX)",
    responses=media_responses(*FILES),
)
def get_loan_stats(
    session: ReplicaSession,
    _: StatsReader,
    seen: BanksVisible,
    media: Negotiated,
    options: SpreadsheetOptions,
    from_: Annotated[date, Query(alias="from")],
    to: date,
    group_by: StatsGroupBy | None = None,
) -> Stats | StreamingResponse:
    """Applications submitted between `from` and `to` (Asia/Shanghai dates, inclusive), per
    group and in total. A bank gets only its own figures. `Accept: text/csv` or the XLSX
    media type for a file of the groups and a `TOTAL` row."""
    if to < from_:
        raise Unprocessable(
            "`to` is before `from`", errors=[{"loc": ["query", "to"], "msg": "before from"}]
        )
    rows, total = stats.stats(session, seen, from_date=from_, to_date=to, group_by=group_by)
    result = Stats(
        from_=from_,
        to=to,
        group_by=group_by,
        bank_code=tenant_code(seen),
        groups=[StatsRow.model_validate(r) for r in rows],
        total=StatsRow.model_validate(total),
    )
    if media == JSON:
        return result
    lines = [*result.groups, result.total.model_copy(update={"group": "TOTAL"})]
    return file_response(
        media,
        STATS_COLUMNS,
        [line.model_dump(mode="json") for line in lines],
        options,
        name=f"loan-stats-{from_}-{to}",
    )
