"""The search for paths to a target: the cheapest sets of input changes that raise a firm's
exact total by at least `need` units (0.0001 points). Pure: no database.

Cost: fewest changes, then the least sum of relative changes ((new − old) / max(old, floor)),
then the larger gain. For each set of at most `max_changes` inputs, every input but one moves
over its candidates (`Space.candidates`: where an item reaches its next level, and the
limit) and the last is closed exactly (`Space.closing`: the least grid value that reaches).
Each plan is then tightened (each input lowered to its least value that still reaches, until
none moves), so no smaller vector of the grid reaches the target, and checked against
`pointsmodel.compute`. Up to 3 plans, each a distinct set of inputs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from itertools import combinations

from services.scoring.compiled_lines import Value
from services.scoring.paths_schemas import UnreachableReason
from services.scoring.paths_space import Space

PLANS = 3
UNITS = 10_000
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Found:
    """A plan: the inputs' new values, the exact gain (units) and the cost."""

    changes: Mapping[str, Value]
    gain: int
    relative: Decimal

    @property
    def cost(self) -> tuple[int, Decimal, int, tuple[str, ...]]:
        """The order of plans: fewest changes, least relative change, larger gain."""
        return (len(self.changes), self.relative, -self.gain, tuple(sorted(self.changes)))


@dataclass(frozen=True, slots=True)
class Search:
    """The plans found (cheapest first), or why there are none."""

    plans: list[Found]
    reason: UnreachableReason | None = None
    detail: str | None = None


def _relative(space: Space, changes: Mapping[str, Value]) -> Decimal:
    return sum((space.inputs[n].relative(v) for n, v in changes.items()), Decimal(0))


@dataclass(slots=True)
class _Walk:
    """One closing input's walk over the other inputs' candidates (`_best_of`)."""

    space: Space
    closing: str
    others: list[str]
    lists: list[list[Value]]
    need: int
    bound: int | None  # the closing input's most gain, when its gain adds to the others'
    best: Found | None
    ceiling: Decimal | None

    def run(self, at: int, fixed: dict[str, Value], spent: Decimal) -> None:
        """Every candidate of input `at` and after, the cheapest first, stopping at the cost
        of the best plan so far."""
        space = self.space
        if at == len(self.others):
            value = space.closing(self.closing, fixed, self.need)
            if value is not None:
                changes = {**fixed, self.closing: value}
                cost = spent + space.inputs[self.closing].relative(value)
                found = Found(changes, space.gain(changes), cost)
                if self.best is None or found.cost < self.best.cost:
                    self.best = found
            return
        name = self.others[at]
        limits = {n: space.inputs[n].limit for n in self.others[at + 1 :]}
        for value in self.lists[at]:
            cost = spent + space.inputs[name].relative(value)
            ceiling = self.best.relative if self.best is not None else self.ceiling
            if ceiling is not None and cost >= ceiling:
                break
            moved = {**fixed, name: value}
            if self.bound is not None and space.gain({**moved, **limits}) + self.bound < self.need:
                continue
            self.run(at + 1, moved, cost)


def _best_of(
    space: Space,
    names: tuple[str, ...],
    need: int,
    alone: Mapping[str, int],
    ceiling: Decimal | None,
) -> Found | None:
    """The cheapest plan moving exactly the inputs `names`, if it costs less than `ceiling`
    (`alone`: each input's most gain on its own, a bound where its rules share no other input
    of `names`). Each input closes in turn while the others walk their candidates."""
    best: Found | None = None
    for closing in names:
        others = [n for n in names if n != closing]
        partners = {n: (space.inputs[n].old, space.inputs[n].limit) for n in others}
        adds = not space.coupled(closing, others) and "revenue" not in others
        walk = _Walk(
            space,
            closing,
            others,
            [space.candidates(n, partners) for n in others],
            need,
            alone[closing] if adds else None,
            best,
            ceiling,
        )
        walk.run(0, {}, Decimal(0))
        best = walk.best
    return best


def tighten(space: Space, plan: Found, need: int) -> Found | None:
    """Lower each input of `plan` to its least value that still reaches, until none moves;
    None when an input is not needed at all (a smaller set reaches)."""
    changes = dict(plan.changes)
    moved = True
    while moved:
        moved = False
        for name in sorted(changes):
            others = {n: v for n, v in changes.items() if n != name}
            if others and space.gain(others) >= need:
                return None
            least = space.closing(name, others, need)
            if (
                least is not None
                and least != changes[name]
                and Decimal(least) < Decimal(changes[name] or 0)
            ):
                changes[name] = least
                moved = True
    return Found(changes, space.gain(changes), _relative(space, changes))


def search(space: Space, need: int, max_changes: int, total: Decimal) -> Search:
    """Up to 3 cheapest plans raising the total by `need` units (each a distinct set of
    inputs), or the reason none does: every input at its cap (`at-caps`), or the limits
    (`max_changes`, the grid's top) too tight (`beyond-limits`)."""
    names = sorted(space.inputs)
    alone = {n: max(space.gain({n: c}) for c in space.candidates(n, {})) for n in names}
    if not any(g > 0 for g in alone.values()):
        return Search(
            [], "at-caps", "every actionable indicator is at its cap (or gives no more points)"
        )
    plans: list[Found] = []
    for k in range(1, min(max_changes, len(names)) + 1):
        level: list[Found] = []
        for subset in combinations(names, k):
            if not space.coupled_set(subset) and sum(alone[n] for n in subset) < need:
                continue
            ceiling = level[PLANS - 1].relative if len(level) >= PLANS else None
            best = _best_of(space, subset, need, alone, ceiling)
            if best is None:
                continue
            tight = tighten(space, best, need)
            if tight is None:
                continue
            reference = space.reference_total(tight.changes)
            if reference < total + Decimal(need).scaleb(-4):
                log.error("paths: a plan fails the reference: %s", dict(tight.changes))
                continue
            level = sorted([*level, tight], key=lambda p: p.cost)
        plans.extend(level)
        if len(plans) >= PLANS:
            break
    if plans:
        return Search(sorted(plans, key=lambda p: p.cost)[:PLANS])
    top = sorted(alone.values(), reverse=True)[:max_changes]
    return Search(
        [],
        "beyond-limits",
        f"no {max_changes} changes within the limits (each input at most "
        f"+{space_limit_text(space)}) reach it: {Decimal(need).scaleb(-4)} more points are "
        f"needed, the inputs alone give at most {Decimal(sum(top)).scaleb(-4)}",
    )


def space_limit_text(space: Space) -> str:
    """The relative limit in words, e.g. 200 %."""
    return f"{space.max_relative * 100:.0f} %"
