"""Loans domain logic: banks, products, quotes, applications and their lifecycle, calendar,
statistics. Never commits; a bank only ever reaches its own rows (others' are "not found")."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.guarantee import queries as guarantee
from services.loans.calendar import (
    WorkCalendar,
    YearSchedule,
    bundled,
    validate_year,
    weekdays,
)
from services.loans.errors import (
    AmountOverQuote,
    ApplicationNotFound,
    BadCalendar,
    BadTiming,
    BankNotFound,
    EnterpriseUnknown,
    Ineligible,
    OverApproved,
    ProductNotFound,
    TermsOutOfRange,
    WrongTransition,
)
from services.loans.models import (
    Application,
    ApplicationEvent,
    Bank,
    CalendarYear,
    Disbursement,
    Product,
)
from services.loans.schemas import (
    ApplicationIn,
    CalendarDayIn,
    CalendarIn,
    DecisionIn,
    DisbursementIn,
    ProductIn,
    Quote,
    Reason,
    RepaymentIn,
)
from services.scoring import queries as scoring
from shared.bulk import CSV_TYPES, parse_rows
from shared.clock import in_the_future, local_date
from shared.errors import (
    Forbidden,
    PreconditionFailed,
    Unprocessable,
    UnsupportedMediaType,
    validation_errors,
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: the client, its bank (None for bureau/admin) and the request id."""

    client_id: str
    bank_code: str | None
    request_id: str | None


# ---------------------------------------------------------------- banks and products


def put_bank(session: Session, code: str, name: str) -> Bank:
    """Create or rename a bank."""
    stmt = insert(Bank).values(code=code, name=name)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Bank.code], set_={"name": name, "updated_at": func.now()}
        )
    )
    return session.scalars(
        select(Bank).where(Bank.code == code).execution_options(populate_existing=True)
    ).one()


def list_banks(session: Session, bank_code: str | None) -> Sequence[Bank]:
    """All banks, or only the caller's own."""
    stmt = select(Bank).order_by(Bank.code)
    if bank_code is not None:
        stmt = stmt.where(Bank.code == bank_code)
    return session.scalars(stmt).all()


def put_product(session: Session, code: str, data: ProductIn) -> Product:
    """Create or replace a product."""
    if session.get(Bank, data.bank_code) is None:
        raise BankNotFound(f"No bank {data.bank_code!r}: create it with PUT /v1/admin/banks/…")
    values: dict[str, Any] = data.model_dump(mode="python")
    values["limit_tiers"] = [t.model_dump(mode="json") for t in data.limit_tiers]
    existing = session.get(Product, code)
    if existing is not None and existing.bank_code != data.bank_code:
        raise WrongTransition(
            f"Product {code} belongs to {existing.bank_code}; codes are permanent"
        )
    stmt = insert(Product).values(code=code, **values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Product.code], set_={**values, "updated_at": func.now()}
        )
    )
    return session.scalars(
        select(Product).where(Product.code == code).execution_options(populate_existing=True)
    ).one()


def list_products(session: Session, bank_code: str | None) -> Sequence[Product]:
    """All products, or only the caller's bank's."""
    stmt = select(Product).order_by(Product.bank_code, Product.code)
    if bank_code is not None:
        stmt = stmt.where(Product.bank_code == bank_code)
    return session.scalars(stmt).all()


def get_product(session: Session, code: str, bank_code: str | None) -> Product:
    """A product; another bank's product is not found."""
    product = session.get(Product, code)
    if product is None or (bank_code is not None and product.bank_code != bank_code):
        raise ProductNotFound(
            f"No product {code!r}" + (f" of bank {bank_code}" if bank_code else "")
        )
    return product


# ---------------------------------------------------------------- calendar


def work_calendar(session: Session) -> WorkCalendar:
    """The calendar in force: loaded years over bundled ones over weekdays."""
    loaded = {
        row.year: YearSchedule(
            row.year, "loaded", frozenset(row.holidays), frozenset(row.make_up_workdays)
        )
        for row in session.scalars(select(CalendarYear))
    }
    return WorkCalendar(loaded)


def calendar_year(session: Session, year: int) -> YearSchedule:
    """A year's schedule and its source."""
    row = session.get(CalendarYear, year)
    if row is not None:
        return YearSchedule(
            year, "loaded", frozenset(row.holidays), frozenset(row.make_up_workdays)
        )
    return bundled(year) or weekdays(year)


