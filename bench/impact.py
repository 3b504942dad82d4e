"""What a draft model's what-if report costs (issue 16 §2), against a recompute of the same
period measured in the same run.

Sizes: the demo (8,012 enterprises, loaded by `services.demo.load` as the tests' demo
database is) and, unless `--national 0`, N generated enterprises (`bench.scoring.generate`
and `load`: the demo's mix, 2025 and most of 2024) with the demo's banks and products,
ranked once by a recompute before measuring (setup, not measured).

For each size, `--runs` times each (after one warm-up), the median reported:

- ``recompute``: `services.scoring.recompute.recompute` of 2025 with the ranking's model,
  in a transaction rolled back (the ranking stays as it was);
- ``impact, stored baseline``: `impact.basis` + `impact.impact` of a draft (the ranking's
  model with the invention patents' weight doubled) against the ranking's model, whose
  stored points are the baseline: one model scored; rolled back;
- ``impact, computed baseline``: the same with the baseline scored too (both models);
- ``GET …/impact`` JSON and XLSX: the endpoint through the gateway in this process (token
  check, the report, its body), the stored baseline.

Checks (exit status 1 when one fails): both baselines give the same report, and the
endpoint's JSON is the domain report. Target: the JSON answer under 3 s at the demo's size.

Database: `DATABASE_URL` if set (a scratch database on that server per size, dropped at the
end), otherwise a throwaway embedded PostgreSQL per size.

    .venv/bin/python -m bench.impact [--national 200000] [--runs 3]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench import loans, scoring
from bench._common import table
from bench.gateway import make_settings
from bench.national import machine
from services.demo.loans import banks_and_products
from services.loans.eligibility import product_shifts
from services.runtime import build_gateway
from services.scoring import impact, model_versions
from services.scoring import recompute as pipeline
from services.scoring.monitoring_schemas import Impact
from services.scoring.pointsmodel import ModelDefinition
from shared import clock, migrate
from shared.db import make_engine, make_sessionmaker
from shared.negotiation import XLSX

PERIOD = 2025
DRAFT = "BENCH-IMPACT"
TARGET_S = 3.0


@dataclass(slots=True)
class Size:
    """One size's figures: seconds per run of each measurement."""

    label: str
    enterprises: int
    seconds: dict[str, list[float]] = field(default_factory=dict)
    checks: list[tuple[bool, str]] = field(default_factory=list)

    def median(self, name: str) -> float:
        return statistics.median(self.seconds[name])


def _timed(size: Size, name: str, runs: int, call: Callable[[], Any]) -> Any:
    """Run `call` once to warm up, then `runs` times timed; the last result."""
    result = call()
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        size.seconds.setdefault(name, []).append(time.perf_counter() - started)
    return result


def _draft(engine: Engine) -> None:
    """The ranking's model with the invention patents' weight doubled, as a draft."""
    with make_sessionmaker(engine).begin() as session:
        ranking = ranking_model(session)
        definition = copy.deepcopy(model_versions.get_model(session, ranking).definition)
        definition["version"] = DRAFT
        for rule in definition["indicators"]:
            if rule["indicator"] == "invention_patents":
                rule["weight"] = str(Decimal(str(rule.get("weight", "1"))) * 2)
        model_versions.create_draft(session, ModelDefinition.model_validate(definition))


def ranking_model(session: Session) -> str:
    """The model of PERIOD's ranking."""
    return str(
        session.scalar(
            text("SELECT model_version FROM sc_ranking WHERE period = :p"), {"p": PERIOD}
        )
    )


def _report(engine: Engine, *, stored: bool) -> dict[str, Any]:
    """The impact report of the draft on PERIOD, in a transaction rolled back."""
    with make_sessionmaker(engine)() as session:
        of = impact.basis(session, DRAFT, PERIOD, None)
        if not stored:
            of = impact.Basis(of.period, of.version, of.baseline, None)
        report = impact.impact(session, of, product_shifts, clock.today())
        session.rollback()
    return report


def _recompute(engine: Engine) -> int:
    with make_sessionmaker(engine)() as session:
        model = ranking_model(session)
        run = pipeline.recompute(session, PERIOD, model_version=model, requested_by="bench")
        count = run.enterprise_count
        session.rollback()
    return count


