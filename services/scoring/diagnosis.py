"""The 诊断书: percentiles among peers, strengths and weaknesses, and rule-made service and
policy lists (rules are data: `rules/diagnosis.json`, each item names the rule that made it)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.scoring import pointsmodel
from services.scoring.breakdown import MONEY_INDICATORS
from services.scoring.model_versions import get_model
from services.scoring.models import Enterprise, EnterpriseVersion, IndicatorRow, Points, Ranking
from services.scoring.pointsmodel import ModelDefinition
from services.scoring.ranking import enterprises_at, points_of, versions_of
from services.scoring.registry import enterprise_at, get_enterprise
from services.scoring.schemas import Diagnosis, IndicatorPercentile, Recommendation
from shared import vocab
from shared.money import format_money, round_cents
from shared.vocab import STAGE_LABELS

RULES_FILE = Path(__file__).resolve().parent / "rules" / "diagnosis.json"
MIN_INDUSTRY_PEERS = 30
STRENGTH, WEAKNESS = 75.0, 25.0

Op = Literal[
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "!=",
    "in",
    "not_in",
    "contains",
    "not_contains",
    "is_null",
    "not_null",
]


class Test(BaseModel):
    """One comparison of a fact with a value."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    fact: str
    op: Op
    value: Any = None


class When(BaseModel):
    """All (or any) of the tests hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    all: list[Test] = Field(default_factory=list)
    any: list[Test] = Field(default_factory=list)


class Amount(BaseModel):
    """A money amount: a fact times a factor, rounded half-up to cents."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    fact: str
    times: Decimal


class Rule(BaseModel):
    """A declarative diagnosis rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Annotated[str, Field(pattern=r"^(policy|service)\.[a-z0-9-]+$")]
    list: Literal["policies", "services"]
    when: When
    title: str
    detail: str
    amount: Amount | None = None


class RuleSet(BaseModel):
    """The rules file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str
    rules: list[Rule]


@lru_cache
def rules() -> RuleSet:
    """The diagnosis rules, validated once."""
    return RuleSet.model_validate(json.loads(RULES_FILE.read_text(encoding="utf-8")))


def _holds(test: Test, facts: Mapping[str, Any]) -> bool:
    value = facts.get(test.fact)
    if test.op == "is_null":
        return value is None
    if test.op == "not_null":
        return value is not None
    if value is None:
        return False
    if test.op in ("contains", "not_contains"):
        inside = test.value in value
        return inside if test.op == "contains" else not inside
    if test.op in ("in", "not_in"):
        inside = value in test.value
        return inside if test.op == "in" else not inside
    if isinstance(value, str) or isinstance(test.value, str):
        if test.op == "==":
            return bool(value == test.value)
        return test.op == "!=" and bool(value != test.value)
    left, right = Decimal(str(value)), Decimal(str(test.value))
    return {
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
        "==": left == right,
        "!=": left != right,
    }[test.op]


def applies(rule: Rule, facts: Mapping[str, Any]) -> bool:
    """Whether `rule` fires for `facts`."""
    all_ok = all(_holds(t, facts) for t in rule.when.all)
    any_ok = not rule.when.any or any(_holds(t, facts) for t in rule.when.any)
    return all_ok and any_ok


_PLACEHOLDER = re.compile(r"\{([a-z_.]+)\}")