def calendar_from_upload(body: bytes, content_type: str | None) -> CalendarIn:
    """A schedule sent as JSON `{holidays, make_up_workdays}` or as CSV rows `date,kind`."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media in CSV_TYPES:
        rows = parse_rows(body, media, CalendarDayIn)
        return CalendarIn(
            holidays=[r.date for r in rows if r.kind == "holiday"],
            make_up_workdays=[r.date for r in rows if r.kind == "workday"],
        )
    if media == "application/json" or media.endswith("+json"):
        try:
            return CalendarIn.model_validate_json(body)
        except ValidationError as exc:
            raise Unprocessable(
                f"{exc.error_count()} problem(s) in the schedule",
                errors=[
                    {**e, "loc": ["body", *e["loc"]]}
                    for e in validation_errors(exc.errors(include_input=False))
                ],
            ) from None
    raise UnsupportedMediaType("Send the schedule as application/json or text/csv")


def load_calendar(session: Session, year: int, data: CalendarIn, actor: Actor) -> int:
    """Load a year's official schedule; recompute provisional deadlines of open applications.

    Returns how many applications got a new deadline.
    """
    problems = validate_year(year, data.holidays, data.make_up_workdays)
    if problems:
        raise BadCalendar(
            f"{len(problems)} problem(s) in the {year} schedule",
            errors=[{"loc": ["body"], "msg": p} for p in problems],
        )
    values = {
        "holidays": sorted(set(data.holidays)),
        "make_up_workdays": sorted(set(data.make_up_workdays)),
        "loaded_by": actor.client_id,
    }
    stmt = insert(CalendarYear).values(year=year, **values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[CalendarYear.year], set_={**values, "loaded_at": func.now()}
        )
    )
    session.flush()
    calendar = work_calendar(session)
    open_rows = session.scalars(
        select(Application)
        .where(Application.status == "submitted", Application.deadline_provisional.is_(True))
        .with_for_update()
    ).all()
    for app in open_rows:
        deadline = calendar.decision_deadline(app.submitted_at)
        if (deadline.due_at, deadline.provisional) != (
            app.decision_due_at,
            app.deadline_provisional,
        ):
            _event(
                session,
                app,
                "deadline-recomputed",
                app.status,
                actor,
                {
                    "previous_due_at": app.decision_due_at.isoformat(),
                    "due_at": deadline.due_at.isoformat(),
                    "calendar_year": year,
                },
            )
            app.decision_due_at = deadline.due_at
            app.deadline_provisional = deadline.provisional
            _touch(app)
    return len(open_rows)


# ---------------------------------------------------------------- quotes


def quote(session: Session, product: Product, uscc: str, on: date) -> Quote:
    """Eligibility and maximum amount for an enterprise's current points, with reasons."""
    enterprise, snapshot = _standing(session, uscc)
    return offer_for(product, enterprise, snapshot, on)


def _standing(
    session: Session, uscc: str
) -> tuple[scoring.EnterpriseFacts, scoring.PointsSnapshot | None]:
    enterprise = scoring.enterprise(session, uscc)
    if enterprise is None:
        raise EnterpriseUnknown(f"No enterprise with USCC {uscc} in the points database")
    return enterprise, scoring.current_points(session, uscc)


def offer_for(
    product: Product,
    enterprise: scoring.EnterpriseFacts,
    snapshot: scoring.PointsSnapshot | None,
    on: date,
) -> Quote:
    """The quote for an enterprise's attributes and current points (no database access)."""
    uscc = enterprise.uscc
    reasons: list[Reason] = []
    if on < product.active_from or (product.active_to is not None and on > product.active_to):
        reasons.append(
            Reason(
                code="product-inactive",
                message=f"{product.code} is offered from {product.active_from}"
                + (f" to {product.active_to}" if product.active_to else ""),
            )
        )
    if product.eligible_categories and not set(product.eligible_categories) & set(
        enterprise.categories
    ):
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
        tiers = [t for t in product.limit_tiers if t["min_points"] <= snapshot.points]
        if not tiers:
            reasons.append(Reason(code="no-tier", message="no limit tier reached"))
        else:
            tier = tiers[-1]
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
        uscc=uscc,
        eligible=eligible,
        max_amount=max_amount if eligible else Decimal("0.00"),
        points=None if snapshot is None else snapshot.points,
        rank=None if snapshot is None else snapshot.rank,
        period=None if snapshot is None else snapshot.period,
        model_version=None if snapshot is None else snapshot.model_version,
        reasons=reasons,
    )


