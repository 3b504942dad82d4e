"""The guarantee's governed action (four eyes, `shared.changes`): setting the 泰信保 fee rate
from a year on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.guarantee import fees
from services.guarantee.errors import NoFeeRate
from services.guarantee.models import FeeRate
from services.guarantee.schemas import FeeRateIn, FeeRateOut
from shared.changes.kinds import ChangeKind, Decision, Proposal, require_unmoved
from shared.changes.locks import lock_target
from shared.timestamps import format_instant

# One lock and one token for every year: any rate set since the proposal may change what is
# in force for the year, so the diff the checker read would be stale.
_TARGET_LOCK = "fee-rates"


def _state(session: Session) -> dict[str, Any]:
    return {"last_id": session.scalar(select(func.max(FeeRate.id)))}


def _describe(session: Session, params: Mapping[str, Any]) -> Proposal:
    data = FeeRateIn.model_validate(params)
    try:
        now = fees.fee_rate_for(session, data.effective_year)
        before: dict[str, Any] | None = {
            "rate": str(now.rate),
            "set_at": format_instant(now.set_at),
            "id": now.id,
            "effective_year": now.effective_year,
        }
    except NoFeeRate:
        before = None
    later = session.scalar(
        select(func.min(FeeRate.effective_year)).where(FeeRate.effective_year > data.effective_year)
    )
    shown = "none" if before is None else before["rate"]
    return Proposal(
        target=f"fee-rate:{data.effective_year}",
        summary=f"Set the 泰信保 fee rate from {data.effective_year}: {shown} → {data.rate}",
        expected=_state(session),
        diff={
            "effective_year": data.effective_year,
            "in_force_before": before,
            "after": {"rate": str(data.rate), "note": data.note},
            "years_affected": {
                "from": data.effective_year,
                "to": None if later is None else later - 1,
            },
        },
    )


def _apply(
    session: Session, params: Mapping[str, Any], expected: Mapping[str, Any], decision: Decision
) -> dict[str, Any]:
    data = FeeRateIn.model_validate(params)
    lock_target(session, _TARGET_LOCK)
    require_unmoved(expected, _state(session))
    row = fees.set_fee_rate(session, data.effective_year, data.rate, data.note, decision.maker)
    return FeeRateOut.model_validate(row).model_dump(mode="json")


FEE_RATE = ChangeKind("fee-rate", "guarantee", _describe, _apply)

KINDS = (FEE_RATE,)
