"""The columns of the scoring service's CSV and XLSX files: the JSON field each shows, its
Chinese header and the kind of its cells (`shared.tabular`)."""

from __future__ import annotations

from shared.tabular import Column

RANKING_COLUMNS = (
    Column("period", "积分年度", "integer"),
    Column("model_version", "积分模型版本"),
    Column("rank", "排名", "integer"),
    Column("uscc", "统一社会信用代码"),
    Column("name", "企业名称"),
    Column("district", "区县"),
    Column("industry", "产业"),
    Column("stage", "成长阶段"),
    Column("categories", "企业类别", "list"),
    Column("points", "积分", "integer"),
    Column("total_exact", "精确总分", "decimal"),
    Column("percentile", "百分位", "number"),
    Column("overall_rank", "全市排名", "integer"),
    # Added by issue 15, last: a file read by position keeps its first columns.
    Column("previous_rank", "上期全市排名", "integer"),
    Column("previous_points", "上期积分", "integer"),
)
"""A ranking entry of `GET /v1/scoring/rankings`, with the period and model of the page."""

DISTRIBUTION_COLUMNS = (
    Column("period", "积分年度", "integer"),
    Column("model_version", "积分模型版本"),
    Column("district", "区县"),
    Column("industry", "产业"),
    Column("category", "企业类别"),
    Column("from", "积分下限（含）", "number"),
    Column("to", "积分上限", "number"),
    Column("count", "企业数", "integer"),
)
"""A bin of `GET /v1/scoring/distribution` (`from` ≤ points < `to`, the last bin with its
`to`), with the period, model and filters of the histogram."""