# ---------------------------------------------------------------- applications


def submit(session: Session, data: ApplicationIn, actor: Actor) -> Application:
    """Submit an application for the caller's bank; snapshot what it is judged on."""
    if actor.bank_code is None:
        raise Forbidden("Only a bank submits applications")
    now = datetime.now(UTC)
    submitted_at = data.submitted_at or now
    if in_the_future(submitted_at, now):
        raise BadTiming(
            "submitted_at is in the future",
            errors=[{"loc": ["body", "submitted_at"], "msg": "in the future"}],
        )
    product = get_product(session, data.product_code, actor.bank_code)
    enterprise, snapshot = _standing(session, data.uscc)
    offer = offer_for(product, enterprise, snapshot, local_date(submitted_at))
    if not offer.eligible:
        raise Ineligible(
            "; ".join(r.message for r in offer.reasons),
            errors=[
                {"loc": ["body", "uscc"], "msg": r.message, "type": r.code} for r in offer.reasons
            ],
            extra={"reasons": [r.model_dump() for r in offer.reasons]},
        )
    if data.amount > offer.max_amount:
        raise AmountOverQuote(
            f"{data.amount} yuan is over the quote of {offer.max_amount} for {offer.points} points",
            errors=[{"loc": ["body", "amount"], "msg": f"at most {offer.max_amount}"}],
            extra={"max_amount": f"{offer.max_amount}"},
        )
    if not product.term_min_months <= data.term_months <= product.term_max_months:
        raise TermsOutOfRange(
            f"{product.code} lends for {product.term_min_months}-{product.term_max_months} months",
            errors=[{"loc": ["body", "term_months"], "msg": "outside the product's range"}],
        )
    if snapshot is None:  # eligible implies points; this guards the invariant for mypy
        raise EnterpriseUnknown(f"{data.uscc} has no points in any ranking")
    deadline = work_calendar(session).decision_deadline(submitted_at)
    guarantee_fee: dict[str, Any] | None = None
    if product.guarantee:
        fee = guarantee.fee_quote(
            session, data.uscc, data.amount, data.term_months, local_date(submitted_at).year
        )
        if fee is not None:
            guarantee_fee = {
                "year": fee.year,
                "fee_rate": f"{fee.fee_rate:.4f}",
                "fee": f"{fee.fee:.2f}",
                "waived": fee.waived,
                "payable_fee": f"{fee.payable_fee:.2f}",
                "waiver_reason": fee.waiver_reason,
                "ranking_period": fee.ranking_period,
                "rank": fee.rank,
            }
    app = Application(
        id=uuid.uuid4(),
        bank_code=actor.bank_code,
        product_code=product.code,
        uscc=data.uscc,
        amount=data.amount,
        term_months=data.term_months,
        status="submitted",
        submitted_at=submitted_at,
        submitted_date=local_date(submitted_at),
        decision_due_at=deadline.due_at,
        deadline_provisional=deadline.provisional,
        points_snapshot=snapshot.points,
        rank_snapshot=snapshot.rank,
        rank_total_snapshot=snapshot.rank_total,
        model_version_snapshot=snapshot.model_version,
        period_snapshot=snapshot.period,
        max_amount_snapshot=offer.max_amount,
        district=enterprise.district,
        industry=enterprise.industry,
        stage=enterprise.stage,
        reason_codes=[],
        guarantee_fee=guarantee_fee,
        disbursed_total=Decimal("0.00"),
        disbursed_count=0,
        version=1,
        created_by=actor.client_id,
    )
    session.add(app)
    session.flush()
    _event(
        session,
        app,
        "submitted",
        None,
        actor,
        {
            "amount": f"{app.amount}",
            "points": app.points_snapshot,
            "model_version": app.model_version_snapshot,
            "due_at": app.decision_due_at.isoformat(),
        },
    )
    session.flush()
    return app


