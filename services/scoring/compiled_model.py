"""A points model compiled once per recompute: the same points, exact total and stored breakdown
as `pointsmodel.compute` + `breakdown.breakdown_json` (serialised by orjson), byte for byte,
at a fraction of the cost.

`pointsmodel.compute` stays the specification; this module only precomputes what does not
depend on the enterprise. Per stage (compiled on first sight): each rule's multiplier, its cap
and the JSON text of everything around the value, points and note; every band's weighted
points; the bonuses' items per (industry, categories). Per enterprise, integer arithmetic on
points in units of 0.0001 (every item is rounded to 4 decimals, so the total is a sum of
integers), a float logarithm that falls back to the Decimal one near a rounding boundary (see
`compiled_lines`), and the breakdown assembled from the precomputed pieces. Anything outside the
fast path's proven range (huge numbers, non-integer values of a linear rule) is computed by the
reference's own functions, and an enterprise whose total is out of range is recomputed by the
reference whole, so its error is the reference's too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal

import orjson

from services.scoring import pointsmodel
from services.scoring.breakdown import breakdown_json
from services.scoring.compiled_lines import (
    CACHE,
    MAX_TOTAL_UNITS,
    UNITS,
    Fallback,
    Line,
    Value,
    json_str,
    line_for,
    units_of,
    units_text,
)
from services.scoring.pointsmodel import ModelDefinition


@dataclass(frozen=True, slots=True)
class Scored:
    """One enterprise's points: the integer, the exact total and the stored breakdown."""

    points: int
    total: Decimal
    breakdown: bytes  # exactly orjson.dumps(breakdown_json(items)) of the reference


class _Stage:
    """The model compiled for one stage."""

    __slots__ = ("bonuses", "lines", "memo")

    def __init__(self, model: ModelDefinition, stage: str) -> None:
        self.lines: list[Line] = []
        for rule in model.indicators:
            multiplier = pointsmodel.multiplier(model, rule, stage)
            self.lines.append(line_for(rule, multiplier, stage))
        self.bonuses = [
            (bonus, units_of(pointsmodel.bonus_points(bonus)))
            for bonus in model.bonuses
            if bonus.when.stage is None or bonus.when.stage == stage
        ]
        self.memo: dict[tuple[str, tuple[str, ...]], tuple[int, str]] = {}

    def bonus_items(
        self, stage: str, industry: str, categories: Collection[str]
    ) -> tuple[int, str]:
        """The bonuses that apply: their total units and JSON items, each after a comma."""
        key = (industry, tuple(categories))
        known = self.memo.get(key)
        if known is not None:
            return known
        units, parts = 0, []
        for bonus, points in self.bonuses:
            if pointsmodel.bonus_applies(bonus, stage, industry, categories):
                units += points
                text = units_text(points)
                parts.append(
                    f',{{"indicator":{json_str("bonus:" + bonus.key)},"value":null,'
                    f'"points":"{text}","cap":"{text}","note":{json_str(bonus.label)}}}'
                )
        known = units, "".join(parts)
        if len(self.memo) < CACHE:
            self.memo[key] = known
        return known


class CompiledModel:
    """A model ready to score many enterprises: `score` equals the reference exactly."""

    def __init__(self, model: ModelDefinition) -> None:
        self.model = model
        self._stages: dict[str, _Stage] = {}

    def score(
        self,
        stage: str,
        industry: str,
        categories: Collection[str],
        values: Mapping[str, Value],
        notes: Mapping[str, str],
    ) -> Scored:
        """One enterprise's points and stored breakdown, from the same facts as the reference's
        `Facts` (values may be ints where the reference has `Decimal(int)`)."""
        plan = self._stages.get(stage)
        if plan is None:
            plan = self._stages[stage] = _Stage(self.model, stage)
        try:
            total = 0
            parts = []
            for line in plan.lines:
                value = values.get(line.indicator)
                if value is None:
                    units, text = line.none(notes.get(line.indicator, "no value"))
                else:
                    units, text = line.item(value)
                total += units
                parts.append(text)
            units, bonuses = plan.bonus_items(stage, industry, categories)
            total += units
            if total >= MAX_TOTAL_UNITS:
                raise Fallback
        except Fallback:
            return self.reference(stage, industry, categories, values, notes)
        breakdown = ("[" + ",".join(parts) + bonuses + "]").encode()
        return Scored((total + UNITS // 2) // UNITS, Decimal(total).scaleb(-4), breakdown)

    def reference(
        self,
        stage: str,
        industry: str,
        categories: Collection[str],
        values: Mapping[str, Value],
        notes: Mapping[str, str],
    ) -> Scored:
        """The same through `pointsmodel.compute` (for what the fast path leaves out)."""
        facts = pointsmodel.Facts(
            stage=stage,
            industry=industry,
            categories=frozenset(categories),
            values={k: None if v is None else Decimal(v) for k, v in values.items()},
            notes=notes,
        )
        result = pointsmodel.compute(self.model, facts)
        return Scored(result.points, result.total, orjson.dumps(breakdown_json(result.items)))
