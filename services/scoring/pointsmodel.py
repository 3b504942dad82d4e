"""The points model as data, and the exact (Decimal) computation of one enterprise's points.

A model lists indicators, each with a transform (linear with cap, log, banded tiers) and a
weight, optional per-stage weights, and bonuses for categories, stages or industries. Every
item's points are rounded half-up to 4 decimals; the exact total is the sum of the items; the
integer points are that total rounded half-up. So the breakdown always sums to the total
before rounding, and the same inputs always give the same points.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypeAliasType

from shared.vocab import (
    Category,
    IndicatorName,
    Stage,
)

ITEM_PLACES = Decimal("0.0001")
_CTX = Context(prec=34)
# Logarithms to 20 significant digits: items are rounded to 4 decimals and stay below 10^10,
# so 20 digits decide every rounding while costing far less than 34.
_LOG_CTX = Context(prec=20)

Num = Annotated[Decimal, Field(allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Linear(_Strict):
    """`value × per_unit`, at least 0 and at most `cap`."""

    type: Literal["linear"]
    per_unit: Num = Field(gt=0)
    cap: Num = Field(gt=0)


class Log(_Strict):
    """`coef × log10(value / base)`, at least 0 and at most `cap` (0 when value ≤ base)."""

    type: Literal["log"]
    base: Num = Field(gt=0)
    coef: Num = Field(gt=0)
    cap: Num = Field(gt=0)


class Band(_Strict):
    """Values of at least `min` earn `points` (the highest band reached counts)."""

    min: Num
    points: Num = Field(ge=0)


class Banded(_Strict):
    """Tiers: the points of the highest band whose `min` the value reaches, else 0."""

    type: Literal["banded"]
    bands: list[Band] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _ascending(self) -> Self:
        mins = [b.min for b in self.bands]
        if mins != sorted(mins) or len(set(mins)) != len(mins):
            raise ValueError("bands must have strictly ascending min values")
        return self

    @property
    def cap(self) -> Decimal:
        """The most points a band gives."""
        return max(b.points for b in self.bands)


Transform = Annotated[Linear | Log | Banded, Field(discriminator="type")]

IndicatorGroup = TypeAliasType("IndicatorGroup", Literal["technology", "growth", "auxiliary"])
"""The points model's three groups of indicators."""


class IndicatorRule(_Strict):
    """How one indicator turns into points."""

    indicator: IndicatorName
    label: str = Field(min_length=1, max_length=100)
    group: IndicatorGroup
    transform: Transform
    weight: Num = Field(default=Decimal(1), gt=0, le=100)


class Condition(_Strict):
    """A bonus applies when every given field matches."""

    category: Category | None = None
    stage: Stage | None = None
    industry: str | None = Field(default=None, max_length=40)

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.category is None and self.stage is None and self.industry is None:
            raise ValueError("a bonus condition needs category, stage or industry")
        return self


class Bonus(_Strict):
    """Fixed points for enterprises meeting a condition (e.g. a 高新技术企业)."""

    key: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    label: str = Field(min_length=1, max_length=100)
    when: Condition
    points: Num = Field(gt=0, le=1000)


class ModelDefinition(_Strict):
    """A points model: what a draft or published version holds."""

    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    indicators: list[IndicatorRule] = Field(min_length=1, max_length=100)
    stage_weights: dict[Stage, dict[IndicatorName, Num]] = Field(default_factory=dict)
    bonuses: list[Bonus] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [r.indicator for r in self.indicators]
        if len(set(names)) != len(names):
            raise ValueError("each indicator may appear once")
        for stage, weights in self.stage_weights.items():
            unknown = set(weights) - set(names)
            if unknown:
                raise ValueError(
                    f"stage_weights.{stage} names indicators not in the model: "
                    + ", ".join(sorted(unknown))
                )
            if any(w <= 0 or w > 100 for w in weights.values()):
                raise ValueError(f"stage_weights.{stage}: weights must be in (0, 100]")
        keys = [b.key for b in self.bonuses]
        if len(set(keys)) != len(keys):
            raise ValueError("bonus keys must be unique")
        return self


@dataclass(frozen=True, slots=True)
class Facts:
    """What the model reads about one enterprise in one period."""

    stage: str
    industry: str
    categories: frozenset[str]
    values: Mapping[str, Decimal | None]
    notes: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Item:
    """One line of the breakdown."""

    indicator: str
    value: Decimal | None
    points: Decimal
    cap: Decimal
    note: str


@dataclass(frozen=True, slots=True)
class Result:
    """An enterprise's points: the integer, the exact total and the breakdown."""

    points: int
    total: Decimal
    items: Sequence[Item]


def _q(value: Decimal) -> Decimal:
    return value.quantize(ITEM_PLACES, rounding=ROUND_HALF_UP, context=_CTX)


