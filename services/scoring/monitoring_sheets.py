"""The what-if report and drift as XLSX sheets (the API's workbooks and the CLI's files): one
sheet per table, columns from `services.scoring.sheets`."""

from __future__ import annotations

from typing import Any

from services.scoring.monitoring_schemas import Drift, Impact
from services.scoring.sheets import (
    BIN_COLUMNS,
    GROUP_COLUMNS,
    MOVER_COLUMNS,
    PRODUCT_COLUMNS,
    RANK_CHANGE_COLUMNS,
    STABILITY_COLUMNS,
    SUMMARY_COLUMNS,
    TOP_COLUMNS,
)
from shared.tabular import Sheet


def _summary(report: Impact | Drift, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    data = report.model_dump(mode="json", by_alias=True)
    return [{"item": f, "value": data[f]} for f in fields]


def impact_sheets(report: Impact) -> list[Sheet]:
    """The what-if report as workbook sheets: a summary, then one sheet per table."""
    data = report.model_dump(mode="json", by_alias=True)
    changes, top = data["rank_changes"], data["top"]
    summary = _summary(
        report,
        (
            "period",
            "version",
            "version_status",
            "baseline",
            "baseline_source",
            "ranking_run_id",
            "enterprise_count",
            "products_on",
        ),
    )
    summary += [
        {"item": f"rank_changes.{k}", "value": changes[k]} for k in ("moved", "unchanged", "max")
    ]
    summary += [{"item": f"rank_changes.{k}", "value": v} for k, v in changes["quantiles"].items()]
    summary += [
        {"item": f"points_change.{k}", "value": v} for k, v in data["points_change"].items()
    ]
    summary += [
        {"item": f"psi.{k}", "value": data["psi"][k]}
        for k in ("psi", "band", "chi2", "dof", "p_value")
    ]
    movers = [{"direction": "up", **m} for m in changes["largest_up"]]
    movers += [{"direction": "down", **m} for m in changes["largest_down"]]
    entering = [{"change": "entering", **m} for m in top["entering"]]
    leaving = [{"change": "leaving", **m} for m in top["leaving"]]
    bins = [{"quantity": "points", **b} for b in data["psi"]["bins"]]
    return [
        ("summary", SUMMARY_COLUMNS, summary),
        ("rank_changes", RANK_CHANGE_COLUMNS, changes["buckets"]),
        ("movers", MOVER_COLUMNS, movers),
        ("top100", TOP_COLUMNS, entering + leaving),
        ("groups", GROUP_COLUMNS, data["groups"]),
        ("products", PRODUCT_COLUMNS, data["products"]),
        ("psi", BIN_COLUMNS, bins),
    ]


def drift_sheets(report: Drift) -> list[Sheet]:
    """Drift as workbook sheets: a summary, one row per quantity, one per bin."""
    data = report.model_dump(mode="json")
    summary = _summary(
        report,
        (
            "period",
            "run_id",
            "model_version",
            "baseline_period",
            "baseline_run_id",
            "baseline_model_version",
        ),
    )
    quantities = [("points", "积分", data["points"], None, None)] + [
        (i["indicator"], i["label"], i["stability"], i["missing_rate"], i["baseline_missing_rate"])
        for i in data["indicators"] or []
    ]
    stability = [
        {
            "quantity": name,
            "label": label,
            **{k: s[k] for k in ("psi", "band", "chi2", "dof", "p_value")},
            "baseline_count": s["baseline_count"],
            "actual_count": s["actual_count"],
            "missing_rate": missing,
            "baseline_missing_rate": baseline_missing,
        }
        for name, label, s, missing, baseline_missing in quantities
    ]
    bins = [{"quantity": name, **b} for name, _, s, _, _ in quantities for b in s["bins"]]
    return [
        ("summary", SUMMARY_COLUMNS, summary),
        ("stability", STABILITY_COLUMNS, stability),
        ("bins", BIN_COLUMNS, bins),
    ]
