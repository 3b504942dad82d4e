"""The quote: whether an enterprise qualifies for a product, and for how much, with reasons.

`offer_for` explains the rule of `services.loans.eligibility` to one enterprise and needs no
database (the demo plans its loans with it); `standing` reads what it is applied to from
scoring, once per request — now, or as it was at an instant.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from services.loans.eligibility import category_allowed, is_active, tier_reached
from services.loans.errors import EnterpriseUnknown
from services.loans.models import Product
from services.loans.schemas import Quote, Reason
from services.scoring import queries as scoring
from shared.as_of import Versions


def standing(
    session: Session, uscc: str, at: datetime | None = None
) -> tuple[scoring.EnterpriseFacts, scoring.PointsSnapshot | None]:
    """An enterprise's attributes and current points (as they were at `at`; None: now); an
    unknown enterprise is 404."""
    enterprise = scoring.enterprise(session, uscc, at)
    if enterprise is None:
        raise EnterpriseUnknown(f"No enterprise with USCC {uscc} in the points database")
    return enterprise, scoring.current_points(session, uscc, at=at)


def quote(
    session: Session,
    product: Product,
    uscc: str,
    on: date,
    *,
    at: datetime | None = None,
    versions: Versions | None = None,
) -> Quote:
    """Eligibility and maximum amount for an enterprise's current points (or those at `at`),
    with reasons and the `versions` it was made with (completed with the ranking run's)."""
    enterprise, snapshot = standing(session, uscc, at)
    offer = offer_for(product, enterprise, snapshot, on)
    used = versions or Versions()
    if snapshot is not None:
        used = used.model_copy(
            update={"ranking_run": snapshot.run_id, "model_version": snapshot.model_version}
        )
    return offer.model_copy(update={"versions": used})


def offer_for(
    product: Product,
    enterprise: scoring.EnterpriseFacts,
    snapshot: scoring.PointsSnapshot | None,
    on: date,
) -> Quote:
    """The quote for an enterprise's attributes and current points on day `on`.

    Every reason that applies is listed; the enterprise is eligible only when none stands in
    the way and a limit tier is reached (the highest tier reached sets the maximum).
    """
    reasons: list[Reason] = []
    if not is_active(product, on):
        reasons.append(
            Reason(
                code="product-inactive",
                message=f"{product.code} is offered from {product.active_from}"
                + (f" to {product.active_to}" if product.active_to else ""),
            )
        )
    if not category_allowed(product, enterprise.categories):
        reasons.append(
            Reason(
                code="category-missing",
                message="needs one of: " + ", ".join(product.eligible_categories),
            )
        )
    max_amount = Decimal("0.00")
    if snapshot is None:
        reasons.append(
            Reason(code="no-points", message="the enterprise has no points in any ranking yet")
        )
    elif snapshot.points < product.min_points:
        reasons.append(
            Reason(
                code="below-min-points",
                message=f"{snapshot.points} points; {product.code} needs {product.min_points}",
            )
        )
    else:
        tier = tier_reached(product, snapshot.points)
        if tier is None:
            reasons.append(Reason(code="no-tier", message="no limit tier reached"))
        else:
            max_amount = Decimal(tier["max_amount"])
            if not reasons:
                reasons.append(
                    Reason(
                        code="tier-applied",
                        message=f"tier from {tier['min_points']} points: up to "
                        f"{tier['max_amount']} yuan",
                    )
                )
    eligible = bool(reasons) and reasons[0].code == "tier-applied"
    return Quote(
        product_code=product.code,
        uscc=enterprise.uscc,
        eligible=eligible,
        max_amount=max_amount if eligible else Decimal("0.00"),
        points=None if snapshot is None else snapshot.points,
        rank=None if snapshot is None else snapshot.rank,
        period=None if snapshot is None else snapshot.period,
        model_version=None if snapshot is None else snapshot.model_version,
        reasons=reasons,
    )
