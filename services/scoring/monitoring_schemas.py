"""Response models of model monitoring: a model's what-if impact and drift between runs."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field
from typing_extensions import TypeAliasType

from services.scoring.psi import StabilityBand
from shared.money import Money

ModelStatus = TypeAliasType("ModelStatus", Literal["draft", "published"])
BaselineSource = TypeAliasType("BaselineSource", Literal["stored", "computed"])
GroupDimension = TypeAliasType(
    "GroupDimension", Literal["district", "industry", "stage", "category"]
)


class StabilityBin(BaseModel):
    """A bin of the baseline's deciles: values in (`lower`, `upper`] (null: unbounded), or the
    missing values (`missing`). Shares are of each sample's size; `psi` is this bin's term."""

    lower: float | None
    upper: float | None
    missing: bool
    baseline: int
    actual: int
    baseline_share: float = Field(description="0.5 / n when `baseline` is 0 (the zero-bin rule)")
    actual_share: float = Field(description="0.5 / n when `actual` is 0 (the zero-bin rule)")
    psi: float


class Stability(BaseModel):
    """Population stability of the actual sample against the baseline."""

    baseline_count: int
    actual_count: int
    psi: float = Field(description="Σ (actual share − baseline share) · ln(actual / baseline)")
    band: StabilityBand = Field(
        description="< 0.10 stable, 0.10–0.25 investigate, ≥ 0.25 significant"
    )
    chi2: float = Field(description="Pearson's chi-square of homogeneity on the bins' counts")
    dof: int = Field(description="bins − 1")
    p_value: float | None = Field(description="null with a single bin: nothing to test")
    bins: list[StabilityBin]


class Mover(BaseModel):
    """An enterprise whose rank changes, with its rank and points before and after."""

    uscc: str
    name: str
    rank_before: int
    rank_after: int
    points_before: int
    points_after: int


class RankBucket(BaseModel):
    """Enterprises whose rank moves by `from` to `to` places (`to` null: or more)."""

    from_: int = Field(alias="from")
    to: int | None
    up: int
    down: int
    unchanged: int


class RankChanges(BaseModel):
    """How ranks change: Δ = rank before − rank after (positive: up)."""

    moved: int
    unchanged: int
    buckets: list[RankBucket]
    quantiles: dict[str, int] = Field(description="p50 p90 p99 of |Δ| (`percentile_disc`)")
    max: int = Field(description="the largest |Δ|")
    largest_up: list[Mover]
    largest_down: list[Mover]


class PointsChange(BaseModel):
    """How points change: after − before."""

    up: int
    down: int
    unchanged: int
    mean_before: float
    mean_after: float
    mean_change: float
    min_change: int
    max_change: int


class TopChange(BaseModel):
    """Who enters and leaves the top `size`: the 泰信保 waiver of `waiver_year` would change
    for them if the model made that period's ranking."""

    size: int
    waiver_year: int
    entering: list[Mover]
    leaving: list[Mover]


class GroupMeans(BaseModel):
    """Mean points of a district, industry, stage or category, before and after."""

    dimension: GroupDimension
    value: str
    count: int
    mean_before: float
    mean_after: float


class ProductShiftOut(BaseModel):
    """A product's eligibility among the period's enterprises, before and after."""

    product_code: str
    bank_code: str
    name: str
    min_points: int
    eligible_before: int
    eligible_after: int
    gained: int
    lost: int
    tier_up: int = Field(description="eligible both times, a higher limit tier after")
    tier_down: int = Field(description="eligible both times, a lower limit tier after")
    max_amount_before: Money = Field(description="sum of the eligible firms' maximum amounts")
    max_amount_after: Money


class Impact(BaseModel):
    """What `version` would do to `period`'s ranking against `baseline`, nothing changed."""

    period: int
    version: str
    version_status: ModelStatus
    baseline: str
    baseline_source: BaselineSource = Field(
        description="`stored`: the ranking's points (baseline = its model, no indicator or "
        "enterprise changed since); `computed`: scored now"
    )
    ranking_run_id: int | None = Field(description="the period's ranking run; null: none")
    enterprise_count: int
    rank_changes: RankChanges
    points_change: PointsChange
    top: TopChange
    groups: list[GroupMeans]
    products_on: date = Field(description="the day products' eligibility is judged on (today)")
    products: list[ProductShiftOut]
    psi: Stability = Field(description="of the points, `version` against `baseline`")


class IndicatorDrift(BaseModel):
    """One indicator's drift and its missing-value rates."""

    indicator: str
    label: str
    missing_rate: float
    baseline_missing_rate: float
    stability: Stability


class Drift(BaseModel):
    """Drift of a run (`period`, `run_id`) against a baseline run."""

    period: int
    run_id: int
    model_version: str
    baseline_period: int
    baseline_run_id: int
    baseline_model_version: str
    points: Stability
    indicators: list[IndicatorDrift] | None = Field(
        description="null for two runs of one period (their indicator data is the same)"
    )
