"""The statistics endpoint: loan figures per group and in total, as JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from services.loans import stats
from services.loans.schemas import Stats, StatsRow
from shared.auth.deps import BanksVisible, StatsReader
from shared.auth.tenancy import tenant_code
from shared.db import DbSession
from shared.errors import Unprocessable

router = APIRouter()


@router.get(
    "/stats",
    response_model=Stats,
    summary="Loan statistics",
    responses={200: {"content": {"text/csv": {}}}},
)
def get_stats(
    request: Request,
    session: DbSession,
    _: StatsReader,
    seen: BanksVisible,
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
    rows, total = stats.stats(session, seen, from_date=from_, to_date=to, group_by=group_by)
    result = Stats(
        from_=from_,
        to=to,
        group_by=group_by,
        bank_code=tenant_code(seen),
        groups=[StatsRow.model_validate(r) for r in rows],
        total=StatsRow.model_validate(total),
    )
    if "text/csv" in request.headers.get("accept", ""):
        return PlainTextResponse(_csv(result), media_type="text/csv; charset=utf-8")
    return result


def _csv(result: Stats) -> str:
    out = io.StringIO()
    fields = list(StatsRow.model_fields)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(fields)
    for row in [*result.groups, result.total.model_copy(update={"group": "TOTAL"})]:
        data = row.model_dump(mode="json")
        writer.writerow(["" if data[f] is None else data[f] for f in fields])
    return out.getvalue()
