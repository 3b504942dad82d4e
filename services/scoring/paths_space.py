"""Where a path to a target is searched: the firm's actionable inputs (raw indicators it can
move: patents, R&D staff, R&D expense, revenue, equity financing), each on a grid (a step, a
floor for relative changes, at most `max_relative` above its value), and the exact gain in
the model's points of any change of them.

Rules are data (`rules/paths.json`). Bonuses, awards and 揭榜挂帅 funds are not inputs: the
bureau and juries grant them. A derived indicator moves through its inputs (R&D intensity
through R&D expense and revenue; R&D staff ratio through hires, each of which adds to the
total staff; revenue growth through revenue), computed by `pointsmodel.derive` itself; every
item's points come from the compiled model's own line, so a gain here is the recompute's."""

from __future__ import annotations

import itertools
import json
import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.scoring import pointsmodel
from services.scoring.compiled_lines import Value, item_units
from services.scoring.pointsmodel import Banded, IndicatorRule, Linear, Log, ModelDefinition
from shared.vocab import IndicatorName

RULES_FILE = Path(__file__).resolve().parent / "rules" / "paths.json"

# The inputs each derived indicator is computed from (`pointsmodel.derive`).
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "rd_intensity": ("rd_expense", "revenue"),
    "rd_staff_ratio": ("rd_staff",),
    "revenue_growth": ("revenue",),
}


class InputRule(BaseModel):
    """An actionable input: its unit, grid step and the floor of its relative change."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    input: IndicatorName
    unit: Literal["count", "yuan"]
    step: Decimal = Field(gt=0)
    floor: Decimal = Field(gt=0)


class PathRules(BaseModel):
    """The rules file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str
    max_changes: int = Field(ge=1, le=4)
    max_relative: Decimal = Field(gt=0)
    inputs: list[InputRule]


@lru_cache
def path_rules() -> PathRules:
    """The paths rules, validated once."""
    return PathRules.model_validate(json.loads(RULES_FILE.read_text(encoding="utf-8")))


@dataclass(frozen=True, slots=True)
class Input:
    """One actionable input of one firm: its value and grid `first + j × step`, j < `size`."""

    name: str
    unit: str
    step: Decimal
    floor: Decimal
    old: Value
    first: Decimal
    size: int

    def at(self, j: int) -> Value:
        """The grid's j-th value (an int for counts)."""
        value = self.first + j * self.step
        return int(value) if self.unit == "count" else value

    def index(self, value: Decimal, up: bool) -> int:
        """The grid index of `value`, rounded up or down to the grid."""
        rounding = ROUND_CEILING if up else ROUND_FLOOR
        return int(((value - self.first) / self.step).to_integral_value(rounding))

    @property
    def limit(self) -> Value:
        """The largest value the grid allows."""
        return self.at(self.size - 1)

    def relative(self, value: Value) -> Decimal:
        """(value − old) / max(old, floor): the change's share, unitless."""
        old = Decimal(self.old or 0)
        return (Decimal(value or 0) - old) / max(old, self.floor)


