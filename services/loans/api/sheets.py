"""The columns of the loans service's CSV and XLSX files: the JSON field each shows, its
Chinese header and the kind of its cells (`shared.tabular`)."""

from __future__ import annotations

from shared.tabular import Column

STATS_COLUMNS = (
    Column("group", "分组"),
    Column("applications", "申请笔数", "integer"),
    Column("approved", "批准笔数", "integer"),
    Column("rejected", "拒绝笔数", "integer"),
    Column("withdrawn", "撤回笔数", "integer"),
    Column("decided", "已决策笔数", "integer"),
    Column("disbursed_count", "放款笔数", "integer"),
    Column("disbursed_amount", "放款金额（元）", "money"),
    Column("avg_decision_working_days", "平均决策工作日", "number"),
    Column("on_time_rate", "按时决策率", "number"),
    Column("overdue_count", "逾期笔数", "integer"),
    Column("decision_overdue_count", "决策超时笔数", "integer"),
    # Added by issue 15, last: a file read by position keeps its first columns.
    Column("median_decision_working_days", "决策工作日中位数", "number"),
    Column("approval_rate", "批准率", "number"),
)
"""A row of `GET /v1/loans/stats` (a group, or the total as `TOTAL`)."""

APPLICATION_COLUMNS = (
    Column("id", "申请编号"),
    Column("bank_code", "银行代码"),
    Column("product_code", "产品代码"),
    Column("uscc", "统一社会信用代码"),
    Column("amount", "申请金额（元）", "money"),
    Column("term_months", "申请期限（月）", "integer"),
    Column("status", "状态"),
    Column("submitted_at", "提交时间", "datetime"),
    Column("submitted_date", "提交日期", "date"),
    Column("decision_due_at", "决策截止时间", "datetime"),
    Column("deadline_provisional", "截止时间暂定", "boolean"),
    Column("points_snapshot", "申请时积分", "integer"),
    Column("rank_snapshot", "申请时排名", "integer"),
    Column("rank_total_snapshot", "参与排名企业数", "integer"),
    Column("model_version_snapshot", "积分模型版本"),
    Column("period_snapshot", "积分年度", "integer"),
    Column("max_amount_snapshot", "可贷额度（元）", "money"),
    Column("guarantee_fee.fee_rate", "泰信保费率", "decimal"),
    Column("guarantee_fee.fee", "泰信保担保费（元）", "money"),
    Column("guarantee_fee.waived", "泰信保费用减免", "boolean"),
    Column("guarantee_fee.payable_fee", "泰信保应付担保费（元）", "money"),
    Column("approved_amount", "批准金额（元）", "money"),
    Column("annual_rate", "年利率", "decimal"),
    Column("decided_term_months", "批准期限（月）", "integer"),
    Column("reason_codes", "原因代码", "list"),
    Column("decided_at", "决策时间", "datetime"),
    Column("decision_working_days", "决策用时（工作日）", "integer"),
    Column("on_time", "按时决策", "boolean"),
    Column("disbursed_total", "已放款金额（元）", "money"),
    Column("disbursed_count", "放款笔数", "integer"),
    Column("outstanding_principal", "未还本金（元）", "money"),
    Column("repayment_as_of", "还款状态日期", "date"),
    Column("version", "版本", "integer"),
    Column("created_at", "创建时间", "datetime"),
    Column("updated_at", "更新时间", "datetime"),
    Column("working_days_elapsed", "已等待工作日", "integer"),  # issue 15, last (as above)
)
"""An application of `GET /v1/loans/applications` (the 泰信保 fee flattened)."""
