"""The loans' governed actions (four eyes, `shared.changes`): a bank, a product, a calendar
year. Each validates as the direct endpoint does, describes the change against the current
state, and at approval runs the domain function only if the target is as the checker saw it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.loans import products, schedule
from services.loans.applications import Actor
from services.loans.calendar import WorkCalendar, YearSchedule, validate_year
from services.loans.errors import BadCalendar
from services.loans.models import Application, Bank, CalendarYear, Product
from services.loans.schemas import BankOut, CalendarIn, CalendarLoaded, ProductIn, ProductOut
from services.loans.status import Status
from shared.changes.diff import json_diff
from shared.changes.kinds import ChangeKind, Decision, Proposal, require_unmoved
from shared.changes.locks import lock_target
from shared.timestamps import format_instant


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else format_instant(moment)


# ---------------------------------------------------------------- bank


def _bank_state(session: Session, code: str, *, lock: bool = False) -> dict[str, Any]:
    stmt = select(Bank.updated_at).where(Bank.code == code)
    return {"updated_at": _stamp(session.scalars(stmt.with_for_update() if lock else stmt).first())}


def _describe_bank(session: Session, params: Mapping[str, Any]) -> Proposal:
    code, name = params["code"], params["name"]
    bank = session.get(Bank, code)
    before = {} if bank is None else {"name": bank.name}
    summary = (
        f"Create bank {code} ({name})"
        if bank is None
        else f"Rename bank {code}: {bank.name} → {name}"
    )
    return Proposal(
        target=f"bank:{code}",
        summary=summary,
        expected=_bank_state(session, code),
        diff={"created": bank is None, "changes": json_diff(before, {"name": name})},
    )


def _apply_bank(
    session: Session, params: Mapping[str, Any], expected: Mapping[str, Any], _: Decision
) -> dict[str, Any]:
    code = params["code"]
    lock_target(session, f"bank:{code}")
    require_unmoved(expected, _bank_state(session, code, lock=True))
    bank = products.put_bank(session, code, params["name"])
    return BankOut.model_validate(bank).model_dump(mode="json")


BANK = ChangeKind("bank", "loans", _describe_bank, _apply_bank)

# ---------------------------------------------------------------- product


def _product_state(session: Session, code: str, *, lock: bool = False) -> dict[str, Any]:
    stmt = select(Product.updated_at).where(Product.code == code)
    return {"updated_at": _stamp(session.scalars(stmt.with_for_update() if lock else stmt).first())}


def _product_in(product: Product) -> dict[str, Any]:
    """A stored product as the input that would make it, for the diff."""
    fields = {name: getattr(product, name) for name in ProductIn.model_fields}
    return ProductIn.model_validate(fields).model_dump(mode="json")


def _describe_product(session: Session, params: Mapping[str, Any]) -> Proposal:
    code = params["code"]
    data = ProductIn.model_validate(params["product"])
    bank, existing = products.check_product(session, code, data)  # as the direct write checks
    owner = f"{bank.name} {data.name}"
    verb = "Create" if existing is None else "Replace"
    before = {} if existing is None else _product_in(existing)
    return Proposal(
        target=f"product:{code}",
        summary=f"{verb} product {code} ({owner})",
        expected=_product_state(session, code),
        diff={
            "created": existing is None,
            "changes": json_diff(before, data.model_dump(mode="json")),
        },
    )


def _apply_product(
    session: Session, params: Mapping[str, Any], expected: Mapping[str, Any], _: Decision
) -> dict[str, Any]:
    code = params["code"]
    lock_target(session, f"product:{code}")
    require_unmoved(expected, _product_state(session, code, lock=True))
    product = products.put_product(session, code, ProductIn.model_validate(params["product"]))
    return ProductOut.model_validate(product, from_attributes=True).model_dump(mode="json")


PRODUCT = ChangeKind("product", "loans", _describe_product, _apply_product)

# ---------------------------------------------------------------- calendar year


def calendar_loaded(year: int, data: CalendarIn, recomputed: int) -> CalendarLoaded:
    """What loading `data` as `year`'s schedule answers (direct or approved)."""
    return CalendarLoaded(
        year=year,
        source="loaded",
        holidays=sorted(set(data.holidays)),
        make_up_workdays=sorted(set(data.make_up_workdays)),
        recomputed_applications=recomputed,
    )


def _calendar_state(session: Session, year: int, *, lock: bool = False) -> dict[str, Any]:
    stmt = select(CalendarYear.loaded_at).where(CalendarYear.year == year)
    return {"loaded_at": _stamp(session.scalars(stmt.with_for_update() if lock else stmt).first())}


def _sorted_strings(days: Any) -> list[str]:
    return sorted(d.isoformat() for d in days)


def _describe_calendar(session: Session, params: Mapping[str, Any]) -> Proposal:
    year = int(params["year"])
    data = CalendarIn.model_validate(params["calendar"])
    problems = validate_year(year, data.holidays, data.make_up_workdays)
    if problems:
        raise BadCalendar(
            f"{len(problems)} problem(s) in the {year} schedule",
            errors=[{"loc": ["body"], "msg": p} for p in problems],
        )
    now = schedule.calendar_year(session, year)
    proposed = YearSchedule(
        year, "loaded", frozenset(data.holidays), frozenset(data.make_up_workdays)
    )
    loaded = {
        row.year: YearSchedule(
            row.year, "loaded", frozenset(row.holidays), frozenset(row.make_up_workdays)
        )
        for row in session.scalars(select(CalendarYear))
    }
    before, after = WorkCalendar(loaded), WorkCalendar({**loaded, year: proposed})
    open_rows = session.scalars(
        select(Application.submitted_at).where(
            Application.status == Status.SUBMITTED, Application.deadline_provisional.is_(True)
        )
    ).all()
    moving = sum(before.decision_deadline(at) != after.decision_deadline(at) for at in open_rows)
    diff = {
        "year": year,
        "source_before": now.source,
        "holidays_added": _sorted_strings(proposed.holidays - now.holidays),
        "holidays_removed": _sorted_strings(now.holidays - proposed.holidays),
        "make_up_workdays_added": _sorted_strings(proposed.make_up_workdays - now.make_up_workdays),
        "make_up_workdays_removed": _sorted_strings(
            now.make_up_workdays - proposed.make_up_workdays
        ),
        "open_provisional_applications": len(open_rows),
        "deadlines_that_would_move": moving,
    }
    return Proposal(
        target=f"calendar:{year}",
        summary=f"Load the {year} working-day schedule (now {now.source})",
        expected=_calendar_state(session, year),
        diff=diff,
    )


def _apply_calendar(
    session: Session, params: Mapping[str, Any], expected: Mapping[str, Any], decision: Decision
) -> dict[str, Any]:
    year = int(params["year"])
    data = CalendarIn.model_validate(params["calendar"])
    lock_target(session, f"calendar:{year}")
    require_unmoved(expected, _calendar_state(session, year, lock=True))
    actor = Actor(decision.maker, decision.request_id)
    count = schedule.load_calendar(session, year, data, actor)
    return calendar_loaded(year, data, count).model_dump(mode="json")


CALENDAR_LOAD = ChangeKind("calendar-load", "loans", _describe_calendar, _apply_calendar)

KINDS = (BANK, PRODUCT, CALENDAR_LOAD)
