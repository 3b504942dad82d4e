"""`innocredit enterprises load`, `indicators load`, `models publish`, `points recompute`: fill
the points database and compute its rankings."""

from __future__ import annotations

from typing import Annotated

import typer

from services.cli.changes import governs, propose
from services.cli.context import ExistingFile, read_upload, step, transaction
from services.scoring import indicators, model_versions, recompute, registry
from services.scoring.changes import MODEL_PUBLISH, POINTS_RECOMPUTE, recompute_params
from services.scoring.model_body import model_from_bytes
from services.scoring.schemas import EnterpriseIn, IndicatorIn
from shared.bulk import parse_rows
from shared.years import FIRST_YEAR, LAST_YEAR

enterprises_app = typer.Typer(help="Enterprises of the points database.", no_args_is_help=True)
indicators_app = typer.Typer(help="Indicator data per period.", no_args_is_help=True)
models_app = typer.Typer(help="Points model versions.", no_args_is_help=True)
points_app = typer.Typer(help="Computed points and rankings.", no_args_is_help=True)

MakerId = Annotated[
    str | None,
    typer.Option("--client-id", help="Governed: your admin client, the change's maker"),
]


@enterprises_app.command("load")
def enterprises_load(file: ExistingFile) -> None:
    """Create or update enterprises from a CSV or JSON file (all rows or none)."""
    body, media = read_upload(file)
    with transaction() as session:
        rows = parse_rows(
            body,
            media,
            EnterpriseIn,
            list_fields=("categories",),
            check=lambda parsed: registry.check_enterprises(session, parsed),
        )
        step(f"{len(rows)} valid rows; writing")
        done = registry.upsert_enterprises(session, rows)
    typer.echo(f"enterprises: {done.created} created, {done.updated} updated")


@indicators_app.command("load")
def indicators_load(
    file: ExistingFile,
    period: Annotated[
        int, typer.Option(min=FIRST_YEAR, max=LAST_YEAR, help="The year the data is for")
    ],
) -> None:
    """Load a period's indicator data from a CSV or JSON file (all rows or none)."""
    body, media = read_upload(file)
    with transaction() as session:
        rows = parse_rows(
            body,
            media,
            IndicatorIn,
            check=lambda parsed: indicators.check_indicators(session, parsed),
        )
        step(f"{len(rows)} valid rows; writing")
        done = indicators.upsert_indicators(session, period, rows)
    typer.echo(f"indicators {period}: {done.created} created, {done.updated} updated")


@models_app.command("publish")
def models_publish(file: ExistingFile, client_id: MakerId = None) -> None:
    """Create a points model version from a JSON or YAML file and publish it (governed: create
    the draft and propose its publication, as --client-id)."""
    body, media = read_upload(file)
    with transaction() as session:
        definition = model_from_bytes(body, media)
        model_versions.create_draft(session, definition)
        if governs(MODEL_PUBLISH):
            command = f"innocredit models publish {file.name}"
            params = {"version": definition.version}
            propose(session, MODEL_PUBLISH, params, client_id=client_id, command=command)
            return
        model = model_versions.publish_model(session, definition.version)
    typer.echo(f"published model {model.version}")


@points_app.command("recompute")
def points_recompute(
    period: Annotated[int, typer.Option(min=FIRST_YEAR, max=LAST_YEAR, help="The year to compute")],
    model: Annotated[
        str | None, typer.Option(help="Model version (default: latest published)")
    ] = None,
    client_id: MakerId = None,
) -> None:
    """Recompute a period's points and ranking in one pass (governed: propose it, as
    --client-id)."""
    with transaction() as session:
        if governs(POINTS_RECOMPUTE):
            params = recompute_params(session, period, model)
            command = f"innocredit points recompute --period {period}"
            propose(session, POINTS_RECOMPUTE, params, client_id=client_id, command=command)
            return
        step(f"recomputing {period}")
        run = recompute.recompute(session, period, model_version=model, requested_by="cli")
    typer.echo(
        f"period {period}: {run.enterprise_count} enterprises under {run.model_version} "
        f"in {run.duration_ms} ms (run {run.id})"
    )
