"""What the statistics' rollup costs the writes: part (c) of `bench/loans.py`.

The rollup (`services/loans/stats_rollup.py`) is kept by statement-level triggers on
`loan_application`, in the writing transaction. Two measurements, on rows copied from an
application already in the table (so the same columns, a new id):

``cost``: one connection, one transaction rolled back at the end: single-row INSERTs and
single-row UPDATEs (a decision: status, decided_at, decision days) timed each, in blocks
alternating with the rollup's triggers enabled and disabled (`ALTER TABLE ... DISABLE
TRIGGER`, undone by the rollback); the medians per statement.

``contention``: `concurrency` threads, each on its own connection, for `seconds` per mode,
loop over the shortest transaction a submission could be: INSERT one application, INSERT its
event, COMMIT. Modes: ``off`` (the triggers disabled: no rollup), ``spread`` (triggers on,
each thread on its own product, so no rollup row is shared) and ``hot`` (triggers on, every
thread on the same product and day: every transaction updates the same four rollup rows and
waits for the one before it to commit). Transactions per second and their latency. The rows
are deleted after each mode (with the triggers as they were when the rows were written) and
the rollup is checked against the bare aggregate of the day's applications.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from bench._common import median, percentile

# The day rollup's and the decision days' histogram's (migration 0011): both are the rollup.
TRIGGERS = tuple(
    f"{table}_{event}"
    for table in ("loan_stats_day", "loan_stats_decision_days")
    for event in ("inserted", "updated", "deleted")
)
MARK = "bench-rollup"  # created_by of the rows written here
DAY = "2026-12-02"  # a day with applications in the generated rows
MODES = ("off", "spread", "hot")

_CHECK = """
    SELECT (SELECT coalesce(sum(applications), 0) FROM loan_stats_day
            WHERE dimension = 'none' AND day = %(day)s)
         = (SELECT count(*) FROM loan_application WHERE submitted_date = %(day)s)