def get_application(
    session: Session, app_id: uuid.UUID, bank_code: str | None, *, lock: bool = False
) -> Application:
    """An application; another bank's is not found."""
    stmt = select(Application).where(Application.id == app_id)
    if bank_code is not None:
        stmt = stmt.where(Application.bank_code == bank_code)
    if lock:
        stmt = stmt.with_for_update()
    app = session.scalars(stmt).one_or_none()
    if app is None:
        raise ApplicationNotFound(f"No application {app_id}")
    return app


def etag(app: Application) -> str:
    """The application's entity tag (changes with every state change)."""
    return f'"{app.id}-{app.version}"'


def _check_if_match(app: Application, if_match: str | None) -> None:
    if if_match is None:
        return
    tags = {t.strip() for t in if_match.split(",")}
    if "*" not in tags and etag(app) not in tags and f"W/{etag(app)}" not in tags:
        raise PreconditionFailed(f"The application changed: its ETag is now {etag(app)}")


def _locked(session: Session, app_id: uuid.UUID, actor: Actor, if_match: str | None) -> Application:
    app = get_application(session, app_id, actor.bank_code, lock=True)
    _check_if_match(app, if_match)
    return app


def _transition(app: Application, allowed: Sequence[str], action: str) -> None:
    if app.status not in allowed:
        raise WrongTransition(f"Cannot {action} an application that is {app.status}")


def _touch(app: Application) -> None:
    app.version += 1
    app.updated_at = datetime.now(UTC)


def _event(
    session: Session,
    app: Application,
    kind: str,
    from_status: str | None,
    actor: Actor,
    data: dict[str, Any],
) -> None:
    session.add(
        ApplicationEvent(
            application_id=app.id,
            type=kind,
            from_status=from_status,
            to_status=app.status,
            actor=actor.client_id,
            request_id=actor.request_id,
            data=data,
        )
    )


def decide(
    session: Session, app_id: uuid.UUID, data: DecisionIn, actor: Actor, if_match: str | None
) -> Application:
    """Record the bank's decision (once), with working days taken and whether on time."""
    app = _locked(session, app_id, actor, if_match)
    _transition(app, ("submitted",), "decide")
    decided_at = data.decided_at or datetime.now(UTC)
    if decided_at < app.submitted_at:
        raise BadTiming(
            "decided_at is before the submission",
            errors=[{"loc": ["body", "decided_at"], "msg": "before submitted_at"}],
        )
    if in_the_future(decided_at):
        raise BadTiming(
            "decided_at is in the future",
            errors=[{"loc": ["body", "decided_at"], "msg": "in the future"}],
        )
    product = get_product(session, app.product_code, None)
    if data.outcome == "approved":
        if data.approved_amount is None or data.annual_rate is None:
            raise TermsOutOfRange("An approval needs approved_amount and annual_rate")
        term = data.term_months or app.term_months
        problems = []
        if data.approved_amount > app.max_amount_snapshot:
            problems.append(("approved_amount", f"over the quote of {app.max_amount_snapshot}"))
        if not product.rate_min <= data.annual_rate <= product.rate_max:
            problems.append(("annual_rate", f"outside {product.rate_min}-{product.rate_max}"))
        if not product.term_min_months <= term <= product.term_max_months:
            problems.append(("term_months", "outside the product's range"))
        if problems:
            raise TermsOutOfRange(
                "The approval is outside the product's terms",
                errors=[{"loc": ["body", f], "msg": m} for f, m in problems],
            )
        app.approved_amount = data.approved_amount
        app.annual_rate = data.annual_rate
        app.decided_term_months = term
    days, _ = work_calendar(session).working_days_between(
        app.submitted_date, local_date(decided_at)
    )
    previous = app.status
    app.status = data.outcome
    app.reason_codes = list(data.reason_codes)
    app.decided_at = decided_at
    app.decision_working_days = days
    app.on_time = decided_at <= app.decision_due_at
    _touch(app)
    _event(
        session,
        app,
        "decision",
        previous,
        actor,
        {
            "outcome": data.outcome,
            "working_days": days,
            "on_time": app.on_time,
            **({"approved_amount": f"{app.approved_amount}"} if app.approved_amount else {}),
        },
    )
    session.flush()
    return app


