"""`innocredit calendar load`: a year's official working-day schedule, which the loans'
review deadlines count in."""

from __future__ import annotations

from typing import Annotated

import typer

from services.cli.changes import governs, propose
from services.cli.context import ExistingFile, read_upload, transaction
from services.loans import schedule as loans_schedule
from services.loans.api.calendar import calendar_from_upload
from services.loans.applications import Actor as LoansActor
from services.loans.changes import CALENDAR_LOAD
from shared.years import FIRST_YEAR, LAST_YEAR

app = typer.Typer(help="The working-day calendar.", no_args_is_help=True)


@app.command("load")
def calendar_load(
    file: ExistingFile,
    year: Annotated[
        int | None,
        typer.Option(min=FIRST_YEAR, max=LAST_YEAR, help="The year (default: the dates' year)"),
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option("--client-id", help="Governed: your admin client, the change's maker"),
    ] = None,
) -> None:
    """Load a year's official working-day schedule (JSON or CSV `date,kind`; governed: propose
    it, as --client-id)."""
    body, media = read_upload(file)
    with transaction() as session:
        schedule = calendar_from_upload(body, media)
        years = {d.year for d in (*schedule.holidays, *schedule.make_up_workdays)}
        if year is None:
            if len(years) != 1:
                typer.echo(
                    "error: the file's dates span several years (or none); pass --year", err=True
                )
                raise typer.Exit(2)
            year = years.pop()
        if governs(CALENDAR_LOAD):
            params = {"year": year, "calendar": schedule.model_dump(mode="json")}
            command = f"innocredit calendar load {file.name} --year {year}"
            propose(
                session,
                CALENDAR_LOAD,
                params,
                client_id=client_id,
                command=command,
                media_type=media,
            )
            return
        count = loans_schedule.load_calendar(session, year, schedule, LoansActor("cli", None))
    typer.echo(f"calendar {year} loaded; {count} provisional deadline(s) recomputed")