"""


@dataclass(slots=True)
class RollupResult:
    """Part (c): per-statement costs and the throughput per mode."""

    insert_ms: dict[bool, list[float]] = field(default_factory=lambda: {True: [], False: []})
    update_ms: dict[bool, list[float]] = field(default_factory=lambda: {True: [], False: []})
    commits: dict[str, int] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    concurrency: int = 0
    problems: list[str] = field(default_factory=list)


def _copy_sql(conn: psycopg.Connection[Any]) -> sql.Composed:
    """INSERT of a copy of application %(template)s with a new id, product, bank and day."""
    columns = [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'loan_application' ORDER BY ordinal_position"
        )
    ]
    given: dict[str, sql.Composable] = {
        "id": sql.Placeholder("id"),
        "product_code": sql.Placeholder("product"),
        "bank_code": sql.Placeholder("bank"),
        "submitted_date": sql.SQL("{}::date").format(sql.Placeholder("day")),
        "created_by": sql.Literal(MARK),
    }
    values = [given.get(c, sql.Identifier(c)) for c in columns]
    return sql.SQL(
        "INSERT INTO loan_application ({}) SELECT {} FROM loan_application WHERE id = %(template)s"
    ).format(sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(values))


def _triggers(conn: psycopg.Connection[Any], enabled: bool) -> None:
    verb = "ENABLE" if enabled else "DISABLE"
    for name in TRIGGERS:
        conn.execute(
            sql.SQL("ALTER TABLE loan_application {} TRIGGER {}").format(
                sql.SQL(verb), sql.Identifier(name)
            )
        )


def _timed(conn: psycopg.Connection[Any], statement: Any, params: dict[str, Any]) -> float:
    started = time.perf_counter()
    conn.execute(statement, params)
    return (time.perf_counter() - started) * 1000


_DECIDE = (
    "UPDATE loan_application SET status = 'rejected', decided_at = submitted_at + "
    "interval '1 day', decision_working_days = 1, on_time = true WHERE id = %(id)s"
)


def measure_cost(url: str, result: RollupResult, runs: int) -> None:
    """Single-row INSERT and UPDATE with and without the triggers, in one rolled-back
    transaction (blocks of 10, alternating)."""
    with psycopg.connect(url) as conn:
        conn.prepare_threshold = None
        template, product, bank = _template(conn)
        insert = _copy_sql(conn)
        for block in range(2 * max(1, runs // 10)):
            enabled = block % 2 == 0
            _triggers(conn, enabled)
            for _ in range(10):
                params = {
                    "id": uuid.uuid4(),
                    "product": product,
                    "bank": bank,
                    "day": DAY,
                    "template": template,
                }
                result.insert_ms[enabled].append(_timed(conn, insert, params))
                result.update_ms[enabled].append(_timed(conn, _DECIDE, params))
        conn.rollback()


def _template(conn: psycopg.Connection[Any]) -> tuple[uuid.UUID, str, str]:
    row = conn.execute(
        "SELECT id, product_code, bank_code FROM loan_application "
        "WHERE status = 'submitted' AND created_by <> %s LIMIT 1",
        (MARK,),
    ).fetchone()
    if row is None:
        raise RuntimeError("no application to copy")
    return row[0], row[1], row[2]


@contextmanager
def _mode(url: str, mode: str) -> Iterator[None]:
    """The triggers as the mode wants them while it runs and while its rows are deleted."""
    with psycopg.connect(url, autocommit=True) as conn:
        if mode == "off":
            _triggers(conn, False)
        try:
            yield
            conn.execute(
                "DELETE FROM loan_application_event WHERE actor = %s", (MARK,)
            )  # no trigger there
            conn.execute("DELETE FROM loan_application WHERE created_by = %s", (MARK,))
        finally:
            _triggers(conn, True)


def measure_contention(url: str, result: RollupResult, concurrency: int, seconds: float) -> None:
    """`concurrency` threads writing one application and its event per transaction, per mode."""
    with psycopg.connect(url) as conn:
        template, _, _ = _template(conn)
        insert = _copy_sql(conn)
        products = [
            (r[0], r[1])
            for r in conn.execute("SELECT code, bank_code FROM loan_product ORDER BY code")
        ]
    result.seconds, result.concurrency = seconds, concurrency
    for mode in MODES:
        with _mode(url, mode):
            chosen = [
                products[0] if mode == "hot" else products[n % len(products)]
                for n in range(concurrency)
            ]
            latencies, errors = _writers(url, insert, template, chosen, seconds)
        result.commits[mode] = len(latencies)
        result.latencies[mode] = sorted(latencies)
        result.errors[mode] = errors
        with psycopg.connect(url) as conn:
            row = conn.execute(_CHECK, {"day": DAY}).fetchone()
            if not row or not row[0]:
                result.problems.append(f"rollup of {DAY} differs from its rows after {mode}")
        if errors:
            result.problems.append(f"contention {mode}: {errors} failed transactions")


def _writers(
    url: str,
    insert: sql.Composed,
    template: uuid.UUID,
    products: list[tuple[str, str]],
    seconds: float,
) -> tuple[list[float], int]:
    """One thread per (product, bank) in `products`, each committing application + event in
    a loop until the deadline; (every transaction's latency in ms, failed transactions)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def work(product: str, bank: str) -> None:
        mine: list[float] = []
        failed = 0
        with psycopg.connect(url) as c:
            while time.perf_counter() < deadline:
                app_id = uuid.uuid4()
                started = time.perf_counter()
                try:
                    c.execute(
                        insert,
                        {
                            "id": app_id,
                            "product": product,
                            "bank": bank,
                            "day": DAY,
                            "template": template,
                        },
                    )
                    c.execute(
                        "INSERT INTO loan_application_event (application_id, type, "
                        "to_status, actor) VALUES (%s, 'submitted', 'submitted', %s)",
                        (app_id, MARK),
                    )
                    c.commit()
                except psycopg.Error:
                    c.rollback()
                    failed += 1
                    continue
                mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=work, args=p) for p in products]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0]


def report(result: RollupResult) -> list[str]:
    """Part (c)'s lines."""
    on_i, off_i = median(result.insert_ms[True]), median(result.insert_ms[False])
    on_u, off_u = median(result.update_ms[True]), median(result.update_ms[False])
    lines = [
        f"(c) the rollup's triggers: single-row statements, median of {len(result.insert_ms[True])}"
        " each way",
        f"  INSERT one application: {on_i:.3f} ms with the rollup, {off_i:.3f} ms without "
        f"(+{on_i - off_i:.3f} ms)",
        f"  UPDATE one (a decision): {on_u:.3f} ms with the rollup, {off_u:.3f} ms without "
        f"(+{on_u - off_u:.3f} ms)",
        f"  INSERT + event + COMMIT at {result.concurrency} threads for {result.seconds:.0f} s "
        "each:",
    ]
    for mode in MODES:
        lat = result.latencies.get(mode, [])
        rate = result.commits.get(mode, 0) / result.seconds if result.seconds else 0.0
        lines.append(
            f"    {mode:<6} {rate:8.0f} tx/s  p50 {percentile(lat, 0.5):6.2f} ms  "
            f"p99 {percentile(lat, 0.99):6.2f} ms  errors {result.errors.get(mode, 0)}"
        )
    lines.append(
        "  off: no rollup; spread: the rollup, each thread its own product (no shared row);"
    )
    lines.append("  hot: the rollup, every thread the same product and day (one row set, serial)")
    return lines
