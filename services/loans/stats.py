"""Loan statistics: one aggregate scan of the applications, per group and in total.

The figures are additive counts and sums, so the total is the sum of the groups and averages
and rates are computed from sums over counts. A bank's figures are its own bank's only.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from shared.auth.tenancy import BankVisibility, sql_filter

GROUPS = {  # group_by → its fixed SQL expression (never caller text)
    "bank": "bank_code",
    "product": "product_code",
    "district": "district",
    "industry": "industry",
    "stage": "stage",
    "month": "date_trunc('month', submitted_date)::date",
}

# One scan, additive aggregates only: the total is the sum of the groups (added up in Python),
# averages and rates are sums over counts. No GROUP BY () — it would switch parallelism off.
_STATS_SQL = """
    SELECT {group} AS grp,
           count(*) AS applications,
           count(approved_amount) AS approved,
           count(*) FILTER (WHERE status = 'rejected') AS rejected,
           count(*) FILTER (WHERE status = 'withdrawn') AS withdrawn,
           count(decided_at) AS decided,
           count(*) FILTER (WHERE disbursed_count > 0) AS disbursed_count,
           coalesce(sum(disbursed_total), 0) AS disbursed_amount,
           coalesce(sum(decision_working_days), 0) AS days_sum,
           count(decision_working_days) AS days_n,
           count(*) FILTER (WHERE on_time) AS on_time_n,
           count(on_time) AS on_time_of,
           count(*) FILTER (WHERE status = 'overdue') AS overdue_count,
           count(*) FILTER (WHERE status = 'submitted' AND decision_due_at < now())
               AS decision_overdue_count
    FROM loan_application
    WHERE submitted_date BETWEEN :from_date AND :to_date {bank}
    {grouping}
"""

_ADDITIVE = (
    "applications",
    "approved",
    "rejected",
    "withdrawn",
    "decided",
    "disbursed_count",
    "disbursed_amount",
    "days_sum",
    "days_n",
    "on_time_n",
    "on_time_of",
    "overdue_count",
    "decision_overdue_count",
)


def stats(
    session: Session,
    seen: BankVisibility,
    *,
    from_date: date,
    to_date: date,
    group_by: str | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-group rows and the total for the applications of the banks the caller sees,
    submitted in [from_date, to_date]."""
    bank, tenant = sql_filter("bank_code", seen)
    params: dict[str, Any] = {"from_date": from_date, "to_date": to_date, **tenant}
    # Plan for the actual date range every time: a cached generic plan guesses a few thousand
    # rows for the range and gives up the parallel scan.
    session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    column = GROUPS[group_by] if group_by is not None else "NULL"  # fixed expressions only
    grouping = f"GROUP BY {column} ORDER BY {column}" if group_by is not None else ""
    sql = _STATS_SQL.format(group=column, bank=bank, grouping=grouping)
    raw = [
        {k: getattr(r, k) for k in ("grp", *_ADDITIVE)} for r in session.execute(text(sql), params)
    ]
    if group_by is None:
        return [], _stats_row(raw[0])
    total: dict[str, Any] = {"grp": None, **{k: sum(r[k] for r in raw) for k in _ADDITIVE}}
    rows = []
    for r in raw:
        if group_by == "month":
            r["grp"] = r["grp"].strftime("%Y-%m")
        rows.append(_stats_row(r))
    return rows, _stats_row(total)


def _stats_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "group": row["grp"],
        "applications": row["applications"],
        "approved": row["approved"],
        "rejected": row["rejected"],
        "withdrawn": row["withdrawn"],
        "decided": row["decided"],
        "disbursed_count": row["disbursed_count"],
        "disbursed_amount": Decimal(row["disbursed_amount"]).quantize(Decimal("0.01")),
        "avg_decision_working_days": round(row["days_sum"] / row["days_n"], 2)
        if row["days_n"]
        else None,
        "on_time_rate": round(row["on_time_n"] / row["on_time_of"], 4)
        if row["on_time_of"]
        else None,
        "overdue_count": row["overdue_count"],
        "decision_overdue_count": row["decision_overdue_count"],
    }
