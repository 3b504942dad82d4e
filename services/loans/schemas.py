"""Request and response models of the loans service."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from typing_extensions import TypeAliasType

from services.loans.calendar import CalendarSource
from services.loans.status import Status
from shared.as_of import Versions
from shared.integers import JSON_INTEGER, Integer
from shared.money import NonNegativeMoney, PositiveMoney
from shared.rates import NonNegativeRate, Rate
from shared.timestamps import Instant, Timestamp
from shared.uscc import Uscc
from shared.vocab import Category

CODE = r"^[A-Z0-9_]{2,32}$"
PRODUCT_CODE = r"^[A-Za-z0-9_-]{2,40}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BankIn(_In):
    """A partner bank (the code is in the path)."""

    name: str = Field(min_length=1, max_length=200)


class BankOut(BaseModel):
    """A partner bank."""

    model_config = ConfigDict(from_attributes=True)
    code: str
    name: str


class Tier(_In):
    """Enterprises with at least `min_points` may borrow up to `max_amount`."""

    min_points: Integer = Field(ge=0, le=100_000)
    max_amount: PositiveMoney


class ProductIn(_In):
    """A credit product (the code is in the path)."""

    bank_code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=200)
    min_points: Integer = Field(ge=0, le=100_000)
    eligible_categories: list[Category] = Field(
        default_factory=list, description="empty: any enterprise; else at least one of these"
    )
    limit_tiers: list[Tier] = Field(min_length=1, max_length=20)
    term_min_months: Integer = Field(ge=1, le=360)
    term_max_months: Integer = Field(ge=1, le=360)
    rate_min: Rate
    rate_max: Rate
    guarantee: bool = Field(description="whether the 泰信保 guarantee applies")
    active_from: date
    active_to: date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.term_min_months > self.term_max_months:
            raise ValueError("term_min_months exceeds term_max_months")
        if self.rate_min > self.rate_max:
            raise ValueError("rate_min exceeds rate_max")
        if self.active_to is not None and self.active_to < self.active_from:
            raise ValueError("active_to is before active_from")
        mins = [t.min_points for t in self.limit_tiers]
        if mins != sorted(mins) or len(set(mins)) != len(mins):
            raise ValueError("limit_tiers must have strictly ascending min_points")
        if mins[0] < self.min_points:
            raise ValueError("the lowest tier cannot start below min_points")
        return self


class ProductOut(BaseModel):
    """A credit product."""

    code: str
    bank_code: str
    name: str
    min_points: int
    eligible_categories: list[str]
    limit_tiers: list[Tier]
    term_min_months: int
    term_max_months: int
    rate_min: Rate
    rate_max: Rate
    guarantee: bool
    active_from: date
    active_to: date | None


class Reason(BaseModel):
    """Why a quote is (in)eligible, or which tier applied."""

    code: str
    message: str


class Quote(BaseModel):
    """Eligibility and the maximum amount for an enterprise's current points."""

    product_code: str
    uscc: str
    eligible: bool
    max_amount: Annotated[NonNegativeMoney, Field(description="0.00 when ineligible")]
    points: int | None
    rank: int | None
    period: int | None
    model_version: str | None
    reasons: list[Reason]
    versions: Versions = Field(
        default_factory=Versions, description="the ranking run, model and product version used"
    )


class ApplicationIn(_In):
    """A bank's loan application."""

    uscc: Uscc
    product_code: str = Field(pattern=PRODUCT_CODE)
    amount: PositiveMoney
    term_months: Integer = Field(ge=1, le=360)
    submitted_at: Timestamp | None = Field(
        default=None, description="when the enterprise applied (default: now); any UTC offset"
    )


DecisionOutcome = TypeAliasType("DecisionOutcome", Literal["approved", "rejected"])
"""A bank's decision on an application."""
RepaymentStatus = TypeAliasType(
    "RepaymentStatus", Literal["current", "overdue", "repaid", "defaulted"]
)
"""What a repayment report says of a disbursed loan (`current`: it stays disbursed)."""
ApplicationStatus = TypeAliasType(
    "ApplicationStatus",
    Annotated[
        Status,
        # Named for the API (the enum's own name, `Status`, says too little in a client).
        WithJsonSchema(
            {"title": "ApplicationStatus", "type": "string", "enum": [s.value for s in Status]}
        ),
    ],
)
"""Where an application stands (`services.loans.status.Status`)."""


class DecisionIn(_In):
    """The bank's decision, once."""

    outcome: DecisionOutcome
    approved_amount: PositiveMoney | None = None
    annual_rate: Rate | None = None
    term_months: Annotated[int, Field(ge=1, le=360), JSON_INTEGER] | None = None
    reason_codes: list[Annotated[str, Field(pattern=r"^[a-z0-9_.-]{1,40}$")]] = Field(
        default_factory=list, max_length=20
    )
    decided_at: Timestamp | None = None

    @model_validator(mode="after")
    def _approval_terms(self) -> Self:
        if self.outcome == "approved" and (
            self.approved_amount is None or self.annual_rate is None
        ):
            raise ValueError("an approval needs approved_amount and annual_rate")
        if self.outcome == "rejected" and self.approved_amount is not None:
            raise ValueError("a rejection has no approved_amount")
        return self


class DisbursementIn(_In):
    """Money paid out."""

    amount: PositiveMoney
    disbursed_at: Timestamp
    reference: str = Field(min_length=1, max_length=100)