class Space:
    """A firm's inputs and the exact gain (units of 0.0001 points) of changing them."""

    def __init__(
        self,
        model: ModelDefinition,
        rules: PathRules,
        stage: str,
        raw: Mapping[str, Value],
        previous_revenue: Decimal | None,
        industry: str = "",
        categories: frozenset[str] = frozenset(),
    ) -> None:
        self.model = model
        self.stage, self.industry, self.categories = stage, industry, categories
        self.max_relative = rules.max_relative
        self.raw = dict(raw)
        self.previous_revenue = previous_revenue
        self.rules: dict[str, IndicatorRule] = {r.indicator: r for r in model.indicators}
        self.units = _evaluators(model, stage)
        self.reaches: dict[str, tuple[str, ...]] = {}
        values, _ = pointsmodel.derive(self.raw, previous_revenue)  # type: ignore[arg-type]
        self.values = values
        self.base = {name: self.units[name](values.get(name)) for name in self.units}
        self.inputs: dict[str, Input] = {}
        for spec in rules.inputs:
            reached = tuple(
                name
                for name in self.rules
                if name == spec.input or spec.input in DERIVED_FROM.get(name, ())
            )
            old = self.raw.get(spec.input)
            if not reached or old is None:
                continue
            old_d = Decimal(old)
            first = (old_d / spec.step).to_integral_value(ROUND_FLOOR) * spec.step + spec.step
            top = old_d + rules.max_relative * max(old_d, spec.floor)
            last = (top / spec.step).to_integral_value(ROUND_FLOOR) * spec.step
            size = int((last - first) / spec.step) + 1 if last >= first else 0
            if size <= 0:
                continue
            self.inputs[spec.input] = Input(
                spec.input, spec.unit, spec.step, spec.floor, old, first, size
            )
            self.reaches[spec.input] = reached
        self._memo: dict[tuple[tuple[str, Value], ...], int] = {}

    def gain(self, changes: Mapping[str, Value]) -> int:
        """The exact gain of the total (units) when the inputs take the values `changes`."""
        key = tuple(sorted(changes.items()))
        known = self._memo.get(key)
        if known is not None:
            return known
        values = self.derived(changes)
        gained = sum(self.units[n](values.get(n)) - self.base[n] for n in self.touched(changes))
        self._memo[key] = gained
        return gained

    def coupled(self, name: str, others: Collection[str]) -> bool:
        """Whether an item of `name` is also reached by one of `others` (their gains do not
        add up: R&D intensity through R&D expense and revenue)."""
        mine = set(self.reaches[name])
        return any(mine & set(self.reaches[o]) for o in others if o != name)

    def coupled_set(self, names: Collection[str]) -> bool:
        """Whether any two of `names` reach a common item."""
        return any(self.coupled(n, names) for n in names)

    def derived(self, changes: Mapping[str, Value]) -> dict[str, Decimal | None]:
        """The model's indicator values with `changes` (`pointsmodel.derive`)."""
        raw = dict(self.raw)
        raw.update(changes)
        hires = changes.get("rd_staff")
        if hires is not None:  # a hire is a member of staff too
            raw["total_staff"] = (
                int(self.raw["total_staff"] or 0) + int(hires) - int(self.raw["rd_staff"] or 0)
            )
        values, _ = pointsmodel.derive(raw, self.previous_revenue)  # type: ignore[arg-type]
        return values

    def touched(self, changes: Mapping[str, Value]) -> list[str]:
        """The items the inputs of `changes` reach, in the model's order."""
        reached = {name for i in changes for name in self.reaches[i]}
        return [name for name in self.rules if name in reached]

    def reference_total(self, changes: Mapping[str, Value]) -> Decimal:
        """The exact total with `changes`, by `pointsmodel.compute` (the specification)."""
        raw = dict(self.raw)
        raw.update(changes)
        if "rd_staff" in changes:
            raw["total_staff"] = (
                int(self.raw["total_staff"] or 0)
                + int(changes["rd_staff"] or 0)
                - int(self.raw["rd_staff"] or 0)
            )
        decimals = {k: None if v is None else Decimal(v) for k, v in raw.items()}
        values, notes = pointsmodel.derive(decimals, self.previous_revenue)
        facts = pointsmodel.Facts(self.stage, self.industry, self.categories, values, notes)
        return pointsmodel.compute(self.model, facts).total

    def lowers(self, name: str) -> bool:
        """Whether raising `name` can lower an item (revenue lowers R&D intensity)."""
        return name == "revenue" and "rd_intensity" in self.rules

    def segments(self, name: str, fixed: Mapping[str, Value]) -> list[tuple[int, int]]:
        """Grid index ranges [a, b) within which the total does not fall as `name` rises
        (the whole grid, but for revenue: between the drops of R&D intensity's bands)."""
        spec = self.inputs[name]
        cuts = {0, spec.size}
        if self.lowers(name):
            rd = fixed.get("rd_expense", self.raw.get("rd_expense"))
            transform = self.rules["rd_intensity"].transform
            if rd and isinstance(transform, Banded):
                for band in transform.bands:
                    if band.min > 0:  # intensity < min from revenue > rd / min
                        j = spec.index(Decimal(rd) / band.min, up=False) + 1
                        cuts.add(min(max(j, 0), spec.size))
        edges = sorted(cuts)
        return [(a, b) for a, b in itertools.pairwise(edges) if a < b]

    def candidates(self, name: str, partners: Mapping[str, tuple[Value, ...]]) -> list[Value]:
        """The grid values where `name` first reaches a higher level of some item (whole
        points of a log, a band, a count's next unit, the cap), the ends of the ranges of
        `segments`, and the limit; `partners` are the values the other inputs of its rules
        may take. Ascending."""
        spec = self.inputs[name]
        marks: list[Decimal] = []
        for item in self.reaches[name]:
            marks.extend(self._marks(name, item, partners))
        js = {spec.size - 1}
        for mark in marks:
            j = spec.index(mark, up=True)
            js.update((j, j + 1))
        for rd in partners.get("rd_expense", (self.raw.get("rd_expense"),)):
            for _, b in self.segments(name, {"rd_expense": rd}):
                js.add(b - 1)
        return [spec.at(j) for j in sorted(j for j in js if 0 <= j < spec.size)]

    def _marks(
        self, name: str, item: str, partners: Mapping[str, tuple[Value, ...]]
    ) -> list[Decimal]:
        transform = self.rules[item].transform
        if item == name:
            if isinstance(transform, Linear):
                top = min(transform.cap / transform.per_unit, Decimal(self.inputs[name].limit or 0))
                start = Decimal(self.inputs[name].first)
                count = int(top - start) + 1
                if count <= 200:
                    return [start + k for k in range(max(count, 0))]
                return [top]
            if isinstance(transform, Log):
                return _log_marks(transform)
            return [b.min for b in transform.bands]
        if not isinstance(transform, Banded):
            return []  # the default model bands every derived indicator
        mins = [b.min for b in transform.bands]
        if item == "rd_intensity" and name == "rd_expense":
            revenues = partners.get("revenue", (self.raw.get("revenue"),))
            return [m * Decimal(r) for m in mins for r in revenues if r]
        if item == "rd_staff_ratio":
            r, t = Decimal(self.raw["rd_staff"] or 0), Decimal(self.raw["total_staff"] or 0)
            return [r + max((m * t - r) / (1 - m), Decimal(0)) for m in mins if m < 1]
        if item == "revenue_growth" and self.previous_revenue:
            return [self.previous_revenue * (1 + m) for m in mins]
        return []

    def closing(self, name: str, fixed: Mapping[str, Value], need: int) -> Value | None:
        """The least grid value of `name` whose gain, with the other inputs at `fixed`,
        reaches `need` units (None when none does): bisection within each range of
        `segments`, the first range that reaches deciding."""
        spec = self.inputs[name]
        changes = dict(fixed)

        def reaches(j: int) -> bool:
            changes[name] = spec.at(j)
            return self.gain(changes) >= need

        for a, b in self.segments(name, fixed):
            if not reaches(b - 1):
                continue
            j = bisect_left(range(a, b), True, key=reaches) + a
            return spec.at(j)
        return None


