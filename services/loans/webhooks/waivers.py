"""The ranking watcher: `enterprise.waiver_changed` for every ranking run that moved firms
into or out of the top 100.

Scoring may not import loans, so a recompute cannot emit; the watcher reads what it
committed instead. Every run's points are kept (migration 0013), so each new run of a period
is compared with the run last processed (`loan_webhook_ranking`), in order, none missed
however many ran between two ticks; a rolled-back recompute left no run and emits nothing.
For each firm that entered or left, each bank with an open application of it (submitted or
approved) gets one event listing its applications. One worker at a time (an advisory lock);
the period's row is locked while its run is processed, and recorded in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from services.guarantee import queries as guarantee
from services.loans.models import Application
from services.loans.status import Status
from services.loans.webhooks import outbox
from services.loans.webhooks.models import RankingSeen
from services.loans.webhooks.payloads import PreviousWaiver
from services.scoring import queries as scoring
from shared.vocab import WAIVER_TOP

LOCK_KEY = (7263006, 1)
OPEN = (Status.SUBMITTED, Status.APPROVED)
"""An application a waiver change concerns: not yet decided, or approved and not disbursed."""

_LOCK = text("SELECT pg_try_advisory_xact_lock(:a, :b)")
_JUST_BEFORE = timedelta(microseconds=1)


def watch(session: Session) -> int:
    """Process every ranking run not yet seen; the events written (0 when another worker
    holds the lock)."""
    if not session.execute(_LOCK, dict(zip("ab", LOCK_KEY, strict=True))).scalar_one():
        return 0
    seen = {row.period: row for row in session.scalars(select(RankingSeen).with_for_update())}
    emitted = 0
    for run in scoring.ranking_runs(session, {p: row.run_id for p, row in seen.items()}):
        top = scoring.run_top(session, run.id, WAIVER_TOP)
        row = seen.get(run.period)
        before = [] if row is None else row.top
        changed = set(top).symmetric_difference(before)
        emitted += _emit(session, sorted(changed), run)
        if row is None:
            row = seen[run.period] = RankingSeen(period=run.period)
            session.add(row)
        row.run_id, row.top, row.seen_at = run.id, top, run.finished_at
        session.flush()
    return emitted


def _emit(session: Session, usccs: list[str], run: scoring.FinishedRun) -> int:
    if not usccs:
        return 0
    apps = session.scalars(
        select(Application)
        .where(Application.uscc.in_(usccs), Application.status.in_(OPEN))
        .order_by(Application.uscc, Application.bank_code, Application.id)
    )
    grouped: dict[tuple[str, str], list[Application]] = defaultdict(list)
    for app in apps:
        grouped[(app.uscc, app.bank_code)].append(app)
    year = run.period + 1
    emitted = 0
    waivers: dict[str, tuple[guarantee.WaiverOut, PreviousWaiver]] = {}
    for (uscc, _bank), of_bank in grouped.items():
        if uscc not in waivers:
            # The waiver by this run, and as it stood just before it (by the run it replaced).
            now = guarantee.waiver_out(session, uscc, year, at=run.finished_at)
            was = guarantee.waiver_out(session, uscc, year, at=run.finished_at - _JUST_BEFORE)
            rank = was.basis.rank if was.basis else None
            waivers[uscc] = (now, PreviousWaiver(waived=was.waived, reason=was.reason, rank=rank))
        waiver, previous = waivers[uscc]
        if outbox.emit_waiver(session, of_bank, waiver, previous, occurred_at=run.finished_at):
            emitted += 1
    return emitted
