"""The paths search against brute force on small grids: every plan reaches the target under
`pointsmodel.compute`, no smaller vector of the grid reaches it, the fewest changes are found,
costs are the optimum (exactly, for sets with at most one money input), and a target is called
unreachable exactly when nothing in the limits reaches it."""

from __future__ import annotations

import random
from decimal import Decimal
from itertools import combinations, product
from typing import Any

import pytest

from services.scoring import pointsmodel
from services.scoring.paths import search
from services.scoring.paths_space import InputRule, PathRules, Space
from services.scoring.pointsmodel import ModelDefinition

MODEL = ModelDefinition.model_validate(
    {
        "version": "PATHS-TEST",
        "name": "paths test",
        "indicators": [
            {"indicator": "invention_patents", "label": "p", "group": "technology",
             "transform": {"type": "linear", "per_unit": "3", "cap": "9"}},
            {"indicator": "utility_models", "label": "u", "group": "technology",
             "transform": {"type": "linear", "per_unit": "2", "cap": "8"}},
            {"indicator": "rd_staff_ratio", "label": "s", "group": "technology",
             "transform": {"type": "banded", "bands": [
                 {"min": "0.2", "points": "3"}, {"min": "0.3", "points": "6"}]}},
            {"indicator": "rd_expense", "label": "r", "group": "technology",
             "transform": {"type": "log", "base": "100000", "coef": "8", "cap": "10"}},
            {"indicator": "rd_intensity", "label": "i", "group": "technology",
             "transform": {"type": "banded", "bands": [
                 {"min": "0.05", "points": "4"}, {"min": "0.08", "points": "8"}]}},
            {"indicator": "revenue", "label": "v", "group": "growth",
             "transform": {"type": "log", "base": "1000000", "coef": "10", "cap": "12"}},
            {"indicator": "revenue_growth", "label": "g", "group": "growth",
             "transform": {"type": "banded", "bands": [
                 {"min": "0", "points": "2"}, {"min": "0.5", "points": "5"}]}},
        ],
        "stage_weights": {"growth": {"revenue": "1.2"}},
    }
)  # fmt: skip
RULES = PathRules(
    version="test",
    max_changes=3,
    max_relative=Decimal("1"),
    inputs=[
        InputRule(input="invention_patents", unit="count", step=Decimal(1), floor=Decimal(1)),
        InputRule(input="utility_models", unit="count", step=Decimal(1), floor=Decimal(1)),
        InputRule(input="rd_staff", unit="count", step=Decimal(1), floor=Decimal(1)),
        InputRule(input="rd_expense", unit="yuan", step=Decimal(40000), floor=Decimal(100000)),
        InputRule(input="revenue", unit="yuan", step=Decimal(400000), floor=Decimal(1000000)),
    ],
)
MONEY = {"rd_expense", "revenue"}


def _firm(rng: random.Random) -> tuple[dict[str, Any], Decimal]:
    raw: dict[str, Any] = {
        "invention_patents": rng.randint(0, 3),
        "utility_models": rng.randint(0, 4),
        "software_copyrights": 0,
        "rd_expense": Decimal(rng.randrange(100000, 400000, 20000)),
        "revenue": Decimal(rng.randrange(2000000, 4000000, 100000)),
        "rd_staff": rng.randint(0, 4),
        "total_staff": 12,
        "equity_financing": Decimal(0),
        "awards_provincial": 0,
        "awards_national": 0,
        "jbgs_funds_paid": Decimal(0),
    }
    return raw, Decimal(rng.randrange(1800000, 3000000, 100000))


def _grid(space: Space, name: str) -> list[Any]:
    spec = space.inputs[name]
    return [spec.old] + [spec.at(j) for j in range(spec.size)]