_COMPILED: dict[int, tuple[ModelDefinition, dict[str, dict[str, Callable[[Value], int]]]]] = {}


def _evaluators(model: ModelDefinition, stage: str) -> dict[str, Callable[[Value], int]]:
    """Each rule's points (units) as a function of its value under `stage`, built once per
    model and stage: bands by bisection over their precomputed points, other rules by the
    compiled model's line, remembered per value (the search asks for the same values
    often)."""
    known = _COMPILED.get(id(model))
    if known is None or known[0] is not model:
        if len(_COMPILED) > 16:
            _COMPILED.clear()
        known = _COMPILED[id(model)] = (model, {})
    by_stage = known[1]
    if stage not in by_stage:
        by_stage[stage] = {
            rule.indicator: _evaluator(rule, pointsmodel.multiplier(model, rule, stage), stage)
            for rule in model.indicators
        }
    return by_stage[stage]


def _evaluator(rule: IndicatorRule, weight: Decimal, stage: str) -> Callable[[Value], int]:
    transform = rule.transform
    if isinstance(transform, Banded):
        mins = [band.min for band in transform.bands]
        levels = [0] + [
            int(pointsmodel.item_points(rule, m, weight, stage)[0].scaleb(4)) for m in mins
        ]

        def banded(value: Value) -> int:
            return 0 if value is None else levels[bisect_right(mins, value)]

        return banded
    line = item_units(rule, weight, stage)
    memo: dict[Value, int] = {}

    def remembered(value: Value) -> int:
        units = memo.get(value)
        if units is None:
            units = memo[value] = line(value)
            if len(memo) > 100_000:
                memo.clear()
        return units

    return remembered


def _log_marks(transform: Log) -> list[Decimal]:
    """Where `coef × log10(v / base)` reaches each whole point up to the cap, and the cap."""
    marks = []
    whole = int(transform.cap)
    for k in [*range(1, whole + 1), float(transform.cap)]:
        marks.append(Decimal(transform.base) * Decimal(10 ** (float(k) / float(transform.coef))))
    return [m for m in marks if math.isfinite(m)]
