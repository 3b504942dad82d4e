"""Paths to a target for one firm, from the database: its ranked points, its indicators as
loaded now (refused when they no longer give those points), the target as a threshold on the
exact total, then the search (`paths.search`) and each plan's outcome (points, rank, what it
unlocks)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.scoring import facts
from services.scoring.compiled_model import CompiledModel
from services.scoring.errors import IndicatorsChanged, TargetProductNotFound
from services.scoring.models import Points, Ranking
from services.scoring.paths import Found, search
from services.scoring.paths_schemas import (
    Baseline,
    Change,
    Cost,
    DiagnosisPaths,
    ItemChange,
    PathsOut,
    Plan,
    ProductRef,
    Target,
    TierUnlock,
    Unlocks,
    Unreachable,
)
from services.scoring.paths_space import Space, path_rules
from services.scoring.pointsmodel import ModelDefinition
from services.scoring.ranking import versions_of
from shared.eligibility import ProductLadder
from shared.money import format_money
from shared.vocab import INDICATOR_LABELS, RAW_INDICATORS, WAIVER_TOP

COST_RULE = (
    "fewest changes, then the least sum of relative changes ((new − old) / max(old, floor)); "
    "each plan is a distinct set of inputs and no smaller change of it reaches the target"
)
STALE = (
    "the indicators were loaded after the ranking was computed: paths start from the ranked "
    "points, so recompute the period first"
)

_FIRM_SQL = text(
    """
    SELECT i.uscc, NULL, NULL, NULL,
           i.invention_patents, i.utility_models, i.software_copyrights, i.rd_expense,
           i.revenue, i.rd_staff, i.total_staff, i.equity_financing, i.awards_provincial,
           i.awards_national, i.jbgs_funds_paid, prev.revenue AS previous_revenue
    FROM sc_indicator i
    LEFT JOIN sc_indicator prev ON prev.uscc = i.uscc AND prev.period = i.period - 1
    WHERE i.uscc = :uscc AND i.period = :period
    """
)
_NTH_OTHER_SQL = text(
    """
    SELECT total_exact, uscc FROM sc_points WHERE run_id = :run AND uscc <> :uscc
    ORDER BY rank OFFSET :n LIMIT 1
    """
)
_AHEAD_SQL = text(
    """
    SELECT count(*) FROM sc_points
    WHERE run_id = :run AND uscc <> :uscc
      AND ((points, total_exact) > (:points, :total)
           OR ((points, total_exact) = (:points, :total) AND uscc < :uscc))
    """
)


@dataclass(frozen=True, slots=True)
class RunOrder:
    """A run's firms in the ranking's order, held in memory (the batch of every 诊断书): the
    answers of `_NTH_OTHER_SQL` and `_AHEAD_SQL` without a statement. `keys` are
    `(-points, -total, uscc)`, ascending."""

    keys: list[tuple[int, Decimal, str]]
    index: dict[str, int]

    @classmethod
    def of(cls, firms: Sequence[tuple[int, Decimal, str]]) -> RunOrder:
        """The order of `(points, total, uscc)` triples."""
        keys = sorted((-p, -t, u) for p, t, u in firms)
        return cls(keys, {k[2]: i for i, k in enumerate(keys)})

    def threshold(self, uscc: str, n: int) -> Decimal | None:
        """`rank_threshold`'s answer: from the `n`-th firm other than `uscc`."""
        at = n - 1 if self.index[uscc] > n - 1 else n
        if at >= len(self.keys):
            return None
        _, total, other = self.keys[at]
        return -total if uscc < other else -total + Decimal(1).scaleb(-4)

    def rank(self, uscc: str, total: Decimal) -> int:
        """`rank_of`'s answer: one plus the other firms ahead of `uscc` with `total`."""
        key = (-_points_of(total), -total, uscc)
        ahead = bisect_left(self.keys, key)
        return ahead - (self.index[uscc] < ahead) + 1


@dataclass(frozen=True, slots=True)
class Firm:
    """A ranked firm ready for the search."""

    uscc: str
    points: Points
    ranking: Ranking
    model: ModelDefinition
    space: Space | None  # None: the indicators changed after the ranking
    order: RunOrder | None = None  # None: the other firms' ranks are asked of the database


def load_firm(
    session: Session,
    points: Points,
    ranking: Ranking,
    model: ModelDefinition,
    stage: str,
    industry: str,
    categories: Sequence[str],
) -> Firm:
    """The firm's search space from its indicators as loaded now, or no space when they no
    longer give its ranked total (the stale check)."""
    row = session.execute(_FIRM_SQL, {"uscc": points.uscc, "period": ranking.period}).first()
    return firm_of(row, points, ranking, model, stage, industry, categories)


