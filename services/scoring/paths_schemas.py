"""The answer of `GET /v1/scoring/enterprises/{uscc}/paths` and of the diagnosis's `paths`:
the smallest sets of indicator changes that take a firm to a target (a rank, points, a
product's next limit tier), each verified against the model that made its points.

Money is shown as in the breakdown (2 decimals), ratios with 4; `total_exact` as the stored
total (4 decimals)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from typing_extensions import TypeAliasType

from shared.as_of import Versions

TargetKind = TypeAliasType(
    "TargetKind", Literal["top-100", "rank", "points", "product", "next-tier"]
)
"""What a path leads to."""

UnreachableReason = TypeAliasType(
    "UnreachableReason",
    Literal["at-caps", "beyond-limits", "category-required", "product-inactive", "top-tier"],
)
"""Why no plan reaches a target."""


class Baseline(BaseModel):
    """The firm's standing in the ranking the paths start from."""

    points: int
    total_exact: str
    rank: int
    rank_total: int


class ProductRef(BaseModel):
    """The product a `product:CODE` target names."""

    code: str
    bank_code: str
    name: str


class Target(BaseModel):
    """A target as a threshold on the exact total: reached when `total ≥ total_needed`."""

    kind: TargetKind
    text: str = Field(description="the target in words, e.g. 'top 100 (rank ≤ 100)'")
    total_needed: str = Field(description="the least exact total that reaches it (4 decimals)")
    points_needed: int = Field(description="the points that total rounds to")
    rank: int | None = Field(description="the rank asked for (rank targets), else null")
    product: ProductRef | None = Field(default=None, description="product targets only")


class Unreachable(BaseModel):
    """Why no plan reaches the target."""

    reason: UnreachableReason
    detail: str


class Change(BaseModel):
    """One actionable input's change (a raw indicator the firm can move)."""

    input: str
    label: str
    value_from: str
    value_to: str
    unit: str = Field(description="'count' or 'yuan'")
    relative: str = Field(description="(to − from) / max(from, floor), 4 decimals")


class ItemChange(BaseModel):
    """A model item whose points a plan moves (derived indicators included)."""

    indicator: str
    label: str
    value_from: str | None
    value_to: str | None
    points_from: str
    points_to: str


class Cost(BaseModel):
    """A plan's cost: fewest changes first, then least total relative change."""

    changes: int
    relative: str


class TierUnlock(BaseModel):
    """A limit tier the plan's points reach."""

    points: int
    max_amount: str


class Unlocks(BaseModel):
    """What reaching the target gives."""

    tier: TierUnlock | None = Field(description="the limit tier reached (tier targets)")
    waiver_year: int | None = Field(
        description="the year whose 泰信保 fee is waived (rank ≤ 100 targets)"
    )


class Plan(BaseModel):
    """One way to reach the target: the changes, every item they move, and the outcome."""

    changes: list[Change]
    items: list[ItemChange]
    points: int
    total_exact: str
    rank: int
    rank_total: int
    gain: str = Field(description="exact total gained (4 decimals)")
    cost: Cost
    unlocks: Unlocks


class PathsOut(BaseModel):
    """Up to 3 plans to reach a target, cheapest first, each a distinct set of inputs."""

    uscc: str
    period: int
    model_version: str
    rules_version: str = Field(description="the version of `rules/paths.json` used")
    baseline: Baseline
    target: Target
    reached: bool = Field(description="the firm already meets the target (no plans)")
    unreachable: Unreachable | None
    plans: list[Plan]
    cost_rule: str
    versions: Versions = Field(description="the ranking run and model it was made with")


class DiagnosisPaths(BaseModel):
    """The diagnosis's paths: to the firm's next limit tier (over every bank's open products;
    null when no product is open to it) and to the top 100."""

    next_tier: PathsOut | None
    top_100: PathsOut
