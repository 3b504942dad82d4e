"""The credit-firm feature export: which enterprises a pull returns (the page), their rows as
NDJSON lines or CSV cells built by the database, and the audit of every pull.

A pull is for one firm (`OneFirm`); the audit trail lists the pulls a `FirmVisibility` sees.
The rows come from scoring's view of export facts (`scoring.EXPORT_FACTS_VIEW`), read by
name. Never commits (the stream, which outlives the request, runs in its own read-only
transaction).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, TextClause, select, text, tuple_
from sqlalchemy.orm import Session

from services.guarantee.features import CSV_CELLS_SQL, NDJSON_LINE_SQL
from services.guarantee.models import ExportPull
from services.scoring import queries as scoring
from shared import clock
from shared.auth.tenancy import FirmVisibility, OneFirm, restrict, sql_filter

EXPORT_BATCH = 2000

# Per enterprise changed in the cursor range, its last change, whether any change was this
# firm's own (a consent event, not a points recompute), and whether it is consented now.
_PAGE_SQL = """
    WITH changed AS (
        SELECT uscc, max(seq) AS seq, bool_or(firm_code IS NOT NULL) AS firm_event
        FROM gt_feed
        WHERE seq > :since AND seq <= :high AND (firm_code IS NULL OR firm_code = :firm)
        GROUP BY uscc
    )
    SELECT ch.uscc, ch.seq,
           EXISTS (SELECT 1 FROM gt_consent c
                   WHERE c.uscc = ch.uscc {consent_firm} AND c.revoked_at IS NULL
                     AND c.granted_at <= :now AND (c.expires_at IS NULL OR c.expires_at > :now)
           ) AS live,
           ch.firm_event
    FROM changed ch
    ORDER BY ch.seq
"""


@dataclass(frozen=True, slots=True)
class ExportPage:
    """The export page a pull gets: cursor range and the (uscc, live) rows in feed order."""

    since: int
    until: int
    rows: list[tuple[str, bool]]


def export_page(
    session: Session, firm: OneFirm, since: int, limit: int, *, high: int
) -> ExportPage:
    """Which enterprises a pull returns: changed since the cursor up to the high-water mark
    `high` (`shared.changefeed.high_water`, read before `session`'s snapshot), and either
    consented now (→ current features) or no longer consented after a change for this firm
    (→ tombstone)."""
    # The firm's consents are its own rows (the tenant filter); the feed is shared: points
    # changes are everyone's, consent changes the firm's (`:firm`).
    consent_firm, tenant = sql_filter("c.firm_code", firm)
    sql = text(_PAGE_SQL.format(consent_firm=consent_firm))  # a fixed fragment, values bound
    rows: list[tuple[str, bool]] = []
    until, last_seq = high, since
    result = session.execute(
        sql.execution_options(yield_per=2000),
        {"since": since, "high": high, "firm": firm.code, "now": clock.now(), **tenant},
    )
    for row in result:
        if not (row.live or row.firm_event):
            continue  # a points change of an enterprise this firm never saw
        if len(rows) == limit:
            until = last_seq  # more follow: the next pull starts after the last row sent
            break
        rows.append((row.uscc, row.live))
        last_seq = row.seq
    result.close()
    return ExportPage(since, until, rows)


def _export_sql(cells: str) -> TextClause:
    # The LATERAL keeps the view's lookup per page row (two index probes), as the rows come.
    columns = ", ".join(scoring.EXPORT_FACT_COLUMNS)
    return text(
        f"""
        SELECT {cells}
        FROM unnest(CAST(:usccs AS text[]), CAST(:live AS boolean[]))
             WITH ORDINALITY AS u(uscc, live, ord)
        LEFT JOIN LATERAL (
            SELECT {columns} FROM {scoring.EXPORT_FACTS_VIEW} v WHERE v.uscc = u.uscc
        ) AS f ON u.live
        WHERE NOT u.live OR f.period IS NOT NULL
        ORDER BY u.ord
        """  # noqa: S608 (built from module constants only)
    )


_NDJSON_SQL = _export_sql(NDJSON_LINE_SQL)
_CSV_SQL = _export_sql(CSV_CELLS_SQL)


def _export_batches(
    session: Session, page: ExportPage, sql: TextClause, batch: int
) -> Iterator[Sequence[Row[Any]]]:
    for start in range(0, len(page.rows), batch):
        chunk = page.rows[start : start + batch]
        params = {"usccs": [u for u, _ in chunk], "live": [live for _, live in chunk]}
        yield session.execute(sql, params).all()


def export_ndjson(
    session: Session, page: ExportPage, batch: int = EXPORT_BATCH
) -> Iterator[list[str]]:
    """The page's rows as JSON texts, in feed order, a batch at a time: features for
    consented enterprises with ranked points, tombstones for the others. The database builds
    each line; nothing is held beyond one batch."""
    for rows in _export_batches(session, page, _NDJSON_SQL, batch):
        yield [row[0] for row in rows]


def export_csv(
    session: Session, page: ExportPage, batch: int = EXPORT_BATCH
) -> Iterator[Sequence[Row[Any]]]:
    """The same rows as CSV cells (text or None), in data-dictionary order."""
    yield from _export_batches(session, page, _CSV_SQL, batch)


def record_pull(
    session: Session,
    *,
    client_id: str,
    firm: OneFirm,
    page: ExportPage,
    rows: int,
    tombstones: int,
    media_type: str,
    request_id: str | None,
) -> None:
    """Audit one export pull."""
    session.add(
        ExportPull(
            client_id=client_id,
            firm_code=firm.code,
            since_seq=page.since,
            until_seq=page.until,
            rows=rows,
            tombstones=tombstones,
            media_type=media_type,
            request_id=request_id,
        )
    )


def export_pulls(
    session: Session,
    firms: FirmVisibility,
    *,
    since: datetime | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> Sequence[ExportPull]:
    """Up to `limit + 1` recorded export pulls the caller may see, from `since`, oldest first,
    after (at, id)."""
    stmt = restrict(select(ExportPull), ExportPull.firm_code, firms)
    if since is not None:
        stmt = stmt.where(ExportPull.at >= since)
    if after is not None:
        stmt = stmt.where(tuple_(ExportPull.at, ExportPull.id) > tuple_(*after))
    return session.scalars(stmt.order_by(ExportPull.at, ExportPull.id).limit(limit + 1)).all()
