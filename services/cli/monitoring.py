"""`innocredit models impact` and `innocredit points drift`: a model's what-if report and the
drift between runs from the host — the API's answers (`GET /v1/scoring/models/{v}/impact`,
`GET /v1/scoring/drift`), with no request timeout (a national period takes about a minute),
as JSON on stdout or an XLSX workbook."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import BaseModel

from services.cli.context import step, transaction
from services.cli.scoring import models_app, points_app
from services.loans.eligibility import product_shifts
from services.scoring import drift, impact
from services.scoring.monitoring_schemas import Drift, Impact
from services.scoring.monitoring_sheets import drift_sheets, impact_sheets
from shared import clock
from shared.tabular import FileOptions, Sheet, write_xlsx_sheets
from shared.years import FIRST_YEAR, LAST_YEAR

Report = TypeVar("Report", bound=BaseModel)

Period = Annotated[
    int | None,
    typer.Option(min=FIRST_YEAR, max=LAST_YEAR, help="A year (default: the latest ranked period)"),
]
Xlsx = Annotated[
    Path | None,
    typer.Option(dir_okay=False, help="Write the workbook (one sheet per table) here, not JSON"),
]
ZhHeaders = Annotated[bool, typer.Option("--zh", help="XLSX column headers in Chinese (中文)")]


def _emit(
    report: Report, sheets: Callable[[Report], list[Sheet]], xlsx: Path | None, zh: bool
) -> None:
    if xlsx is None:
        typer.echo(report.model_dump_json(by_alias=True))
        return
    rows = write_xlsx_sheets(str(xlsx), sheets(report), FileOptions("zh" if zh else "en"))
    step(f"wrote {xlsx} ({sum(rows)} rows in {len(rows)} sheets)")


@models_app.command("impact")
def models_impact(
    version: Annotated[str, typer.Argument(help="The model version (a draft too)")],
    period: Period = None,
    baseline: Annotated[
        str | None, typer.Option(help="A model version (default: the ranking's model)")
    ] = None,
    xlsx: Xlsx = None,
    zh: ZhHeaders = False,
) -> None:
    """What VERSION would do to a period's ranking, nothing changed: rank changes, the top 100
    (the next year's waivers), group means, products' eligibility, the PSI."""
    with transaction() as session:
        of = impact.basis(session, version, period, baseline)
        step(f"scoring {of.period} with {of.version.version} against {of.baseline.version}")
        report = Impact.model_validate(impact.impact(session, of, product_shifts, clock.today()))
    _emit(report, impact_sheets, xlsx, zh)


@points_app.command("drift")
def points_drift(
    period: Period = None,
    baseline_period: Annotated[
        int | None,
        typer.Option(min=FIRST_YEAR, max=LAST_YEAR, help="A year (default: the year before)"),
    ] = None,
    run: Annotated[int | None, typer.Option(min=1, help="A recompute run's id")] = None,
    baseline_run: Annotated[int | None, typer.Option(min=1, help="The baseline run's id")] = None,
    xlsx: Xlsx = None,
    zh: ZhHeaders = False,
) -> None:
    """The PSI of the points and of each indicator between two periods' rankings (or two runs),
    with its band, chi-square p-value and missing-value rates."""
    with transaction() as session:
        of = drift.runs(
            session,
            period=period,
            baseline_period=baseline_period,
            run=run,
            baseline_run=baseline_run,
        )
        report = Drift.model_validate(drift.drift(session, of))
    _emit(report, drift_sheets, xlsx, zh)
