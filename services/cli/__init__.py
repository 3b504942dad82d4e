"""`innocredit`: run the platform and operate it (schema, clients, keys).

One module per command group: `serve` (what ./run.sh runs), `db` (migrations), `clients`
(API clients and signing keys), `users` (who signs in to the dashboard), `scoring`
(enterprises, indicators, models, points), `monitoring` (`models impact`, `points drift`),
`calendar`, `demo`, `changes` (four eyes), `worker` (webhook delivery), `diagnosis` (the
诊断书 of every firm as PDFs);
`context` holds what they all run in (the database, one transaction, progress lines, input
files).
"""

from __future__ import annotations

import typer

from services.cli import (
    calendar,
    changes,
    clients,
    db,
    demo,
    diagnosis,
    monitoring,
    scoring,
    serve,
    users,
    worker,
)

app = typer.Typer(help="InnoCredit: 创新积分贷 points, loans and guarantees.", no_args_is_help=True)
app.command()(serve.serve)
app.command()(worker.worker)
app.add_typer(db.app, name="db")
app.add_typer(clients.clients_app, name="clients")
app.add_typer(clients.keys_app, name="keys")
app.add_typer(scoring.enterprises_app, name="enterprises")
app.add_typer(scoring.indicators_app, name="indicators")
app.add_typer(scoring.models_app, name="models")
app.add_typer(scoring.points_app, name="points")
app.add_typer(users.app, name="users")
app.add_typer(calendar.app, name="calendar")
app.add_typer(demo.app, name="demo")
app.add_typer(changes.app, name="changes")
app.add_typer(diagnosis.app, name="diagnosis")

__all__ = ["app", "main", "monitoring"]  # monitoring adds its commands to models and points


def main() -> None:
    """Entry point of the `innocredit` command."""
    app()
