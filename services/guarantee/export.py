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
from typing import Any, Literal

from sqlalchemy import Row, TextClause, select, text, tuple_
from sqlalchemy.orm import Session

from services.guarantee.features import CSV_CELLS_SQL, NDJSON_LINE_SQL
from services.guarantee.models import ExportPull
from services.scoring import queries as scoring
from shared import clock
from shared.auth.tenancy import FirmVisibility, OneFirm, restrict, sql_filter

EXPORT_BATCH = 2000

# A page is chosen from the firm's consents when they are fewer than the entries in the
# cursor range divided by this: a consent costs a probe of the feed's index by enterprise, an
# entry in the range a read and a hash-table update, 7-8 times less (12 against 1.6 µs at
# 100,000 enterprises, 10,000 consented: `bench/export.py`).
ENTRIES_PER_CONSENT = 6

# Both queries return the enterprises a pull may send, per enterprise changed in the cursor
# range (points changes are everyone's, consent changes the firm's): consented to the firm now
# (`live`) → a feature row, at its last change in the range; not consented, after a consent
# event of this firm in the range → a tombstone, at the last such event. In that order, one
# more row than the page holds (which says more follow). The tombstone sits at the firm's own
# event, not at a later points change: a page that ends between the two must still carry it,
# since the next pull's range no longer holds the event (and a points change of an enterprise
# not consented to the firm is never sent).
_PAGE_ROWS = """
    SELECT uscc, live, seq FROM (
        SELECT uscc, live, CASE WHEN live THEN last_seq ELSE firm_seq END AS seq FROM {source}
    ) AS placed
    WHERE seq IS NOT NULL
    ORDER BY seq
    LIMIT :take
"""

# From the feed: every entry in the range, grouped by enterprise, each probed for a consent.
_FEED_PAGE_SQL = _PAGE_ROWS.format(
    source="""(
        SELECT ch.*,
               EXISTS (SELECT 1 FROM gt_consent c
                       WHERE c.uscc = ch.uscc {consent_firm} AND c.revoked_at IS NULL
                         AND c.granted_at <= :now AND (c.expires_at IS NULL OR c.expires_at > :now)
               ) AS live
        FROM (
            SELECT uscc, max(seq) AS last_seq,
                   max(seq) FILTER (WHERE firm_code IS NOT NULL) AS firm_seq
            FROM gt_feed
            WHERE seq > :since AND seq <= :high AND (firm_code IS NULL OR firm_code = :firm)
            GROUP BY uscc
        ) AS ch
    ) AS changed"""
)

# From the consents: every enterprise the firm ever held a consent of (a firm's consent event
# in the feed is written in the transaction that writes its consent row, and consents are
# never deleted, so no enterprise the page owes is outside them), each probing its own
# entries in the range through `ix_gt_feed_uscc_seq`.
_CONSENT_PAGE_SQL = _PAGE_ROWS.format(
    source="""(
        SELECT u.uscc, u.live, ch.last_seq, ch.firm_seq
        FROM (
            SELECT c.uscc,
                   bool_or(c.revoked_at IS NULL AND c.granted_at <= :now
                           AND (c.expires_at IS NULL OR c.expires_at > :now)) AS live
            FROM gt_consent c
            WHERE TRUE {consent_firm}
            GROUP BY c.uscc
        ) AS u
        CROSS JOIN LATERAL (
            SELECT max(f.seq) AS last_seq,
                   max(f.seq) FILTER (WHERE f.firm_code IS NOT NULL) AS firm_seq
            FROM gt_feed f
            WHERE f.uscc = u.uscc AND f.seq > :since AND f.seq <= :high
              AND (f.firm_code IS NULL OR f.firm_code = :firm)
        ) AS ch
    ) AS held"""
)

# The firm's consent rows, counted up to a cap (an index-only scan that stops there).
_CONSENTS_UP_TO_SQL = """
    SELECT count(*) FROM (SELECT 1 FROM gt_consent c WHERE TRUE {consent_firm} LIMIT :cap) AS s
"""

DrivenBy = Literal["feed", "consents"]


@dataclass(frozen=True, slots=True)
class ExportPage:
    """The export page a pull gets: cursor range and the (uscc, live) rows in feed order."""

    since: int
    until: int
    rows: list[tuple[str, bool]]


@dataclass(frozen=True, slots=True)
class PageQuery:
    """The statement that chooses a page, its parameters, and which side it starts from."""

    sql: TextClause
    params: dict[str, Any]
    driven_by: DrivenBy


def page_query(
    session: Session,
    firm: OneFirm,
    since: int,
    limit: int,
    *,
    high: int,
    driven_by: DrivenBy | None = None,
) -> PageQuery:
    """The query for `export_page`: from the feed when the cursor range is small beside the
    firm's consents (an incremental pull), from the consents when they are few beside it (a
    first pull, or one after a recompute of every enterprise) — so a pull costs in proportion
    to the smaller of the two. Both return the same rows; `driven_by` forces one."""
    # The firm's consents are its own rows (the tenant filter); the feed is shared: points
    # changes are everyone's, consent changes the firm's (`:firm`).
    consent_firm, tenant = sql_filter("c.firm_code", firm)
    if driven_by is None:
        cap = (high - since) // ENTRIES_PER_CONSENT + 1  # the range holds at most high - since
        counted = text(_CONSENTS_UP_TO_SQL.format(consent_firm=consent_firm))
        few = session.execute(counted, {"cap": cap, **tenant}).scalar_one() < cap
        driven_by = "consents" if few else "feed"
    template = _CONSENT_PAGE_SQL if driven_by == "consents" else _FEED_PAGE_SQL
    params = {
        "since": since,
        "high": high,
        "firm": firm.code,
        "now": clock.now(),
        "take": limit + 1,
        **tenant,
    }
    # A fixed fragment, values bound.
    return PageQuery(text(template.format(consent_firm=consent_firm)), params, driven_by)


def export_page(
    session: Session,
    firm: OneFirm,
    since: int,
    limit: int,
    *,
    high: int,
    driven_by: DrivenBy | None = None,
) -> ExportPage:
    """Which enterprises a pull returns: changed since the cursor up to the high-water mark
    `high` (`shared.changefeed.high_water`, read before `session`'s snapshot), and either
    consented now (→ current features) or no longer consented after a change for this firm
    (→ tombstone). At most `limit`, in feed order; when more follow, the page ends at its last
    row's change, else at `high`. `driven_by`: as for `page_query`."""
    query = page_query(session, firm, since, limit, high=high, driven_by=driven_by)
    found = session.execute(query.sql, query.params).all()
    rows = [(row.uscc, row.live) for row in found[:limit]]
    until = found[limit - 1].seq if len(found) > limit else high
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
