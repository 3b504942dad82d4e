"""`innocredit diagnosis render`: every ranked firm's 诊断书 of a period as PDF files, each
issued (a verification code and its row) as the API issues one.

One snapshot reads the period (`PeriodBook`); a pool of forked workers shares it and renders
(no database in the workers); one transaction then records every document, and only after
it commits are the files moved from a staging directory into `--out`. A failure before the
commit leaves no rows and no files.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import insert

from services.cli.context import transaction
from services.loans.eligibility import product_ladders
from services.scoring.diagnosis_batch import PeriodBook
from services.scoring.documents import Requester, grouped, prepare
from services.scoring.models import DiagnosisDocument
from shared.clock import now, today
from shared.settings import get_settings
from shared.vocab import DISTRICTS
from shared.years import FIRST_YEAR, LAST_YEAR

app = typer.Typer(help="The 诊断书 (diagnosis) as documents.", no_args_is_help=True)

CHUNK = 16
_book: PeriodBook | None = None  # the forked workers' copy (copy-on-write)


@dataclass(frozen=True, slots=True)
class Job:
    """What every worker renders with."""

    staging: Path
    base_url: str
    at: datetime


def _render(job: Job, usccs: Sequence[str]) -> list[dict[str, Any]]:
    """Render `usccs` into the staging directory; their rows, to be inserted."""
    assert _book is not None  # set before the pool forks  # noqa: S101
    rows = []
    requester = Requester.batch()
    for uscc in usccs:
        pdf, row = prepare(_book.diagnosis(uscc), requester, job.base_url, job.at)
        (job.staging / _filename(_book.period, uscc)).write_bytes(pdf)
        rows.append({c.key: getattr(row, c.key) for c in DiagnosisDocument.__table__.columns})
    return rows


def _filename(period: int, uscc: str) -> str:
    return f"diagnosis-{period}-{uscc}.pdf"


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


@dataclass(frozen=True, slots=True)
class Rendered:
    """What a render did."""

    count: int
    seconds: float
    read_seconds: float
    render_seconds: float
    commit_seconds: float


def render_period(
    period: int,
    out: Path,
    *,
    district: str | None = None,
    workers: int = 2,
    base_url: str | None = None,
    progress: bool = True,
) -> Rendered:
    """Render and issue the period's documents (of `district`) into `out` (the function
    the command and the benchmark run)."""
    global _book
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    staging = out / f".staging-{os.getpid()}"
    url = base_url or get_settings().public_url or "http://127.0.0.1:8000"
    try:
        with transaction() as session:
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            _book = PeriodBook.read(session, period, product_ladders, today())
            read_at = time.perf_counter()
            staging.mkdir()
            usccs = _book.usccs(district)
            job = Job(staging, url, now())
            rows = _render_all(job, usccs, workers, progress)
            rendered_at = time.perf_counter()
            if rows:
                session.execute(insert(DiagnosisDocument), rows)
            _write_index(staging / "index.csv", _book, rows)
        committed = time.perf_counter()
        for row in rows:
            name = _filename(period, row["uscc"])
            os.replace(staging / name, out / name)
        os.replace(staging / "index.csv", out / "index.csv")
    finally:
        _book = None
        shutil.rmtree(staging, ignore_errors=True)
    return Rendered(
        len(rows),
        time.perf_counter() - started,
        read_at - started,
        rendered_at - read_at,
        committed - rendered_at,
    )


def _render_all(
    job: Job, usccs: Sequence[str], workers: int, progress: bool
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    console = Console(file=sys.stderr)
    columns = (
        TextColumn("诊断书"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>6.0f}/s"),
        TimeRemainingColumn(),
    )
    with Progress(
        *columns, console=console, transient=not console.is_terminal, disable=not progress
    ) as bar:
        task = bar.add_task("render", total=len(usccs), rate=0.0)
        started = time.perf_counter()
        pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
        try:
            results = (
                pool.imap_unordered(_render_star, ((job, c) for c in _chunks(usccs)))
                if pool is not None
                else map(_render_star, ((job, c) for c in _chunks(usccs)))
            )
            for done in results:
                rows += done
                rate = len(rows) / max(time.perf_counter() - started, 1e-9)
                bar.update(task, completed=len(rows), rate=rate)
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    return rows


def _render_star(args: tuple[Job, Sequence[str]]) -> list[dict[str, Any]]:
    return _render(*args)


def _write_index(path: Path, book: PeriodBook, rows: Sequence[dict[str, Any]]) -> None:
    """index.csv: one line per document, in rank order."""
    ordered = sorted(rows, key=lambda r: book.firms[r["uscc"]].rank)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("uscc", "name", "district", "points", "rank", "code", "sha256", "file"))
        for row in ordered:
            firm = book.firms[row["uscc"]]
            writer.writerow(
                (firm.uscc, firm.name, firm.district, firm.points, firm.rank,
                 grouped(row["code"]), row["sha256"], _filename(book.period, firm.uscc))
            )  # fmt: skip


@app.command("render")
def render(
    period: Annotated[int, typer.Option(min=FIRST_YEAR, max=LAST_YEAR, help="The ranked year")],
    out: Annotated[Path, typer.Option(file_okay=False, help="Where the PDFs go")],
    district: Annotated[
        str | None, typer.Option(help="Only this district's firms (ranks stay citywide)")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Processes that render")] = 2,
    base_url: Annotated[
        str | None,
        typer.Option(help="The origin printed in the check URL (default INNOCREDIT_PUBLIC_URL)"),
    ] = None,
) -> None:
    """Render and issue every ranked firm's 诊断书 of PERIOD into OUT (one PDF per firm,
    `diagnosis-<period>-<uscc>.pdf`, and `index.csv`)."""
    if district is not None and district not in DISTRICTS:
        typer.echo(f"error: --district must be one of {', '.join(DISTRICTS)}", err=True)
        raise typer.Exit(2)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        typer.echo(f"error: {out} is not writable: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    done = render_period(period, out, district=district, workers=workers, base_url=base_url)
    where = f" ({district})" if district else ""
    typer.echo(f"rendered {done.count:,} documents{where} in {done.seconds:.1f} s → {out}")
