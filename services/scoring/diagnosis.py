"""The 诊断书 assembled: percentiles among peers, strengths and weaknesses, the rule-made
service and policy lists (`diagnosis_rules`), the firm's ranks and the paths to its next
targets.

`assemble` is pure: the API (`diagnosis_read.diagnose`, one firm) and the batch (a whole
period read at once) give it the same `DiagnosisInputs`, so both build the same document."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.scoring.diagnosis_rules import recommend
from services.scoring.paths_schemas import DiagnosisPaths
from services.scoring.pointsmodel import ModelDefinition
from services.scoring.schemas import (
    BreakdownItem,
    DiagnosedEnterprise,
    Diagnosis,
    DiagnosisRanks,
    IndicatorPercentile,
    RankIn,
)
from shared.as_of import Versions
from shared.vocab import STAGE_LABELS

MIN_INDUSTRY_PEERS = 30
STRENGTH, WEAKNESS = 75.0, 25.0


@dataclass(frozen=True, slots=True)
class DiagnosisInputs:
    """Everything a diagnosis is made of, read from the database (or a period's book).

    `percentiles` are per indicator among the peers (`by_industry`: same stage and industry,
    else same stage; `peers` firms); `values` are the indicators (raw and derived) loaded now,
    which the rules test; `district_rank`/`industry_rank` are (rank, of) in the filtered
    ranking's order."""

    uscc: str
    name: str
    district: str
    industry: str
    industry_name: str
    stage: str
    categories: Sequence[str]
    period: int
    versions: Versions
    model: ModelDefinition
    points: int
    total_exact: Decimal
    rank: int
    rank_total: int
    breakdown: Sequence[Mapping[str, Any]]
    percentiles: Mapping[str, float]
    by_industry: bool
    peers: int
    district_rank: tuple[int, int]
    industry_rank: tuple[int, int]
    values: Mapping[str, Decimal | None]
    paths: DiagnosisPaths | None
    paths_note: str | None


def rule_facts(inputs: DiagnosisInputs) -> dict[str, Any]:
    """Everything a diagnosis rule may test about an enterprise in a period: its indicators
    (raw and derived), its percentiles (`pct.<indicator>`), its standing in the ranking and
    its attributes."""
    return {
        **inputs.values,
        "uscc": inputs.uscc,
        "points": inputs.points,
        "rank": inputs.rank,
        "rank_total": inputs.rank_total,
        "period": inputs.period,
        "next_year": inputs.period + 1,
        "stage": inputs.stage,
        "stage_label": STAGE_LABELS[inputs.stage],
        "industry": inputs.industry,
        "district": inputs.district,
        "categories": list(inputs.categories),
        **{f"pct.{k}": v for k, v in inputs.percentiles.items()},
    }


def assemble(inputs: DiagnosisInputs) -> Diagnosis:
    """The 诊断书 of `inputs` (pure: no database)."""
    labels = {r.indicator: r.label for r in inputs.model.indicators}
    indicators: list[IndicatorPercentile] = []
    for item in inputs.breakdown:
        name = item["indicator"]
        if name.startswith("bonus:"):
            continue
        indicators.append(
            IndicatorPercentile(
                indicator=name,
                label=labels.get(name, name),
                value=item["value"],
                points=item["points"],
                percentile=inputs.percentiles.get(name, 0.0),
            )
        )
    ranked = [i for i in indicators if i.value is not None]
    strengths = [
        i.indicator for i in sorted(ranked, key=lambda i: -i.percentile) if i.percentile >= STRENGTH
    ]
    weaknesses = [
        i.indicator for i in sorted(ranked, key=lambda i: i.percentile) if i.percentile <= WEAKNESS
    ]
    services, policies = recommend(rule_facts(inputs))
    stage_label = STAGE_LABELS[inputs.stage]
    return Diagnosis(
        uscc=inputs.uscc,
        name=inputs.name,
        period=inputs.period,
        model_version=inputs.model.version,
        points=inputs.points,
        total_exact=f"{inputs.total_exact}",
        rank=inputs.rank,
        rank_total=inputs.rank_total,
        enterprise=DiagnosedEnterprise(
            district=inputs.district,
            industry=inputs.industry,
            industry_name=inputs.industry_name,
            stage=inputs.stage,
            stage_label=stage_label,
            categories=list(inputs.categories),
        ),
        ranks=DiagnosisRanks(
            district=RankIn(
                name=inputs.district, rank=inputs.district_rank[0], of=inputs.district_rank[1]
            ),
            industry=RankIn(
                code=inputs.industry,
                name=inputs.industry_name,
                rank=inputs.industry_rank[0],
                of=inputs.industry_rank[1],
            ),
        ),
        breakdown=[BreakdownItem.model_validate(item) for item in inputs.breakdown],
        peer_group={
            "stage": inputs.stage,
            "stage_label": stage_label,
            "industry": inputs.industry if inputs.by_industry else None,
            "size": inputs.peers,
            "rule": "same stage, and same industry when that group "
            f"has at least {MIN_INDUSTRY_PEERS} enterprises",
        },
        indicators=indicators,
        strengths=strengths,
        weaknesses=weaknesses,
        services=services,
        policies=policies,
        paths=inputs.paths,
        paths_note=inputs.paths_note,
        versions=inputs.versions,
    )
