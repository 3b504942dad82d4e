"""The credit-model feature table: its versioned data dictionary and how a row is built."""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.guarantee.waiver import TOP as WAIVER_TOP
from shared.vocab import CATEGORIES, CATEGORY_LABELS, INDICATORS

FEATURE_SCHEMA_VERSION = "1.0"


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


def _sql_expressions() -> dict[str, str]:
    """Each feature as a SQL expression over the page row `u` (uscc, live) and the
    enterprise's export facts `f` (a row of `scoring.queries.EXPORT_FACTS_VIEW`)."""
    exprs = {
        "uscc": "u.uscc",
        "feature_schema_version": f"'{FEATURE_SCHEMA_VERSION}'::text",
        "period": "f.period",
        "model_version": "f.model_version",
        "points": "f.points",
        "rank": "f.rank",
        "rank_total": "f.rank_total",
        "percentile": "f.percentile",
        **{f"points_{name}": f"f.indicator_points->>'{name}'" for name in INDICATORS},
        **{f"is_{c}": f"('{c}' = ANY(f.categories))" for c in CATEGORIES},
        "growth_stage": "f.stage",
        "district": "f.district",
        "industry": "f.industry_code",
        "txb_waiver_year": "f.period + 1",
        "txb_waived": f"(f.rank <= {WAIVER_TOP})",
        "deleted": "(NOT u.live)",
    }
    # Names and values are this module's constants, never request data.
    if not all(_IDENTIFIER.fullmatch(n) for n in (*exprs, *INDICATORS, *CATEGORIES)):
        raise RuntimeError("feature, indicator and category names must be plain identifiers")
    if tuple(exprs) != FEATURE_NAMES:
        raise RuntimeError("every feature needs exactly one SQL expression, in schema order")
    return exprs


_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
# What a tombstone carries; every other feature is absent (NDJSON) or empty (CSV).
TOMBSTONE_FEATURES = ("uscc", "feature_schema_version", "deleted")


def _json_sql(exprs: dict[str, str]) -> str:
    columns = ", ".join(f"{sql} AS {name}" for name, sql in exprs.items())
    return f"(SELECT row_to_json(r) FROM (SELECT {columns}) AS r)::text"  # noqa: S608 (constants)


def _csv_cell_sql(feature: Feature, sql: str) -> str:
    cell = (
        f"CASE WHEN {sql} THEN 'true' WHEN NOT {sql} THEN 'false' END"
        if feature.type == "boolean"
        else f"({sql})::text"
    )
    return cell if feature.name in TOMBSTONE_FEATURES else f"CASE WHEN u.live THEN {cell} END"


_EXPRS = _sql_expressions()
# A feature row, or a tombstone `{uscc, deleted: true, feature_schema_version}`, as one JSON
# text that PostgreSQL writes (keys in data-dictionary order, UTF-8 unescaped).
NDJSON_LINE_SQL = (
    f"CASE WHEN u.live THEN {_json_sql(_EXPRS)} "
    f"ELSE {_json_sql({n: _EXPRS[n] for n in ('uscc', 'deleted', 'feature_schema_version')})} END"
)
# The same row as CSV cells in data-dictionary order (text; booleans `true`/`false`; NULL is
# an empty cell).
CSV_CELLS_SQL = ", ".join(
    _csv_cell_sql(f, sql) for f, sql in zip(FEATURES, _EXPRS.values(), strict=True)
)
