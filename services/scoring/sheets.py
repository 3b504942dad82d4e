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

# ---------------------------------------------------------------- model monitoring (XLSX)

SUMMARY_COLUMNS = (Column("item", "项目"), Column("value", "值"))
"""The summary sheet of an impact or drift workbook: one figure a row."""

_FIRM = (
    Column("uscc", "统一社会信用代码"),
    Column("name", "企业名称"),
    Column("rank_before", "原排名", "integer"),
    Column("rank_after", "新排名", "integer"),
    Column("points_before", "原积分", "integer"),
    Column("points_after", "新积分", "integer"),
)

RANK_CHANGE_COLUMNS = (
    Column("from", "名次变化自", "integer"),
    Column("to", "名次变化至", "integer"),
    Column("up", "上升", "integer"),
    Column("down", "下降", "integer"),
    Column("unchanged", "不变", "integer"),
)
"""A bucket of rank changes of `GET /v1/scoring/models/{version}/impact`."""

MOVER_COLUMNS = (Column("direction", "方向"), *_FIRM)
"""One of the largest moves up or down."""

TOP_COLUMNS = (Column("change", "变化"), *_FIRM)
"""An enterprise entering or leaving the top 100 (the 泰信保 waiver of the year after)."""

GROUP_COLUMNS = (
    Column("dimension", "维度"),
    Column("value", "取值"),
    Column("count", "企业数", "integer"),
    Column("mean_before", "原平均积分", "number"),
    Column("mean_after", "新平均积分", "number"),
)
"""Mean points of a district, industry, stage or category before and after."""

PRODUCT_COLUMNS = (
    Column("product_code", "产品代码"),
    Column("bank_code", "银行代码"),
    Column("name", "产品名称"),
    Column("min_points", "准入积分", "integer"),
    Column("eligible_before", "原符合条件企业数", "integer"),
    Column("eligible_after", "新符合条件企业数", "integer"),
    Column("gained", "新增", "integer"),
    Column("lost", "失去", "integer"),
    Column("tier_up", "额度档升", "integer"),
    Column("tier_down", "额度档降", "integer"),
    Column("max_amount_before", "原最高额度合计", "money"),
    Column("max_amount_after", "新最高额度合计", "money"),
)
"""A product's eligibility before and after."""

BIN_COLUMNS = (
    Column("quantity", "指标"),
    Column("lower", "下限（不含）", "number"),
    Column("upper", "上限（含）", "number"),
    Column("missing", "缺失值", "boolean"),
    Column("baseline", "基准数", "integer"),
    Column("actual", "实际数", "integer"),
    Column("baseline_share", "基准占比", "number"),
    Column("actual_share", "实际占比", "number"),
    Column("psi", "PSI", "number"),
)
"""A bin of a PSI: the quantity (`points` or an indicator) and its counts and shares."""

STABILITY_COLUMNS = (
    Column("quantity", "指标"),
    Column("label", "名称"),
    Column("psi", "PSI", "number"),
    Column("band", "结论"),
    Column("chi2", "卡方", "number"),
    Column("dof", "自由度", "integer"),
    Column("p_value", "p值", "number"),
    Column("baseline_count", "基准样本数", "integer"),
    Column("actual_count", "实际样本数", "integer"),
    Column("missing_rate", "缺失率", "number"),
    Column("baseline_missing_rate", "基准缺失率", "number"),
)
"""One quantity's drift of `GET /v1/scoring/drift`: the points or an indicator."""