def firm_of(
    row: Any,
    points: Points,
    ranking: Ranking,
    model: ModelDefinition,
    stage: str,
    industry: str,
    categories: Sequence[str],
    order: RunOrder | None = None,
) -> Firm:
    """`load_firm` on the firm's indicator row already read (`_FIRM_SQL`'s columns, or a
    tuple of them; None without one), the other firms' ranks in `order` if given."""
    space = None
    if row is not None:
        values, notes = facts.derived(row)
        scored = CompiledModel(model).score(stage, industry, categories, values, notes)
        if scored.total == points.total_exact:
            raw = dict(zip(RAW_INDICATORS, row[4:15], strict=True))
            space = Space(model, path_rules(), stage, raw, row[15], industry, frozenset(categories))
    return Firm(points.uscc, points, ranking, model, space, order)


def _points_of(total: Decimal) -> int:
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def rank_threshold(session: Session, firm: Firm, n: int) -> Decimal | None:
    """The least total that ranks the firm at `n` or better (None: any total does)."""
    if firm.order is not None:
        return firm.order.threshold(firm.uscc, n)
    row = session.execute(
        _NTH_OTHER_SQL, {"run": firm.ranking.run_id, "uscc": firm.uscc, "n": n - 1}
    ).first()
    if row is None:
        return None
    total, uscc = Decimal(row[0]), row[1]
    return total if firm.uscc < uscc else total + Decimal(1).scaleb(-4)


def rank_of(session: Session, firm: Firm, total: Decimal) -> int:
    """The firm's rank with `total`, the other firms as ranked."""
    if firm.order is not None:
        return firm.order.rank(firm.uscc, total)
    ahead = session.execute(
        _AHEAD_SQL,
        {
            "run": firm.ranking.run_id,
            "uscc": firm.uscc,
            "points": _points_of(total),
            "total": total,
        },
    ).scalar_one()
    return int(ahead) + 1


@dataclass(frozen=True, slots=True)
class Goal:
    """A target: its description, threshold (None: any total), and what it unlocks."""

    target: Target
    threshold: Decimal | None
    tier: TierUnlock | None = None
    waiver: bool = False
    unreachable: Unreachable | None = None


def _target(kind: Any, words: str, threshold: Decimal | None, **more: Any) -> Target:
    needed = threshold if threshold is not None else Decimal("0.0000")
    return Target(
        kind=kind,
        text=words,
        total_needed=f"{needed:.4f}",
        points_needed=_points_of(needed),
        rank=more.pop("rank", None),
        **more,
    )


def rank_goal(session: Session, firm: Firm, n: int, kind: str = "rank") -> Goal:
    """Rank `n` or better (top 100: the 泰信保 fee waived the next year)."""
    words = f"top {n} (rank ≤ {n})"
    threshold = rank_threshold(session, firm, n)
    return Goal(_target(kind, words, threshold, rank=n), threshold, waiver=n <= WAIVER_TOP)


def points_goal(points: int) -> Goal:
    """At least `points` points."""
    threshold = Decimal(points) - Decimal("0.5")
    return Goal(_target("points", f"{points} points", threshold), threshold)


def tier_goal(
    ladders: Sequence[ProductLadder], points: int, product: str | None = None
) -> Goal | None:
    """The next limit tier above `points`: of the product `product` (404 when the caller
    cannot see it), or over every product open to the firm (None when none is)."""
    if product is not None:
        ladder = next((x for x in ladders if x.product_code == product), None)
        if ladder is None:
            raise TargetProductNotFound(f"No product {product!r} visible to the caller")
        ref = ProductRef(code=ladder.product_code, bank_code=ladder.bank_code, name=ladder.name)
        if not ladder.open_to_firm:
            reason = "category-required" if ladder.why_not == "category" else "product-inactive"
            detail = (
                "the product requires a category the enterprise does not have (categories "
                "are recognised by the bureau)"
                if reason == "category-required"
                else "the product is not offered today"
            )
            target = _target("product", f"{ladder.name} ({product})", None, product=ref)
            return Goal(target, None, unreachable=Unreachable(reason=reason, detail=detail))
        open_ladders = [ladder]
    else:
        open_ladders = [x for x in ladders if x.open_to_firm]
        if not open_ladders:
            return None
    rungs = sorted({r.points for x in open_ladders for r in x.rungs if r.points > points})
    kind = "product" if product is not None else "next-tier"
    more = {"product": ref} if product is not None else {}
    if not rungs:
        target = _target(kind, "the next limit tier", None, **more)
        detail = "the enterprise already reaches the highest limit tier"
        return Goal(target, None, unreachable=Unreachable(reason="top-tier", detail=detail))
    rung = rungs[0]
    amount = max(
        (r.max_amount for x in open_ladders for r in x.rungs if r.points <= rung),
        default=Decimal(0),
    )
    threshold = Decimal(rung) - Decimal("0.5")
    words = f"limit tier of {rung} points (up to {format_money(amount)} yuan)"
    tier = TierUnlock(points=rung, max_amount=format_money(amount))
    return Goal(_target(kind, words, threshold, **more), threshold, tier=tier)