def disburse(
    session: Session, app_id: uuid.UUID, data: DisbursementIn, actor: Actor, if_match: str | None
) -> Application:
    """Record money paid out; the total never exceeds the approved amount."""
    app = _locked(session, app_id, actor, if_match)
    _transition(app, ("approved", "disbursed"), "disburse")
    if app.approved_amount is None:
        raise WrongTransition("The application has no approved amount")
    if app.decided_at is not None and data.disbursed_at < app.decided_at:
        raise BadTiming(
            "disbursed_at is before the decision",
            errors=[{"loc": ["body", "disbursed_at"], "msg": "before decided_at"}],
        )
    remaining = app.approved_amount - app.disbursed_total
    if data.amount > remaining:
        raise OverApproved(
            f"{data.amount} yuan would exceed the approved amount; {remaining} remains",
            errors=[{"loc": ["body", "amount"], "msg": f"at most {remaining}"}],
        )
    session.add(
        Disbursement(
            application_id=app.id,
            amount=data.amount,
            disbursed_at=data.disbursed_at,
            reference=data.reference,
        )
    )
    previous = app.status
    app.status = "disbursed"
    app.disbursed_total += data.amount
    app.disbursed_count += 1
    app.outstanding_principal = (app.outstanding_principal or Decimal("0.00")) + data.amount
    _touch(app)
    _event(
        session,
        app,
        "disbursement",
        previous,
        actor,
        {
            "amount": f"{data.amount}",
            "reference": data.reference,
            "disbursed_total": f"{app.disbursed_total}",
        },
    )
    session.flush()
    return app


_REPAYMENT_MOVES = {
    "disbursed": {"current": "disbursed", "overdue": "overdue", "repaid": "repaid"},
    "overdue": {"overdue": "overdue", "repaid": "repaid", "defaulted": "defaulted"},
}


def report_repayment(
    session: Session, app_id: uuid.UUID, data: RepaymentIn, actor: Actor, if_match: str | None
) -> Application:
    """Record the repayment status (`current` keeps a disbursed loan current)."""
    app = _locked(session, app_id, actor, if_match)
    target = _REPAYMENT_MOVES.get(app.status, {}).get(data.status)
    if target is None:
        raise WrongTransition(f"Cannot report {data.status} on an application that is {app.status}")
    if data.status == "repaid" and data.outstanding_principal != 0:
        raise TermsOutOfRange(
            "A repaid loan has no outstanding principal",
            errors=[{"loc": ["body", "outstanding_principal"], "msg": "must be 0.00 when repaid"}],
        )
    if data.outstanding_principal > app.disbursed_total:
        raise TermsOutOfRange(
            "Outstanding principal exceeds what was disbursed",
            errors=[
                {"loc": ["body", "outstanding_principal"], "msg": f"at most {app.disbursed_total}"}
            ],
        )
    previous = app.status
    app.status = target
    app.outstanding_principal = data.outstanding_principal
    app.repayment_as_of = data.as_of
    _touch(app)
    _event(
        session,
        app,
        "repayment-status",
        previous,
        actor,
        {
            "reported": data.status,
            "outstanding_principal": f"{data.outstanding_principal}",
            "as_of": data.as_of.isoformat(),
        },
    )
    session.flush()
    return app


def withdraw(
    session: Session, app_id: uuid.UUID, actor: Actor, if_match: str | None
) -> Application:
    """Withdraw an application before it is decided."""
    app = _locked(session, app_id, actor, if_match)
    _transition(app, ("submitted",), "withdraw")
    app.status = "withdrawn"
    _touch(app)
    _event(session, app, "withdrawal", "submitted", actor, {})
    session.flush()
    return app


@dataclass(frozen=True, slots=True)
class ApplicationFilter:
    """List filters."""

    status: str | None = None
    product_code: str | None = None
    updated_since: datetime | None = None


def list_applications(
    session: Session,
    bank_code: str | None,
    where: ApplicationFilter,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Application]:
    """Applications in (updated_at, id) order — a syncing client sees every change."""
    stmt = select(Application)
    if bank_code is not None:
        stmt = stmt.where(Application.bank_code == bank_code)
    if where.status:
        stmt = stmt.where(Application.status == where.status)
    if where.product_code:
        stmt = stmt.where(Application.product_code == where.product_code)
    if where.updated_since:
        stmt = stmt.where(Application.updated_at >= where.updated_since)
    if after is not None:
        stmt = stmt.where(tuple_(Application.updated_at, Application.id) > tuple_(*after))
    stmt = stmt.order_by(Application.updated_at, Application.id).limit(limit + 1)
    return session.scalars(stmt).all()


