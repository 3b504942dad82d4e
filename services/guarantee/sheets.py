"""The columns of the guarantee service's CSV and XLSX files: the JSON field each shows, its
Chinese header and the kind of its cells (`shared.tabular`)."""

from __future__ import annotations

from services.guarantee.features import FEATURES, Feature
from shared.tabular import Column, Kind
from shared.vocab import CATEGORY_LABELS, INDICATOR_LABELS

WAIVER_COLUMNS = (
    Column("rank", "排名", "integer"),
    Column("uscc", "统一社会信用代码"),
    Column("points", "积分", "integer"),
    Column("ranking_period", "排名年度", "integer"),
    Column("model_version", "积分模型版本"),
)
"""An enterprise of `GET /v1/guarantee/waivers/{year}`."""

_FEATURE_KINDS: dict[str, Kind] = {
    "string": "text",
    "integer": "integer",
    "number": "number",
    "decimal-string": "decimal",
    "boolean": "boolean",
}
_FEATURE_LABELS = {
    "uscc": "统一社会信用代码",
    "feature_schema_version": "特征表版本",
    "period": "积分年度",
    "model_version": "积分模型版本",
    "points": "积分",
    "rank": "排名",
    "rank_total": "参与排名企业数",
    "percentile": "百分位",
    **{f"points_{name}": f"{label}得分" for name, label in INDICATOR_LABELS.items()},
    **{f"is_{code}": f"是否{label}" for code, label in CATEGORY_LABELS.items()},
    "growth_stage": "成长阶段",
    "district": "区县",
    "industry": "产业",
    "txb_waiver_year": "泰信保减免年度",
    "txb_waived": "泰信保费用减免",
    "deleted": "已删除（同意撤回或到期）",
}


def _feature_column(feature: Feature) -> Column:
    return Column(feature.name, _FEATURE_LABELS[feature.name], _FEATURE_KINDS[feature.type])


FEATURE_COLUMNS = tuple(_feature_column(f) for f in FEATURES)
"""A row of the feature export, in data-dictionary order (a new feature needs its label)."""