def _shown(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if name in ("rd_expense", "revenue", "equity_financing"):
        return format_money(Decimal(value))
    if isinstance(value, Decimal) and value != value.to_integral_value():
        return f"{value:.4f}"
    return str(int(value))


def _plan(session: Session, firm: Firm, space: Space, goal: Goal, found: Found) -> Plan:
    total = firm.points.total_exact + Decimal(found.gain).scaleb(-4)
    rank = rank_of(session, firm, total)
    labels: dict[str, str] = {r.indicator: r.label for r in firm.model.indicators}
    before = space.values
    after = space.derived(found.changes)
    items = []
    for name in space.touched(found.changes):
        was, now = space.units[name](before.get(name)), space.units[name](after.get(name))
        if was != now:
            items.append(
                ItemChange(
                    indicator=name,
                    label=labels[name],
                    value_from=_shown(name, before.get(name)),
                    value_to=_shown(name, after.get(name)),
                    points_from=f"{Decimal(was).scaleb(-4):.4f}",
                    points_to=f"{Decimal(now).scaleb(-4):.4f}",
                )
            )
    changes = [
        Change(
            input=name,
            label=dict(INDICATOR_LABELS).get(name, name),
            value_from=_shown(name, space.inputs[name].old) or "0",
            value_to=_shown(name, value) or "0",
            unit=space.inputs[name].unit,
            relative=f"{space.inputs[name].relative(value):.4f}",
        )
        for name, value in sorted(found.changes.items())
    ]
    return Plan(
        changes=changes,
        items=items,
        points=_points_of(total),
        total_exact=f"{total:.4f}",
        rank=rank,
        rank_total=firm.points.rank_total,
        gain=f"{Decimal(found.gain).scaleb(-4):.4f}",
        cost=Cost(changes=len(found.changes), relative=f"{found.relative:.4f}"),
        unlocks=Unlocks(
            tier=goal.tier,
            waiver_year=firm.ranking.period + 1 if goal.waiver and rank <= WAIVER_TOP else None,
        ),
    )


def paths_to(session: Session, firm: Firm, goal: Goal) -> PathsOut:
    """The answer for one target (`IndicatorsChanged` when the firm's data is stale)."""
    if firm.space is None:
        raise IndicatorsChanged(f"{firm.uscc}: {STALE}")
    rules = path_rules()
    total = firm.points.total_exact
    reached = goal.unreachable is None and (goal.threshold is None or total >= goal.threshold)
    unreachable, plans = goal.unreachable, []
    if unreachable is None and not reached and goal.threshold is not None:
        need = int((goal.threshold - total).scaleb(4))
        found = search(firm.space, need, rules.max_changes, total)
        if found.reason is not None:
            unreachable = Unreachable(reason=found.reason, detail=found.detail or "")
        plans = [_plan(session, firm, firm.space, goal, plan) for plan in found.plans]
    return PathsOut(
        uscc=firm.uscc,
        period=firm.ranking.period,
        model_version=firm.ranking.model_version,
        rules_version=rules.version,
        baseline=Baseline(
            points=firm.points.points,
            total_exact=f"{total:.4f}",
            rank=firm.points.rank,
            rank_total=firm.points.rank_total,
        ),
        target=goal.target,
        reached=reached,
        unreachable=unreachable,
        plans=plans,
        cost_rule=COST_RULE,
        versions=versions_of(firm.ranking),
    )


def diagnosis_paths(
    session: Session, firm: Firm, ladders: Sequence[ProductLadder]
) -> tuple[DiagnosisPaths | None, str | None]:
    """The diagnosis's paths (next tier over every bank's open products, and the top 100), or
    none and why (the indicators changed after the ranking)."""
    if firm.space is None:
        return None, STALE
    tier = tier_goal(ladders, firm.points.points)
    top = rank_goal(session, firm, WAIVER_TOP, kind="top-100")
    return (
        DiagnosisPaths(
            next_tier=None if tier is None else paths_to(session, firm, tier),
            top_100=paths_to(session, firm, top),
        ),
        None,
    )