class RepaymentIn(_In):
    """The loan's repayment status as of a date."""

    status: RepaymentStatus
    outstanding_principal: NonNegativeMoney
    as_of: date = Field(json_schema_extra={"pattern": "^[2-9][0-9]{3}-"})  # 2000 or later

    @field_validator("as_of")
    @classmethod
    def _not_ancient(cls, value: date) -> date:
        if value.year < 2000:
            raise ValueError("as_of is before 2000")
        return value


class GuaranteeFee(BaseModel):
    """The 泰信保 fee quoted when the application was submitted (kept as quoted)."""

    year: int = Field(description="the loan's year: the fee rate of that year applies")
    fee_rate: NonNegativeRate
    fee: NonNegativeMoney = Field(description="amount × fee_rate × term_months / 12")
    waived: bool = Field(description="top 100 of the ranking of the year before")
    payable_fee: NonNegativeMoney = Field(description="0.00 when waived")
    waiver_reason: str
    ranking_period: int | None = Field(description="the ranking the waiver answer rests on")
    rank: int | None


class ApplicationOut(BaseModel):
    """An application and everything that happened to it."""

    id: uuid.UUID
    bank_code: str
    product_code: str
    uscc: str
    amount: PositiveMoney
    term_months: int
    status: ApplicationStatus
    submitted_at: Instant
    submitted_date: date
    decision_due_at: Instant
    deadline_provisional: bool
    points_snapshot: int
    rank_snapshot: int
    rank_total_snapshot: int
    model_version_snapshot: str
    period_snapshot: int
    max_amount_snapshot: NonNegativeMoney
    guarantee_fee: GuaranteeFee | None = Field(
        description="泰信保 fee quote at submission (products with guarantee: true)"
    )
    approved_amount: PositiveMoney | None
    annual_rate: Rate | None
    decided_term_months: int | None
    reason_codes: list[str]
    decided_at: Instant | None
    decision_working_days: int | None
    working_days_elapsed: int | None = Field(
        description="while the application awaits its decision (`submitted`): the working "
        "days after the submission date up to and including today (Asia/Shanghai), counted as "
        "`decision_working_days` is; null once it left `submitted`"
    )
    on_time: bool | None
    disbursed_total: NonNegativeMoney
    disbursed_count: int
    outstanding_principal: NonNegativeMoney | None
    repayment_as_of: date | None
    version: int
    created_at: Instant
    updated_at: Instant


DecisionDue = TypeAliasType("DecisionDue", Literal["overdue", "today", "tomorrow"])
"""Undecided applications by the Asia/Shanghai business date of their decision deadline:
before today, today, or after today up to and including the next working day."""


class EventOut(BaseModel):
    """One state change of an application."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    at: Instant
    type: str
    from_status: ApplicationStatus | None
    to_status: ApplicationStatus
    actor: str
    request_id: str | None
    data: dict[str, object]


class DeadlineOut(BaseModel):
    """When a decision on an application submitted at `submitted_at` is due."""

    submitted_at: Instant
    submitted_date: date
    due_at: Instant
    provisional: bool
    versions: Versions = Field(description="the schedules of the years counted")


class ApplicationDeadline(BaseModel):
    """When the decision on an application is (or was, `as_of`) due, and what set it."""

    application: uuid.UUID
    submitted_at: Instant
    submitted_date: date
    due_at: Instant
    provisional: bool = Field(description="a year counted had no official schedule yet")
    versions: Versions = Field(
        description="`deadline_event`: the event that set it (submission or a calendar load)"
    )


class CalendarOut(BaseModel):
    """A year's working-day schedule and where it comes from."""

    year: int
    source: CalendarSource = Field(
        description="loaded: an operator's upload; bundled: the published schedule the "
        "service ships with; statutory (provisional): a year from 2025 with neither, its "
        "statutory holidays computed, make-up working days and bridge days unknown; weekdays "
        "(provisional): a year before 2025 with neither, Monday to Friday"
    )
    holidays: list[date]
    make_up_workdays: list[date]


class CalendarIn(_In):
    """An official schedule for a year: days off and make-up working days."""

    holidays: list[date] = Field(max_length=366)
    make_up_workdays: list[date] = Field(default_factory=list, max_length=366)


class CalendarDayIn(_In):
    """One row of a CSV schedule: a day off (`holiday`) or a make-up working day (`workday`)."""

    date: date
    kind: Literal["holiday", "workday"]


class CalendarLoaded(CalendarOut):
    """A loaded year, and how many open applications' deadlines were recomputed."""

    recomputed_applications: int


class StatsRow(BaseModel):
    """Loan figures for one group (or the total)."""

    group: str | None
    applications: int
    approved: int
    rejected: int
    withdrawn: int
    decided: int
    disbursed_count: int
    disbursed_amount: NonNegativeMoney
    avg_decision_working_days: float | None
    on_time_rate: float | None
    overdue_count: int
    decision_overdue_count: int
    # Added by issue 15, last: the files' columns follow these fields, and a file read by
    # position keeps its first columns.
    median_decision_working_days: float | None = Field(
        description="the median of `decision_working_days` over the same decided applications "
        "as the mean (`percentile_cont(0.5)`: the mean of the two middle values of an even "
        "count); null when none is decided"
    )
    approval_rate: float | None = Field(
        description="approved / decided (4 decimals): of the applications decided, the share "
        "approved; null when none is decided"
    )


class Stats(BaseModel):
    """Loan statistics for applications submitted between `from` and `to` (inclusive)."""

    model_config = ConfigDict(populate_by_name=True)
    from_: date = Field(alias="from")
    to: date
    group_by: str | None
    bank_code: str | None
    groups: list[StatsRow]
    total: StatsRow