def measure(size: Size, url: str, engine: Engine, runs: int) -> None:
    """Every measurement of one size (the database holds PERIOD's ranking)."""
    _draft(engine)
    count = _timed(size, "recompute", runs, lambda: _recompute(engine))
    size.checks.append((count == size.enterprises, f"{size.label}: recompute of {count:,}"))
    stored = _timed(size, "impact, stored baseline", runs, lambda: _report(engine, stored=True))
    computed = _timed(
        size, "impact, computed baseline", runs, lambda: _report(engine, stored=False)
    )
    size.checks.append(
        (
            stored["baseline_source"] == "stored" and computed["baseline_source"] == "computed",
            f"{size.label}: the baselines were stored and computed",
        )
    )
    apart = {"baseline_source": None, "ranking_run_id": None}  # the only fields that differ
    same = {**stored, **apart} == {**computed, **apart}
    size.checks.append((same, f"{size.label}: a stored and a computed baseline agree"))
    client_id, secret = loans.create_client(engine, "impact bench admin", "admin", None)
    gateway = build_gateway(make_settings(url), engine)
    with TestClient(gateway) as api:
        token = api.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        path = f"/v1/scoring/models/{DRAFT}/impact?period={PERIOD}"
        answer = _timed(size, "GET …/impact (JSON)", runs, lambda: api.get(path, headers=headers))
        expected = Impact.model_validate(stored).model_dump(mode="json", by_alias=True)
        size.checks.append(
            (
                answer.status_code == 200 and json.loads(answer.content) == expected,
                f"{size.label}: the endpoint's JSON is the domain report",
            )
        )
        book = _timed(
            size,
            "GET …/impact (XLSX)",
            runs,
            lambda: api.get(path, headers={**headers, "Accept": XLSX}),
        )
        size.checks.append(
            (
                book.status_code == 200 and book.content[:2] == b"PK",
                f"{size.label}: the workbook ({len(book.content):,} bytes)",
            )
        )


def demo_size(runs: int) -> Size:
    """The demo's 8,012 enterprises."""
    size = Size("demo", 8_012)
    with loans.demo_database("demo: ") as (url, engine):
        measure(size, url, engine, runs)
    return size


def national_size(n: int, runs: int) -> Size:
    """`n` generated enterprises with the demo's banks and products, ranked once."""
    size = Size(f"{n:,} generated", n)
    with loans.database() as (url, origin):
        print(f"{size.label}: database {origin}")
        migrate.upgrade(url, "head")
        engine = make_engine(url)
        try:
            started = time.perf_counter()
            scoring.load(engine, scoring.generate(n, 16))
            with make_sessionmaker(engine).begin() as session:
                banks_and_products(session)
                pipeline.recompute(session, PERIOD, model_version=None, requested_by="bench")
            print(f"{size.label}: loaded and ranked in {time.perf_counter() - started:.1f} s")
            measure(size, url, engine, runs)
        finally:
            engine.dispose()
    return size


def run(args: argparse.Namespace) -> int:
    """Measure each size; print the figures and the checks; the exit status."""
    print(machine("start"))
    sizes = [demo_size(args.runs)]
    if args.national:
        sizes.append(national_size(args.national, args.runs))
    print(machine("end"))
    rows = []
    for size in sizes:
        base = size.median("recompute")
        for name in size.seconds:
            figure = size.median(name)
            rows.append(
                [
                    f"{size.label}: {name}",
                    f"{figure:.2f} s",
                    f"{figure / base:.2f}",
                    f"{min(size.seconds[name]):.2f}–{max(size.seconds[name]):.2f} s",
                ]
            )
    print(f"== what-if impact (median of {args.runs}; ratio to the recompute of the same size)")
    print(table(["measurement", "median", "× recompute", "range"], rows))
    demo_json = sizes[0].median("GET …/impact (JSON)")
    print(
        f"target: GET …/impact (JSON) on the demo < {TARGET_S:.0f} s: {demo_json:.2f} s, "
        + ("met" if demo_json < TARGET_S else "MISSED")
    )
    checks = [c for s in sizes for c in s.checks]
    failed = [message for ok, message in checks if not ok]
    print(f"checks: {len(checks) - len(failed)} passed, {len(failed)} FAILED")
    for message in failed:
        print(f"  [FAIL] {message}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--national", type=int, default=200_000, help="0: the demo only")
    parser.add_argument("--runs", type=int, default=3)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
