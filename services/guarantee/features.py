"""The credit-model feature table: its versioned data dictionary and how a row is built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.scoring.pointsmodel import INDICATORS
from services.scoring.queries import ExportFacts
from services.scoring.vocab import CATEGORIES, CATEGORY_LABELS

FEATURE_SCHEMA_VERSION = "1.0"
WAIVER_TOP = 100


@dataclass(frozen=True, slots=True)
class Feature:
    """One column of the feature table."""

    name: str
    type: str
    unit: str | None
    definition: str
    since_version: str = "1.0"


FEATURES: tuple[Feature, ...] = (
    Feature("uscc", "string", None, "统一社会信用代码 of the enterprise (GB 32100-2015)."),
    Feature("feature_schema_version", "string", None, "Version of this data dictionary."),
    Feature("period", "integer", "year", "The ranking period (indicator year) of the points."),
    Feature("model_version", "string", None, "Points model version that computed the points."),
    Feature("points", "integer", "points", "Innovation points (科技创新积分), rounded half-up."),
    Feature(
        "rank",
        "integer",
        "rank",
        "Rank in the period's ranking; ties broken by points, exact total, then USCC (1 = best).",
    ),
    Feature("rank_total", "integer", "enterprises", "Enterprises ranked in the period."),
    Feature(
        "percentile",
        "number",
        "percent",
        "Share of ranked enterprises with fewer points (0-100, 2 decimals; ties share it).",
    ),
    *(
        Feature(
            f"points_{name}",
            "decimal-string",
            "points",
            f"Points the model gave indicator `{name}` (4 decimals; null when the model "
            "has no such indicator).",
        )
        for name in INDICATORS
    ),
    *(
        Feature(f"is_{c}", "boolean", None, f"Enterprise is a {CATEGORY_LABELS[c]} ({c}).")
        for c in CATEGORIES
    ),
    Feature("growth_stage", "string", None, "seed | startup | growth | mature."),
    Feature("district", "string", None, "District of Taizhou."),
    Feature("industry", "string", None, "Industry code of the city's 1+4 system."),
    Feature(
        "txb_waiver_year", "integer", "year", "The year the 泰信保 waiver flag is for (period + 1)."
    ),
    Feature(
        "txb_waived",
        "boolean",
        None,
        "泰信保 guarantee fee waived in txb_waiver_year (rank ≤ 100 in the period's ranking).",
    ),
    Feature(
        "deleted",
        "boolean",
        None,
        "Tombstone: true when the firm may no longer hold this "
        "enterprise's row (consent revoked or expired); other fields are then absent.",
    ),
)
FEATURE_NAMES = tuple(f.name for f in FEATURES)


def feature_row(facts: ExportFacts) -> dict[str, Any]:
    """One enterprise's feature row."""
    p, e = facts.points, facts.enterprise
    rank_total = p.rank_total or 1
    row: dict[str, Any] = {
        "uscc": p.uscc,
        "feature_schema_version": FEATURE_SCHEMA_VERSION,
        "period": p.period,
        "model_version": p.model_version,
        "points": p.points,
        "rank": p.rank,
        "rank_total": p.rank_total,
        "percentile": round(100 * facts.below / rank_total, 2),
    }
    for name in INDICATORS:
        row[f"points_{name}"] = facts.indicator_points.get(name)
    for category in CATEGORIES:
        row[f"is_{category}"] = category in e.categories
    row.update(
        {
            "growth_stage": e.stage,
            "district": e.district,
            "industry": e.industry,
            "txb_waiver_year": p.period + 1,
            "txb_waived": p.rank <= WAIVER_TOP,
            "deleted": False,
        }
    )
    return row
