"""Request and response models of the guarantee service."""

from __future__ import annotations

import uuid
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.guarantee.waiver import Waiver
from shared.as_of import Versions
from shared.integers import JSON_INTEGER, Integer
from shared.money import NonNegativeMoney, PositiveMoney
from shared.rates import NonNegativeRate
from shared.timestamps import Instant, Timestamp
from shared.uscc import Uscc
from shared.years import FIRST_YEAR, LAST_YEAR

FirmCode = Annotated[str, Field(pattern=r"^[A-Z0-9_]{2,32}$")]


class WaiverBasis(BaseModel):
    """The ranking a waiver answer rests on."""

    ranking_period: int
    rank: int | None
    rank_total: int | None
    model_version: str


class WaiverOut(BaseModel):
    """Whether the 泰信保 fee is waived for a year."""

    uscc: str
    year: int
    waived: bool
    basis: WaiverBasis | None
    reason: str
    versions: Versions = Field(description="the ranking run of `year − 1` it rests on")

    @classmethod
    def of(cls, uscc: str, found: Waiver, versions: Versions) -> WaiverOut:
        """The answer for `uscc`'s waiver `found`, resting on the ranking run `versions`."""
        basis = None
        if found.ranking_period is not None and found.model_version is not None:
            basis = WaiverBasis(
                ranking_period=found.ranking_period,
                rank=found.rank,
                rank_total=found.rank_total,
                model_version=found.model_version,
            )
        return cls(
            uscc=uscc,
            year=found.year,
            waived=found.waived,
            basis=basis,
            reason=found.reason,
            versions=versions,
        )


class FeeRateIn(BaseModel):
    """A fee rate for loans from `effective_year` on."""

    model_config = ConfigDict(extra="forbid")
    effective_year: Integer = Field(ge=FIRST_YEAR, le=LAST_YEAR)
    rate: NonNegativeRate
    note: str = Field(default="", max_length=500)


class FeeRateOut(BaseModel):
    """A fee-rate setting."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    effective_year: int
    rate: NonNegativeRate
    note: str
    set_at: Instant
    set_by: str | None


class QuoteIn(BaseModel):
    """A loan to price the guarantee for."""

    model_config = ConfigDict(extra="forbid")
    uscc: Uscc
    amount: PositiveMoney
    term_months: Integer = Field(ge=1, le=360)
    year: Annotated[int, Field(ge=FIRST_YEAR, le=LAST_YEAR), JSON_INTEGER] | None = Field(
        default=None, description="the loan's year (default: this year, Asia/Shanghai)"
    )


class QuoteOut(BaseModel):
    """fee = amount × annual rate × months / 12, half-up to cents; waived → payable 0.00."""

    uscc: str
    year: int
    amount: PositiveMoney
    term_months: int
    fee_rate: NonNegativeRate
    fee: NonNegativeMoney
    waived: bool
    payable_fee: NonNegativeMoney
    waiver: WaiverOut
    versions: Versions = Field(description="the ranking run and the fee rate used")


class ConsentIn(BaseModel):
    """An enterprise's consent to share its features with one firm."""

    model_config = ConfigDict(extra="forbid")
    uscc: Uscc
    firm_code: FirmCode
    granted_at: Timestamp
    expires_at: Timestamp | None = None
    evidence_ref: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _expiry_after_grant(self) -> Self:
        if self.expires_at is not None and self.expires_at <= self.granted_at:
            raise ValueError("expires_at must be after granted_at")
        return self


class ConsentOut(BaseModel):
    """A consent and what became of it."""

    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    uscc: str
    firm_code: str
    granted_at: Instant
    expires_at: Instant | None
    evidence_ref: str
    revoked_at: Instant | None
    revoked_by: str | None
    created_by: str
    created_at: Instant
    live: bool


class TopEntry(BaseModel):
    """One of the year's waived enterprises."""

    rank: int
    uscc: str
    points: int
    ranking_period: int
    model_version: str


class WaiverPage(BaseModel):
    """A page of the year's waived enterprises, and the ranking run they come from."""

    items: list[TopEntry]
    next_cursor: str | None
    versions: Versions = Field(description="the ranking run of `year − 1` the list is from")


class FeatureOut(BaseModel):
    """A column of the feature table."""

    name: str
    type: str
    unit: str | None
    definition: str
    since_version: str


class FeatureSchema(BaseModel):
    """The export's data dictionary."""

    feature_schema_version: str
    features: list[FeatureOut]
