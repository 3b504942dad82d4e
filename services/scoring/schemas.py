"""Request and response models of the scoring service."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.scoring.paths_schemas import DiagnosisPaths
from services.scoring.pointsmodel import ModelDefinition
from shared.as_of import Versions
from shared.integers import JSON_INTEGER, Integer
from shared.money import NonNegativeMoney
from shared.timestamps import Instant
from shared.uscc import Uscc
from shared.vocab import Category, District, Stage

Count = Annotated[int, Field(ge=0, le=10_000_000), JSON_INTEGER]
Awards = Annotated[int, Field(ge=0, le=1000), JSON_INTEGER]


class EnterpriseIn(BaseModel):
    """One enterprise in a bulk upsert."""

    model_config = ConfigDict(extra="forbid")

    uscc: Uscc
    name: str = Field(min_length=1, max_length=200)
    district: District
    industry: str = Field(min_length=1, max_length=40, description="an industry code")
    stage: Stage
    categories: list[Category] = Field(default_factory=list, max_length=5)
    founded_on: date | None = None

    @field_validator("categories")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class EnterpriseOut(BaseModel):
    """An enterprise as the API shows it."""

    uscc: str
    name: str
    district: str
    industry: str
    industry_name: str
    stage: str
    categories: list[str]
    founded_on: date | None
    updated_at: Instant


class IndicatorIn(BaseModel):
    """One enterprise's raw indicators for a period (derived ones are computed, not given)."""

    model_config = ConfigDict(extra="forbid")

    uscc: Uscc
    invention_patents: Count
    utility_models: Count
    software_copyrights: Count
    rd_expense: NonNegativeMoney
    revenue: NonNegativeMoney
    rd_staff: Count
    total_staff: Count
    equity_financing: NonNegativeMoney = Decimal("0.00")
    awards_provincial: Awards = 0
    awards_national: Awards = 0
    jbgs_funds_paid: NonNegativeMoney = Field(
        default=Decimal("0.00"), description="揭榜挂帅 funds the enterprise actually paid in"
    )

    @field_validator("total_staff")
    @classmethod
    def _staff(cls, value: int, info: Any) -> int:
        rd = info.data.get("rd_staff")
        if rd is not None and rd > value:
            raise ValueError("rd_staff cannot exceed total_staff")
        return value


class IndustryIn(BaseModel):
    """An industry of the managed list."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    position: Integer = Field(default=50, ge=0, le=999)


class IndustryOut(BaseModel):
    """An industry code, its name and its display position."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    position: int


class BulkResult(BaseModel):
    """What a bulk upsert did."""

    received: int
    created: int
    updated: int


class ModelOut(BaseModel):
    """A points model version."""

    version: str
    status: str
    created_at: Instant
    published_at: Instant | None
    definition: ModelDefinition


class RecomputeIn(BaseModel):
    """Which published model to recompute a period with (default: the latest published)."""

    model_config = ConfigDict(extra="forbid")

    model_version: str | None = Field(default=None, max_length=40)


class RunOut(BaseModel):
    """A recompute run."""

    id: int
    period: int
    model_version: str
    requested_by: str | None
    started_at: Instant
    finished_at: Instant
    duration_ms: int
    enterprise_count: int


class BreakdownItem(BaseModel):
    """How one indicator (or bonus) contributed: value, points (4 decimals), cap, why."""

    indicator: str
    value: str | None
    points: str
    cap: str
    note: str


class PointsOut(BaseModel):
    """An enterprise's points for a period under the model of that period's ranking."""

    uscc: str
    period: int
    model_version: str
    points: int
    total_exact: str
    rank: int
    rank_total: int
    percentile: float
    breakdown: list[BreakdownItem]
    computed_at: Instant
    versions: Versions = Field(description="the ranking run and model it was made with")


class RankingEntry(BaseModel):
    """One line of a ranking."""

    rank: int
    uscc: str
    name: str
    district: str
    industry: str
    stage: str
    categories: list[str]
    points: int
    total_exact: str
    percentile: float
    overall_rank: int
    previous_rank: int | None = Field(
        description="the overall rank in the ranking of the period before (for a filtered "
        "ranking too: the city-wide rank, as `overall_rank`); null when not ranked then"
    )
    previous_points: int | None = Field(
        description="the points in the ranking of the period before; null when not ranked then"
    )


class RankingPage(BaseModel):
    """A page of a (possibly filtered) ranking."""

    period: int
    model_version: str
    rank_total: int
    items: list[RankingEntry]
    next_cursor: str | None
    versions: Versions = Field(description="the ranking run and model it was made with")


class Bin(BaseModel):
    """Enterprises with `lower ≤ points < upper` (the last bin includes its upper bound)."""

    lower: float
    upper: float
    count: int


class Distribution(BaseModel):
    """Histogram and quantiles of a period's points (of the enterprises the filters keep)."""

    period: int
    model_version: str
    district: str | None
    industry: str | None
    category: str | None
    count: int
    min: int | None = Field(description="null when no enterprise is counted")
    max: int | None = Field(description="null when no enterprise is counted")
    mean: float | None = Field(description="null when no enterprise is counted")
    quantiles: dict[str, float] = Field(
        description="p10 p25 p50 p75 p90 p99 (`percentile_cont`); empty when no enterprise is "
        "counted"
    )
    histogram: list[Bin] = Field(description="empty when no enterprise is counted")
    versions: Versions = Field(description="the ranking run and model it was made with")


class IndicatorPercentile(BaseModel):
    """Where an enterprise stands on one indicator among its peers."""

    indicator: str
    label: str
    value: str | None
    points: str
    percentile: float


class Recommendation(BaseModel):
    """A service or policy item of the diagnosis, with the rule that put it there."""

    rule_id: str
    title: str
    detail: str
    detail_zh: str = Field(description="the same in Chinese (the printed 诊断书's text)")
    amount: str | None = None


class DiagnosedEnterprise(BaseModel):
    """The enterprise's attributes the diagnosis was made with (then, for `as_of`)."""

    district: str
    industry: str
    industry_name: str
    stage: str
    stage_label: str
    categories: list[str]


class RankIn(BaseModel):
    """A rank within a district or an industry (the filtered ranking's order)."""

    code: str | None = Field(default=None, description="the industry code (industry only)")
    name: str
    rank: int
    of: int


class DiagnosisRanks(BaseModel):
    """The firm's rank among the firms of its district and of its industry."""

    district: RankIn
    industry: RankIn


class Diagnosis(BaseModel):
    """The 诊断书: standing among peers, strengths, weaknesses, services and policies, and
    the paths to the next targets."""

    uscc: str
    name: str
    period: int
    model_version: str
    points: int
    total_exact: str
    rank: int
    rank_total: int
    enterprise: DiagnosedEnterprise
    ranks: DiagnosisRanks
    breakdown: list[BreakdownItem] = Field(description="as the points' breakdown")
    peer_group: dict[str, Any]
    indicators: list[IndicatorPercentile]
    strengths: list[str]
    weaknesses: list[str]
    services: list[Recommendation]
    policies: list[Recommendation]
    paths: DiagnosisPaths | None = Field(
        description="paths to the next limit tier and to the top 100; null when the "
        "indicators changed after the ranking (see `paths_note`)"
    )
    paths_note: str | None = Field(description="why `paths` is null, else null")
    versions: Versions = Field(description="the ranking run and model it was made with")