def _render(template: str, facts: Mapping[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        fact = facts.get(match.group(1))
        if isinstance(fact, Decimal):
            return (
                format(fact.normalize(), "f")
                if fact == fact.to_integral_value()
                else (format_money(fact) if match.group(1) in MONEY_INDICATORS else f"{fact:.4f}")
            )
        return str(fact)

    return _PLACEHOLDER.sub(value, template)


def recommend(facts: Mapping[str, Any]) -> tuple[list[Recommendation], list[Recommendation]]:
    """The services and policies the rules give for `facts`."""
    out: dict[str, list[Recommendation]] = {"services": [], "policies": []}
    for rule in rules().rules:
        if not applies(rule, facts):
            continue
        amount = None
        if rule.amount is not None:
            base = Decimal(str(facts.get(rule.amount.fact) or 0))
            amount = format_money(round_cents(base * rule.amount.times))
        out[rule.list].append(
            Recommendation(
                rule_id=rule.id,
                title=_render(rule.title, facts),
                detail=_render(rule.detail, facts),
                amount=amount,
            )
        )
    return out["services"], out["policies"]


def diagnosis_facts(
    session: Session, enterprise: Enterprise | EnterpriseVersion, points: Points, ranking: Ranking
) -> dict[str, Any]:
    """Everything a diagnosis rule may test about an enterprise in a period: its indicators
    (raw and derived), its standing in the ranking and its attributes."""
    current = session.get(IndicatorRow, (enterprise.uscc, ranking.period))
    previous = session.get(IndicatorRow, (enterprise.uscc, ranking.period - 1))
    raw: dict[str, Decimal | None] = {
        name: (None if current is None else Decimal(getattr(current, name)))
        for name in vocab.RAW_INDICATORS
    }
    values, _ = pointsmodel.derive(raw, None if previous is None else previous.revenue)
    return {
        **values,
        "uscc": enterprise.uscc,
        "points": points.points,
        "rank": points.rank,
        "rank_total": points.rank_total,
        "period": ranking.period,
        "next_year": ranking.period + 1,
        "stage": enterprise.stage,
        "stage_label": STAGE_LABELS[enterprise.stage],
        "industry": enterprise.industry_code,
        "district": enterprise.district,
        "categories": list(enterprise.categories),
    }


_PEER_SQL = """
    WITH me AS (
        SELECT elem->>'indicator' AS indicator, (elem->>'value')::numeric AS v
        FROM sc_points, jsonb_array_elements(breakdown) AS elem
        WHERE run_id = :run AND uscc = :uscc AND elem->>'value' IS NOT NULL
    )
    SELECT me.indicator,
           count(*) FILTER (WHERE (b.elem->>'value')::numeric < me.v) AS below,
           count(*) FILTER (WHERE (b.elem->>'value')::numeric = me.v) AS equal,
           count(*) FILTER (WHERE b.elem->>'value' IS NOT NULL) AS n
    FROM sc_points p
    {enterprises}
    CROSS JOIN LATERAL jsonb_array_elements(p.breakdown) AS b(elem)
    JOIN me ON me.indicator = b.elem->>'indicator'
    WHERE p.run_id = :run AND e.stage = :stage {industry}
    GROUP BY me.indicator
"""
_PEERS_SQL = """
    SELECT count(*) FROM sc_points p {enterprises}
    WHERE p.run_id = :run AND e.stage = :stage {industry}
"""


def diagnose(
    session: Session, uscc: str, period: int | None, at: datetime | None = None
) -> Diagnosis:
    """Build the 诊断书 of an enterprise for a period's ranking, now or as it was at `at` (the
    ranking run, and the enterprise's and its peers' attributes, then; the indicators the
    rules test are those loaded now)."""
    enterprise: Enterprise | EnterpriseVersion = get_enterprise(session, uscc)[0]
    points, ranking = points_of(session, uscc, period, at)
    if at is not None:
        enterprise = enterprise_at(session, uscc, at) or enterprise
    model = ModelDefinition.model_validate(get_model(session, ranking.model_version).definition)
    labels = {r.indicator: r.label for r in model.indicators}
    params: dict[str, Any] = {
        "run": ranking.run_id,
        "uscc": uscc,
        "stage": enterprise.stage,
        "industry": enterprise.industry_code,
    }
    if at is not None:
        params["at"] = at
    joined = enterprises_at(at)
    # Only fixed fragments are formatted in; every value is a bound parameter.
    by_industry_sql = "AND e.industry_code = :industry"
    industry_peers = session.execute(
        text(_PEERS_SQL.format(enterprises=joined, industry=by_industry_sql)), params
    ).scalar_one()
    by_industry = industry_peers >= MIN_INDUSTRY_PEERS
    industry = by_industry_sql if by_industry else ""
    standing = {
        row.indicator: round(100.0 * (row.below + 0.5 * row.equal) / row.n, 2)
        for row in session.execute(
            text(_PEER_SQL.format(enterprises=joined, industry=industry)), params
        )
    }
    peers = (
        industry_peers
        if by_industry
        else session.execute(
            text(_PEERS_SQL.format(enterprises=joined, industry="")), params
        ).scalar_one()
    )

    indicators: list[IndicatorPercentile] = []
    for item in points.breakdown:
        name = item["indicator"]
        if name.startswith("bonus:"):
            continue
        indicators.append(
            IndicatorPercentile(
                indicator=name,
                label=labels.get(name, name),
                value=item["value"],
                points=item["points"],
                percentile=standing.get(name, 0.0),
            )
        )
    ranked = [i for i in indicators if i.value is not None]
    strengths = [
        i.indicator for i in sorted(ranked, key=lambda i: -i.percentile) if i.percentile >= STRENGTH
    ]
    weaknesses = [
        i.indicator for i in sorted(ranked, key=lambda i: i.percentile) if i.percentile <= WEAKNESS
    ]

    facts = diagnosis_facts(session, enterprise, points, ranking)
    facts.update({f"pct.{k}": v for k, v in standing.items()})
    services, policies = recommend(facts)
    return Diagnosis(
        uscc=uscc,
        name=enterprise.name,
        period=ranking.period,
        model_version=ranking.model_version,
        points=points.points,
        rank=points.rank,
        rank_total=points.rank_total,
        peer_group={
            "stage": enterprise.stage,
            "stage_label": STAGE_LABELS[enterprise.stage],
            "industry": enterprise.industry_code if by_industry else None,
            "size": peers,
            "rule": "same stage, and same industry when that group "
            f"has at least {MIN_INDUSTRY_PEERS} enterprises",
        },
        indicators=indicators,
        strengths=strengths,
        weaknesses=weaknesses,
        services=services,
        policies=policies,
        versions=versions_of(ranking),
    )