def _brute(space: Space, need: int, total: Decimal) -> dict[str, Any]:
    """Per set of changed inputs (≤ 3): its cheapest reaching vector's cost, and every
    reaching vector."""
    theta = total + Decimal(need).scaleb(-4)
    names = sorted(space.inputs)
    grids = {n: _grid(space, n) for n in names}
    reaching: list[dict[str, Any]] = []
    for values in product(*(grids[n] for n in names)):
        changes = {n: v for n, v in zip(names, values, strict=True) if v != space.inputs[n].old}
        if 0 < len(changes) <= RULES.max_changes and space.reference_total(changes) >= theta:
            reaching.append(changes)
    best: dict[frozenset[str], Any] = {}
    for changes in reaching:
        key = frozenset(changes)
        cost = sum(space.inputs[n].relative(v) for n, v in changes.items())
        best[key] = min(best.get(key, cost), cost)
    return {"best": best, "reaching": reaching}


@pytest.mark.parametrize("seed", range(12))
def test_plans_are_the_brute_forces(seed: int) -> None:
    rng = random.Random(seed)
    raw, previous = _firm(rng)
    stage = rng.choice(["growth", "startup"])
    space = Space(MODEL, RULES, stage, raw, previous)
    total = space.reference_total({})
    most = max(
        space.gain({n: space.inputs[n].limit for n in s}) for s in combinations(space.inputs, 3)
    )
    need = rng.randint(1, max(most, 1) + 20000)
    found = search(space, need, RULES.max_changes, total)
    brute = _brute(space, need, total)
    theta = total + Decimal(need).scaleb(-4)
    if not brute["best"]:
        assert found.plans == []
        assert found.reason in ("at-caps", "beyond-limits")
        return
    assert found.reason is None
    assert found.plans
    least_k = min(len(s) for s in brute["best"])
    assert len(found.plans[0].changes) == least_k
    ranked = sorted(brute["best"].items(), key=lambda kv: (len(kv[0]), kv[1]))
    assert [len(p.changes) for p in found.plans] == [len(s) for s, _ in ranked[: len(found.plans)]]
    for plan in found.plans:
        changes = dict(plan.changes)
        assert space.reference_total(changes) >= theta
        # Pareto-minimal: no other reaching vector of the grid lies below the plan
        for other in brute["reaching"]:
            if other != changes and all(
                n in changes and space.inputs[n].relative(v) <= space.inputs[n].relative(changes[n])
                for n, v in other.items()
            ):
                raise AssertionError(f"{other} reaches and lies below {changes}")
        if len(MONEY & set(changes)) <= 1:
            assert plan.relative == brute["best"][frozenset(changes)]


def test_at_caps_and_beyond_limits() -> None:
    raw, previous = _firm(random.Random(1))
    capped = {**raw, "invention_patents": 3, "utility_models": 4, "rd_staff": 12,
              "rd_expense": Decimal(10**8), "revenue": Decimal(10**9)}  # fmt: skip
    space = Space(MODEL, RULES, "growth", capped, Decimal(10**8))
    assert search(space, 1, 3, space.reference_total({})).reason == "at-caps"
    space = Space(MODEL, RULES, "growth", raw, previous)
    found = search(space, 10**7, 3, space.reference_total({}))
    assert (found.reason, found.plans) == ("beyond-limits", [])


def test_a_hire_counts_in_the_total_staff_too() -> None:
    raw, previous = _firm(random.Random(2))
    raw = {**raw, "rd_staff": 2, "total_staff": 12}
    space = Space(MODEL, RULES, "growth", raw, previous)
    # (2 + k) / (12 + k) ≥ 0.2 from k = 1 (3/13 = 0.23), not k = 0.4 of a fixed 12 staff
    hired = pointsmodel.derive({"rd_staff": Decimal(3), "total_staff": Decimal(13)}, None)[0]
    assert space.derived({"rd_staff": 3})["rd_staff_ratio"] == hired["rd_staff_ratio"]
    assert space.closing("rd_staff", {}, space.gain({"rd_staff": 3})) == 3