def _transform(rule: Transform, value: Decimal) -> tuple[Decimal, str]:
    if isinstance(rule, Linear):
        raw = _CTX.multiply(value, rule.per_unit)
        if raw >= rule.cap:
            return rule.cap, f"{value} × {rule.per_unit}, capped at {rule.cap}"
        return max(raw, Decimal(0)), f"{value} × {rule.per_unit}"
    if isinstance(rule, Log):
        if value <= rule.base:
            return Decimal(0), f"at most the base {rule.base}"
        raw = _CTX.multiply(rule.coef, _LOG_CTX.divide(value, rule.base).log10(_LOG_CTX))
        if raw >= rule.cap:
            return rule.cap, f"{rule.coef} × log10(value / {rule.base}), capped at {rule.cap}"
        return raw, f"{rule.coef} × log10(value / {rule.base})"
    reached = [b for b in rule.bands if value >= b.min]
    if not reached:
        return Decimal(0), f"below the lowest band ({rule.bands[0].min})"
    band = reached[-1]
    return band.points, f"band ≥ {band.min}"


def multiplier(model: ModelDefinition, rule: IndicatorRule, stage: str) -> Decimal:
    """The rule's weight times its stage weight (1 when the stage names none)."""
    stage_weights = model.stage_weights.get(stage, {})  # type: ignore[call-overload]
    return _CTX.multiply(rule.weight, stage_weights.get(rule.indicator, Decimal(1)))


def item_cap(rule: IndicatorRule, multiplier: Decimal) -> Decimal:
    """The most points the rule's item can give under `multiplier`, rounded as items are."""
    return _q(_CTX.multiply(rule.transform.cap, multiplier))


def item_points(
    rule: IndicatorRule, value: Decimal, multiplier: Decimal, stage: str
) -> tuple[Decimal, str]:
    """One item's points (the transform times the multiplier, rounded) and its note."""
    base, note = _transform(rule.transform, value)
    if multiplier != 1:
        note += f"; weight {multiplier} ({stage})"
    return _q(_CTX.multiply(base, multiplier)), note


def bonus_applies(bonus: Bonus, stage: str, industry: str, categories: Container[str]) -> bool:
    """Whether every field of the bonus's condition matches the enterprise."""
    cond = bonus.when
    return (
        (cond.category is None or cond.category in categories)
        and (cond.stage is None or cond.stage == stage)
        and (cond.industry is None or cond.industry == industry)
    )


def bonus_points(bonus: Bonus) -> Decimal:
    """A bonus's points, rounded as items are (also its item's cap)."""
    return _q(bonus.points)


def compute(model: ModelDefinition, facts: Facts) -> Result:
    """Compute one enterprise's points under `model`, exactly."""
    items: list[Item] = []
    for rule in model.indicators:
        weight = multiplier(model, rule, facts.stage)
        cap = item_cap(rule, weight)
        value = facts.values.get(rule.indicator)
        if value is None:
            note = facts.notes.get(rule.indicator, "no value")
            items.append(Item(rule.indicator, None, Decimal("0.0000"), cap, note))
            continue
        earned, note = item_points(rule, value, weight, facts.stage)
        items.append(Item(rule.indicator, value, earned, cap, note))
    for bonus in model.bonuses:
        if bonus_applies(bonus, facts.stage, facts.industry, facts.categories):
            extra = bonus_points(bonus)
            items.append(Item("bonus:" + bonus.key, None, extra, extra, bonus.label))
    total = sum((i.points for i in items), Decimal("0.0000"))
    points = int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return Result(points=points, total=total, items=items)


def derive(
    raw: Mapping[str, Decimal | None], previous_revenue: Decimal | None
) -> tuple[dict[str, Decimal | None], dict[str, str]]:
    """Add the derived indicators to the raw ones; say why one could not be derived."""
    values = dict(raw)
    notes: dict[str, str] = {}
    revenue, rd_expense = raw.get("revenue"), raw.get("rd_expense")
    rd_staff, total_staff = raw.get("rd_staff"), raw.get("total_staff")
    if revenue and rd_expense is not None:
        values["rd_intensity"] = _CTX.divide(rd_expense, revenue)
    else:
        values["rd_intensity"] = None
        notes["rd_intensity"] = "no revenue: R&D intensity undefined"
    if total_staff and rd_staff is not None:
        values["rd_staff_ratio"] = _CTX.divide(rd_staff, total_staff)
    else:
        values["rd_staff_ratio"] = None
        notes["rd_staff_ratio"] = "no staff: R&D staff ratio undefined"
    if previous_revenue is None:
        values["revenue_growth"] = None
        notes["revenue_growth"] = "no indicator data for the previous period"
    elif previous_revenue == 0 or revenue is None:
        values["revenue_growth"] = None
        notes["revenue_growth"] = "previous period's revenue is zero: growth undefined"
    else:
        values["revenue_growth"] = _CTX.subtract(_CTX.divide(revenue, previous_revenue), Decimal(1))
    return values, notes
