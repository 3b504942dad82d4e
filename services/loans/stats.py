"""Loan statistics, read from the daily rollup (`services/loans/stats_rollup.py`).

Every figure is additive (counts, sums of money, the sum and count of decision days), so the
figures of a date range are the sums of its days' rollup rows: work in proportion to days ×
products × dimension values, not to applications. Averages and rates are sums over counts;
the total is the sum of the groups. The one figure that depends on now(),
`decision_overdue_count`, is the rollup's count of undecided applications less those whose
deadline is still ahead, read live from `loan_application` by a partial index (they are the
applications of the last few working days), in the same statement — one snapshot. The median
of decision working days is not additive, but the histogram it is read from is: the same
statement sums the side rollup's count per working-day value (`DecisionDays`) per group, and
the median of a group, or of the total, is read off its summed histogram (`median`). A bank's
figures are its own bank's only.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import accumulate
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.loans.stats_rollup import DecisionDays, StatsDay
from shared.auth.tenancy import BankVisibility, sql_filter


@dataclass(frozen=True, slots=True)
class Grouping:
    """How a `group_by` reads: the rollup rows of one dimension, their group expression, and
    the same expression over `loan_application` (fixed SQL, never caller text)."""

    dimension: str
    rolled: str
    live: str


_MONTH = "date_trunc('month', {})::date"
GROUPS = {  # group_by → its grouping
    "bank": Grouping("none", "bank_code", "bank_code"),
    "product": Grouping("none", "product_code", "product_code"),
    "district": Grouping("district", "value", "district"),
    "industry": Grouping("industry", "value", "industry"),
    "stage": Grouping("stage", "value", "stage"),
    "month": Grouping("none", _MONTH.format("day"), _MONTH.format("submitted_date")),
}
_TOTAL = Grouping("none", "NULL::text", "NULL::text")

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
_ROLLED = _ADDITIVE[:-1]

# One statement, one snapshot: the rollup's sums per group, less per group the undecided
# applications not yet due (the rest of the undecided are overdue), and per group the
# histogram of decision working days (values ascending, with their counts).
_STATS_SQL = f"""
    WITH rolled AS (
        SELECT {{rolled}} AS grp, {", ".join(f"sum({f}) AS {f}" for f in _ROLLED)},
               sum(awaiting_decision) AS awaiting_decision
        FROM {StatsDay.__tablename__}
        WHERE dimension = :dimension AND day BETWEEN :from_date AND :to_date {{bank}}
        GROUP BY 1
    ), not_due AS (
        SELECT {{live}} AS grp, count(*) AS n
        FROM loan_application
        WHERE status = 'submitted' AND decision_due_at >= now()
          AND submitted_date BETWEEN :from_date AND :to_date {{bank}}
        GROUP BY 1
    ), per_value AS (
        SELECT {{rolled}} AS grp, working_days, sum(decided) AS decided
        FROM {DecisionDays.__tablename__}
        WHERE dimension = :dimension AND day BETWEEN :from_date AND :to_date {{bank}}
        GROUP BY 1, 2
    ), days AS (
        SELECT grp, array_agg(working_days ORDER BY working_days) AS days_values,
               array_agg(decided ORDER BY working_days) AS days_counts
        FROM per_value GROUP BY grp
    )
    SELECT rolled.*, awaiting_decision - coalesce(not_due.n, 0) AS decision_overdue_count,
           days.days_values, days.days_counts
    FROM rolled LEFT JOIN not_due ON not_due.grp IS NOT DISTINCT FROM rolled.grp
    LEFT JOIN days ON days.grp IS NOT DISTINCT FROM rolled.grp
    ORDER BY rolled.grp
"""  # noqa: S608 (built from module constants only)


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
    grouping = GROUPS[group_by] if group_by is not None else _TOTAL
    bank, tenant = sql_filter("bank_code", seen)
    params: dict[str, Any] = {
        "dimension": grouping.dimension,
        "from_date": from_date,
        "to_date": to_date,
        **tenant,
    }
    # Plan for the actual dates and now() every time: a cached generic plan cannot tell a
    # range of days, or the deadlines still ahead, from any other.
    session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    sql = _STATS_SQL.format(rolled=grouping.rolled, live=grouping.live, bank=bank)
    raw: list[dict[str, Any]] = []
    histograms: list[Counter[int]] = []
    for found in session.execute(text(sql), params):
        values, counts = found.days_values or (), found.days_counts or ()
        histogram = Counter(dict(zip(values, counts, strict=True)))
        raw.append({"grp": found.grp, **{k: getattr(found, k) for k in _ADDITIVE}})
        raw[-1]["median"] = median(histogram)
        histograms.append(histogram)
    total: dict[str, Any] = {"grp": None, **{k: sum(r[k] for r in raw) for k in _ADDITIVE}}
    total["median"] = median(sum(histograms, Counter[int]()))
    if group_by is None:
        return [], _stats_row(total)
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
        "median_decision_working_days": row["median"],
        "approval_rate": round(row["approved"] / row["decided"], 4) if row["decided"] else None,
        "on_time_rate": round(row["on_time_n"] / row["on_time_of"], 4)
        if row["on_time_of"]
        else None,
        "overdue_count": row["overdue_count"],
        "decision_overdue_count": row["decision_overdue_count"],
    }


def median(histogram: Mapping[int, int]) -> float | None:
    """The median of the values a histogram counts (value → how many), as
    `percentile_cont(0.5)` gives it: the middle value, or the mean of the two middle values of
    an even count; None when it counts nothing."""
    values = sorted(v for v, n in histogram.items() if n)
    if not values:
        return None
    upto = list(accumulate(histogram[v] for v in values))  # values at or below each
    count = upto[-1]
    # The values at the 1-based positions of the two middle ones (one for an odd count).
    low = values[bisect_left(upto, (count + 1) // 2)]
    high = values[bisect_left(upto, count // 2 + 1)]
    return (low + high) / 2
