"""The diagnosis's rules: data (`rules/diagnosis.json`), each a test of the firm's facts and
the service or policy item it puts on the 诊断书, which names the rule that made it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.scoring.breakdown import MONEY_INDICATORS
from services.scoring.schemas import Recommendation
from shared.money import format_money, round_cents

RULES_FILE = Path(__file__).resolve().parent / "rules" / "diagnosis.json"

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
    detail_zh: str
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
                detail_zh=_render(rule.detail_zh, facts),
                amount=amount,
            )
        )
    return out["services"], out["policies"]
