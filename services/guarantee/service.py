"""Guarantee domain logic: 泰信保 waiver and fee quotes, consents, the feature export.

Reads scoring only through `services/scoring/queries.py`. Never commits (the export stream,
which outlives the request, runs its own read-only transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, TextClause, select, text, tuple_, update
from sqlalchemy.orm import Session

from services.guarantee.errors import (
    ConsentNotFound,
    ConsentRevoked,
    EnterpriseUnknown,
    NoFeeRate,
)
from services.guarantee.features import CSV_CELLS_SQL, NDJSON_LINE_SQL
from services.guarantee.models import Consent, ExportPull, FeeRate
from services.guarantee.schemas import ConsentIn
from services.scoring import queries as scoring
from shared import changefeed as feed
from shared.clock import in_the_future
from shared.errors import Unprocessable
from shared.money import round_cents

TOP = 100


# ---------------------------------------------------------------- waiver


@dataclass(frozen=True, slots=True)
class Waiver:
    """Whether the 泰信保 fee is waived for `year`, and the ranking it rests on."""

    year: int
    waived: bool
    reason: str
    ranking_period: int | None = None
    rank: int | None = None
    rank_total: int | None = None
    model_version: str | None = None


def waiver(session: Session, uscc: str, year: int) -> Waiver:
    """Waived for `year` when in the top 100 of the ranking of period `year − 1`.

    Ranks are unique (ties are broken by the ranking's documented rule), so exactly 100
    enterprises are waived in a year with 100 or more ranked.
    """
    if scoring.enterprise(session, uscc) is None:
        raise EnterpriseUnknown(f"No enterprise with USCC {uscc} in the points database")
    ranking = scoring.ranking_period(session, year - 1)
    if ranking is None:
        return Waiver(year, False, "ranking-unavailable")
    snapshot = scoring.current_points(session, uscc, year - 1)
    if snapshot is None:
        return Waiver(year, False, "not-ranked", ranking[0], None, None, ranking[1])
    waived = snapshot.rank <= TOP
    return Waiver(
        year,
        waived,
        "top-100" if waived else "outside-top-100",
        snapshot.period,
        snapshot.rank,
        snapshot.rank_total,
        snapshot.model_version,
    )


def top_list(session: Session, year: int) -> list[scoring.PointsSnapshot]:
    """The enterprises waived in `year`: the top 100 of period `year − 1`."""
    return scoring.top(session, year - 1, TOP)


# ---------------------------------------------------------------- fee rates and quotes


def set_fee_rate(
    session: Session, effective_year: int, rate: Decimal, note: str, by: str
) -> FeeRate:
    """Set the rate for loans from `effective_year` on (earlier settings stay in the history)."""
    row = FeeRate(effective_year=effective_year, rate=rate, note=note, set_by=by)
    session.add(row)
    session.flush()
    session.refresh(row)
    return row


def fee_rate_for(session: Session, year: int) -> FeeRate:
    """The rate in force for `year`: the latest setting with the latest effective year ≤ year."""
    row = session.scalars(
        select(FeeRate)
        .where(FeeRate.effective_year <= year)
        .order_by(FeeRate.effective_year.desc(), FeeRate.set_at.desc(), FeeRate.id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NoFeeRate(f"No 泰信保 fee rate is set for {year}")
    return row


def fee_history(session: Session) -> Sequence[FeeRate]:
    """Every rate ever set, newest first."""
    return session.scalars(select(FeeRate).order_by(FeeRate.set_at.desc(), FeeRate.id.desc())).all()


@dataclass(frozen=True, slots=True)
class FeeQuote:
    """fee = amount × annual rate × months / 12, half-up to cents; waived → nothing payable."""

    year: int
    fee_rate: Decimal
    fee: Decimal
    waived: bool
    payable_fee: Decimal
    waiver: Waiver


def fee(amount: Decimal, rate: Decimal, months: int) -> Decimal:
    """The guarantee fee, exact: amount × rate × months / 12, rounded half-up to cents."""
    return round_cents(amount * rate * months / 12)


def quote(session: Session, uscc: str, amount: Decimal, term_months: int, year: int) -> FeeQuote:
    """The 泰信保 fee for a loan taken in `year`."""
    found = waiver(session, uscc, year)
    rate = fee_rate_for(session, year).rate
    due = fee(amount, rate, term_months)
    return FeeQuote(year, rate, due, found.waived, Decimal("0.00") if found.waived else due, found)


# ---------------------------------------------------------------- consents


def live(consent: Consent, now: datetime) -> bool:
    """Whether a consent lets its firm see the enterprise at `now`."""
    return (
        consent.revoked_at is None
        and consent.granted_at <= now
        and (consent.expires_at is None or consent.expires_at > now)
    )


def grant(session: Session, data: ConsentIn, by: str) -> Consent:
    """Record a consent given by the enterprise (an operator enters it, with evidence)."""
    return grant_many(session, [data], by)[0]


def grant_many(session: Session, items: Sequence[ConsentIn], by: str) -> list[Consent]:
    """Record consents; each enterprise must exist and no grant may lie in the future."""
    now = datetime.now(UTC)
    for data in items:
        if in_the_future(data.granted_at, now):
            raise Unprocessable(
                "granted_at is in the future; record a consent once it is given",
                errors=[{"loc": ["body", "granted_at"], "msg": "in the future"}],
            )
    wanted = {d.uscc for d in items}
    missing = sorted(wanted - scoring.known_usccs(session, wanted))
    if missing:
        raise EnterpriseUnknown(f"No enterprise with USCC {missing[0]} in the points database")
    consents = [
        Consent(
            id=uuid.uuid4(),
            uscc=d.uscc,
            firm_code=d.firm_code,
            granted_at=d.granted_at,
            expires_at=d.expires_at,
            evidence_ref=d.evidence_ref,
            created_by=by,
            expiry_recorded=False,
        )
        for d in items
    ]
    session.add_all(consents)
    session.flush()
    feed.record(session, [(c.uscc, c.firm_code, "consent-granted") for c in consents])
    return consents


def revoke(session: Session, consent_id: uuid.UUID, by: str) -> Consent:
    """Revoke a consent (kept in the history; the firm gets a tombstone)."""
    consent = session.scalars(
        select(Consent).where(Consent.id == consent_id).with_for_update()
    ).one_or_none()
    if consent is None:
        raise ConsentNotFound(f"No consent {consent_id}")
    if consent.revoked_at is not None:
        raise ConsentRevoked(f"Consent {consent_id} was revoked at {consent.revoked_at}")
    consent.revoked_at = datetime.now(UTC)
    consent.revoked_by = by
    session.flush()
    feed.record(session, [(consent.uscc, consent.firm_code, "consent-revoked")])
    return consent


def list_consents(
    session: Session,
    *,
    uscc: str | None,
    firm_code: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Consent]:
    """Consents (revoked ones included), oldest first."""
    stmt = select(Consent)
    if uscc:
        stmt = stmt.where(Consent.uscc == uscc)
    if firm_code:
        stmt = stmt.where(Consent.firm_code == firm_code)
    if after is not None:
        stmt = stmt.where(tuple_(Consent.created_at, Consent.id) > tuple_(*after))
    return session.scalars(stmt.order_by(Consent.created_at, Consent.id).limit(limit + 1)).all()


def record_expiries(session: Session) -> int:
    """Put consents that expired since last time into the feed (once each)."""
    expired = session.scalars(
        select(Consent)
        .where(
            Consent.revoked_at.is_(None),
            Consent.expiry_recorded.is_(False),
            Consent.expires_at <= datetime.now(UTC),
        )
        .with_for_update(skip_locked=True)
    ).all()
    if not expired:
        return 0
    session.execute(
        update(Consent).where(Consent.id.in_([c.id for c in expired])).values(expiry_recorded=True)
    )
    feed.record(session, [(c.uscc, c.firm_code, "consent-expired") for c in expired])
    return len(expired)


# ---------------------------------------------------------------- export


_PAGE_SQL = text(
    """
    WITH changed AS (
        SELECT uscc, max(seq) AS seq, bool_or(firm_code IS NOT NULL) AS firm_event
        FROM gt_feed
        WHERE seq > :since AND seq <= :high AND (firm_code IS NULL OR firm_code = :firm)
        GROUP BY uscc
    )
    SELECT ch.uscc, ch.seq,
           EXISTS (SELECT 1 FROM gt_consent c
                   WHERE c.uscc = ch.uscc AND c.firm_code = :firm AND c.revoked_at IS NULL
                     AND c.granted_at <= :now AND (c.expires_at IS NULL OR c.expires_at > :now)
           ) AS live,
           ch.firm_event
    FROM changed ch
    ORDER BY ch.seq
    """
)


@dataclass(frozen=True, slots=True)
class Page:
    """The export page a pull gets: cursor range and the (uscc, live) rows in feed order."""

    since: int
    until: int
    rows: list[tuple[str, bool]]


def export_page(session: Session, firm: str, since: int, limit: int) -> Page:
    """Which enterprises a pull returns: changed since the cursor, and either consented now
    (→ current features) or no longer consented after a change for this firm (→ tombstone)."""
    high = feed.high_water(session)
    now = datetime.now(UTC)
    rows: list[tuple[str, bool]] = []
    until, last_seq = high, since
    result = session.execute(
        _PAGE_SQL.execution_options(yield_per=2000),
        {"since": since, "high": high, "firm": firm, "now": now},
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
    return Page(since, until, rows)


def _export_sql(cells: str) -> TextClause:
    return text(
        f"""
        SELECT {cells}
        FROM unnest(CAST(:usccs AS text[]), CAST(:live AS boolean[]))
             WITH ORDINALITY AS u(uscc, live, ord)
        LEFT JOIN LATERAL ({scoring.export_facts_sql("u.uscc")}) AS f ON u.live
        WHERE NOT u.live OR f.period IS NOT NULL
        ORDER BY u.ord
        """  # noqa: S608 (built from the module constants only)
    )


_NDJSON_SQL = _export_sql(NDJSON_LINE_SQL)
_CSV_SQL = _export_sql(CSV_CELLS_SQL)
EXPORT_BATCH = 2000


def _export_batches(
    session: Session, page: Page, sql: TextClause, batch: int
) -> Iterator[Sequence[Row[Any]]]:
    for start in range(0, len(page.rows), batch):
        chunk = page.rows[start : start + batch]
        params = {"usccs": [u for u, _ in chunk], "live": [live for _, live in chunk]}
        yield session.execute(sql, params).all()


def export_ndjson(session: Session, page: Page, batch: int = EXPORT_BATCH) -> Iterator[list[str]]:
    """The page's rows as JSON texts, in feed order, a batch at a time: features for
    consented enterprises with ranked points, tombstones for the others. The database builds
    each line; nothing is held beyond one batch."""
    for rows in _export_batches(session, page, _NDJSON_SQL, batch):
        yield [row[0] for row in rows]


def export_csv(
    session: Session, page: Page, batch: int = EXPORT_BATCH
) -> Iterator[Sequence[Row[Any]]]:
    """The same rows as CSV cells (text or None), in data-dictionary order."""
    yield from _export_batches(session, page, _CSV_SQL, batch)


def record_pull(
    session: Session,
    *,
    client_id: str,
    firm: str,
    page: Page,
    rows: int,
    tombstones: int,
    media_type: str,
    request_id: str | None,
) -> None:
    """Audit one export pull."""
    session.add(
        ExportPull(
            client_id=client_id,
            firm_code=firm,
            since_seq=page.since,
            until_seq=page.until,
            rows=rows,
            tombstones=tombstones,
            media_type=media_type,
            request_id=request_id,
        )
    )


def export_pulls(
    session: Session, *, since: datetime | None, after: tuple[datetime, int] | None, limit: int
) -> Sequence[ExportPull]:
    """Recorded export pulls, oldest first."""
    stmt = select(ExportPull)
    if since is not None:
        stmt = stmt.where(ExportPull.at >= since)
    if after is not None:
        stmt = stmt.where(tuple_(ExportPull.at, ExportPull.id) > tuple_(*after))
    return session.scalars(stmt.order_by(ExportPull.at, ExportPull.id).limit(limit + 1)).all()