def events(
    session: Session, app_id: uuid.UUID, bank_code: str | None
) -> Sequence[ApplicationEvent]:
    """An application's history, oldest first."""
    get_application(session, app_id, bank_code)
    return session.scalars(
        select(ApplicationEvent)
        .where(ApplicationEvent.application_id == app_id)
        .order_by(ApplicationEvent.id)
    ).all()


# ---------------------------------------------------------------- statistics

GROUPS = {
    "bank": "bank_code",
    "product": "product_code",
    "district": "district",
    "industry": "industry",
    "stage": "stage",
    "month": "date_trunc('month', submitted_date)::date",
}

# One scan, additive aggregates only: the total is the sum of the groups (added up in Python),
# averages and rates are sums over counts. No GROUP BY () — it would switch parallelism off.
_STATS_SQL = """
    SELECT {group} AS grp,
           count(*) AS applications,
           count(approved_amount) AS approved,
           count(*) FILTER (WHERE status = 'rejected') AS rejected,
           count(*) FILTER (WHERE status = 'withdrawn') AS withdrawn,
           count(decided_at) AS decided,
           count(*) FILTER (WHERE disbursed_count > 0) AS disbursed_count,
           coalesce(sum(disbursed_total), 0) AS disbursed_amount,
           coalesce(sum(decision_working_days), 0) AS days_sum,
           count(decision_working_days) AS days_n,
           count(*) FILTER (WHERE on_time) AS on_time_n,
           count(on_time) AS on_time_of,
           count(*) FILTER (WHERE status = 'overdue') AS overdue_count,
           count(*) FILTER (WHERE status = 'submitted' AND decision_due_at < now())
               AS decision_overdue_count
    FROM loan_application
    WHERE submitted_date BETWEEN :from_date AND :to_date {bank}
    {grouping}
"""

_ADDITIVE = (
    "applications",
    "approved",
    "rejected",
    "withdrawn",
    "decided",
    "disbursed_count",
    "disbursed_amount",
    "days_sum",
    "days_n",
    "on_time_n",
    "on_time_of",
    "overdue_count",
    "decision_overdue_count",
)


def stats(
    session: Session, *, from_date: date, to_date: date, group_by: str | None, bank_code: str | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-group rows and the total for applications submitted in [from_date, to_date]."""
    params: dict[str, Any] = {"from_date": from_date, "to_date": to_date}
    bank = ""
    if bank_code is not None:
        bank = "AND bank_code = :bank_code"
        params["bank_code"] = bank_code
    # Plan for the actual date range every time: a cached generic plan guesses a few thousand
    # rows for the range and gives up the parallel scan.
    session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    column = GROUPS[group_by] if group_by is not None else "NULL"  # fixed expressions only
    grouping = f"GROUP BY {column} ORDER BY {column}" if group_by is not None else ""
    sql = _STATS_SQL.format(group=column, bank=bank, grouping=grouping)
    raw = [
        {k: getattr(r, k) for k in ("grp", *_ADDITIVE)} for r in session.execute(text(sql), params)
    ]
    if group_by is None:
        return [], _stats_row(raw[0])
    total: dict[str, Any] = {"grp": None, **{k: sum(r[k] for r in raw) for k in _ADDITIVE}}
    rows = []
    for r in raw:
        if group_by == "month":
            r["grp"] = r["grp"].strftime("%Y-%m")
        rows.append(_stats_row(r))
    return rows, _stats_row(total)


def _stats_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "group": row["grp"],
        "applications": row["applications"],
        "approved": row["approved"],
        "rejected": row["rejected"],
        "withdrawn": row["withdrawn"],
        "decided": row["decided"],
        "disbursed_count": row["disbursed_count"],
        "disbursed_amount": Decimal(row["disbursed_amount"]).quantize(Decimal("0.01")),
        "avg_decision_working_days": round(row["days_sum"] / row["days_n"], 2)
        if row["days_n"]
        else None,
        "on_time_rate": round(row["on_time_n"] / row["on_time_of"], 4)
        if row["on_time_of"]
        else None,
        "overdue_count": row["overdue_count"],
        "decision_overdue_count": row["decision_overdue_count"],
    }
