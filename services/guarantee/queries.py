"""What other services may read of guarantee: fee quotes (loans) and export pulls (audit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from services.guarantee import export, fees, waiver
from services.guarantee.errors import NoFeeRate
from services.guarantee.schemas import WaiverOut as WaiverOut  # its answer, for readers
from services.scoring import queries as scoring
from shared.auth.tenancy import FirmVisibility


@dataclass(frozen=True, slots=True)
class FeeSnapshot:
    """The 泰信保 fee of a loan as quoted when it was submitted."""

    year: int
    fee_rate: Decimal
    fee: Decimal
    waived: bool
    payable_fee: Decimal
    waiver_reason: str
    ranking_period: int | None
    rank: int | None


def fee_quote(
    session: Session,
    enterprise: scoring.EnterpriseFacts,
    latest: scoring.PointsSnapshot | None,
    amount: Decimal,
    term_months: int,
    year: int,
) -> FeeSnapshot | None:
    """The 泰信保 fee for a loan, or None when no fee rate is set for `year`.

    `enterprise` and `latest` (its latest points: `scoring.current_points` without a period)
    are what the caller has read in this transaction to quote the loan; the waiver is decided
    on them, so a submission reads neither row twice.
    """
    try:
        found = fees.priced(
            session, waiver.waiver_given(session, enterprise, latest, year), amount, term_months
        )
    except NoFeeRate:
        return None
    return FeeSnapshot(
        year=found.year,
        fee_rate=found.fee_rate,
        fee=found.fee,
        waived=found.waived,
        payable_fee=found.payable_fee,
        waiver_reason=found.waiver.reason,
        ranking_period=found.waiver.ranking_period,
        rank=found.waiver.rank,
    )


@dataclass(frozen=True, slots=True)
class PullRecord:
    """An export pull, as the audit trail lists it."""

    id: int
    at: datetime
    client_id: str
    firm_code: str
    since_seq: int
    until_seq: int
    rows: int
    tombstones: int
    request_id: str | None


def export_pulls(
    session: Session,
    firms: FirmVisibility,
    *,
    since: datetime | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[PullRecord]:
    """Up to `limit + 1` export pulls of the firms the caller sees, from `since`, oldest
    first, after (at, id)."""
    return [
        PullRecord(
            p.id,
            p.at,
            p.client_id,
            p.firm_code,
            p.since_seq,
            p.until_seq,
            p.rows,
            p.tombstones,
            p.request_id,
        )
        for p in export.export_pulls(session, firms, since=since, after=after, limit=limit)
    ]


def waived_usccs(session: Session, year: int) -> list[str]:
    """The enterprises whose fee is waived in `year` by the ranking in force now: the top 100
    of period `year − 1`, best first (empty while that period has no ranking)."""
    return [standing.uscc for standing in waiver.top_list(session, year)]


def waiver_out(session: Session, uscc: str, year: int, at: datetime | None = None) -> WaiverOut:
    """`uscc`'s waiver for `year` now (or at the instant `at`), exactly as `GET /v1/guarantee/
    enterprises/{uscc}/waiver?year=` answers it (`EnterpriseUnknown` if it is not in the
    points database)."""
    return WaiverOut.of(
        uscc,
        waiver.waiver_for(session, uscc, year, at),
        waiver.ranking_versions(session, year, at),
    )
