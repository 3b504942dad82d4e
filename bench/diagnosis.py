"""Rendering every 诊断书 of the demo (issue 18): `innocredit diagnosis render`'s function on
the demo's 8,012 ranked firms of 2025.

The demo is loaded (as the tests' demo database is: `services.demo.load`) into a throwaway
database, then `services.cli.diagnosis.render_period` runs `--runs` times: one snapshot
read (the period's book), the forked pool rendering (`--workers`), one transaction
inserting every document's row, the files moved into place. Reported per run: wall time
per phase, CPU time (this process and its workers), documents per second, and the load
average before and after (others may share the machine: CPU time is the steadier figure).

Checks (exit status 1 when one fails): every ranked firm has its file and its row, each
file's SHA-256 is its row's; and the wall time is under 120 s (the issue's target on the
2-core machine).

Database: `DATABASE_URL` if set (a scratch database on that server, dropped at the end),
otherwise a throwaway embedded PostgreSQL.

    .venv/bin/python -m bench.diagnosis [--workers 2] [--runs 1]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import tempfile
from pathlib import Path

from sqlalchemy import func, select

from bench import loans
from bench._common import table
from bench.national import machine
from services.cli.diagnosis import render_period
from services.scoring.models import DiagnosisDocument
from shared.db import make_engine, make_sessionmaker
from shared.settings import get_settings

PERIOD = 2025
FIRMS = 8_012
TARGET_S = 120.0


def _cpu() -> float:
    """CPU seconds (user + system) of this process and of its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _check(url: str, out: Path) -> list[tuple[bool, str]]:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            rows = dict(
                session.execute(
                    select(DiagnosisDocument.uscc, DiagnosisDocument.sha256)
                    .where(DiagnosisDocument.period == PERIOD)
                    .order_by(DiagnosisDocument.issued_at)
                ).all()
            )
            count = session.scalar(select(func.count()).where(DiagnosisDocument.period == PERIOD))
    finally:
        engine.dispose()
    files = sorted(out.glob(f"diagnosis-{PERIOD}-*.pdf"))
    matching = sum(
        hashlib.sha256(f.read_bytes()).hexdigest() == rows.get(f.stem.rsplit("-", 1)[1])
        for f in files
    )
    return [
        (len(files) == FIRMS, f"{len(files):,} files"),
        (len(rows) == FIRMS, f"{len(rows):,} firms with a row ({count:,} rows in all)"),
        (matching == FIRMS, f"{matching:,} files whose SHA-256 is their row's"),
    ]


def run(args: argparse.Namespace) -> int:
    """Load the demo, render every document `args.runs` times; print figures and checks."""
    print(machine("start"))
    lines: list[list[str]] = []
    checks: list[tuple[bool, str]] = []
    walls: list[float] = []
    with loans.demo_database("") as (url, engine):
        engine.dispose()  # no pooled connection of ours inherited by the forked workers
        os.environ["DATABASE_URL"] = url
        get_settings.cache_clear()
        for n in range(1, args.runs + 1):
            with tempfile.TemporaryDirectory(prefix="innocredit-diagnosis-") as tmp:
                out = Path(tmp)
                load_before, cpu_before = os.getloadavg()[0], _cpu()
                done = render_period(PERIOD, out, workers=args.workers, progress=False)
                cpu = _cpu() - cpu_before
                walls.append(done.seconds)
                lines.append(
                    [
                        f"run {n}",
                        f"{done.count:,}",
                        f"{done.read_seconds:.1f} s",
                        f"{done.render_seconds:.1f} s",
                        f"{done.commit_seconds:.1f} s",
                        f"{done.seconds:.1f} s",
                        f"{cpu:.1f} s ({1000 * cpu / max(done.count, 1):.1f} ms/doc)",
                        f"{done.count / done.seconds:.0f}",
                        f"{load_before:.2f} → {os.getloadavg()[0]:.2f}",
                    ]
                )
                checks += _check(url, out) if n == 1 else []
    print(machine("end"))
    print(f"== every 诊断书 of the demo ({args.workers} workers)")
    headers = ["", "documents", "read", "render", "commit", "wall", "CPU", "docs/s", "load 1 min"]
    print(table(headers, lines))
    best = min(walls)
    print(
        f"target: under {TARGET_S:.0f} s: {best:.1f} s, " + ("met" if best < TARGET_S else "MISSED")
    )
    checks.append((best < TARGET_S, f"wall {best:.1f} s < {TARGET_S:.0f} s"))
    failed = [message for ok, message in checks if not ok]
    print(f"checks: {len(checks) - len(failed)} passed, {len(failed)} FAILED")
    for ok, message in checks:
        print(f"  [{'ok' if ok else 'FAIL'}] {message}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
