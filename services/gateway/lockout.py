"""A sign-in attempt: the per-user lockout and the per-address limit, decided in PostgreSQL so
every gateway process agrees.

Per user: `INNOCREDIT_SIGN_IN_MAX_FAILURES` (5) attempts in a row that do not succeed lock the
user for `INNOCREDIT_SIGN_IN_LOCK_SECONDS` (15 min). An attempt first *reserves* its place
in one UPDATE — `failed_count + 1`, and the lock set by the attempt that takes the last place
— and only then runs argon2 (in the caller's worker thread, never on the event loop); a
success puts the count back to 0 and lifts the lock. So however many wrong passwords arrive
at once, at most the limit of them are ever checked, the lock is set once, and a locked user
costs no argon2 work at all. A process that dies mid-check leaves its place counted as a
failure, and a lock always has an end (never a user locked for good by a crash).

Per address: `INNOCREDIT_SIGN_IN_IP_MAX_FAILURES` (20) refused sign-ins from one address in
`INNOCREDIT_SIGN_IN_IP_WINDOW_SECONDS` (15 min) refuse it with 429 until the oldest of them
ages out — against guessing one common password across many names, which the per-user lock
never sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import DateTime, case, delete, insert, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.crypto import hash_secret, needs_rehash, verify_secret
from services.gateway.models import SignInFailure, User


@dataclass(frozen=True, slots=True)
class Limits:
    """The lockout's and the per-address limit's settings."""

    max_failures: int
    lock_seconds: int
    ip_max_failures: int
    ip_window_seconds: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an attempt ended. `reason` (None on success) goes to the audit trail, never to the
    person signing in: they are told the same for every refusal."""

    user_id: int | None
    reason: str | None
    locked_now: bool = False  # this attempt took the last place and set the lock
    checked: bool = False  # argon2 ran

    @property
    def ok(self) -> bool:
        """Whether the name and password matched an enabled, unlocked user."""
        return self.reason is None


def address_retry_after(session: Session, ip: str, *, now: datetime, limits: Limits) -> int | None:
    """Seconds until address `ip` may try again, or None when it is under its limit: when it
    has `ip_max_failures` refusals in the window, the newest `ip_max_failures`-th of them must
    age out first."""
    window = timedelta(seconds=limits.ip_window_seconds)
    oldest_that_counts = session.scalar(
        select(SignInFailure.at)
        .where(SignInFailure.ip == ip, SignInFailure.at > now - window)
        .order_by(SignInFailure.at.desc())
        .offset(limits.ip_max_failures - 1)
        .limit(1)
    )
    if oldest_that_counts is None:
        return None
    return max(1, int((oldest_that_counts + window - now).total_seconds() + 0.999))


def record_address_failure(session: Session, ip: str, *, now: datetime, limits: Limits) -> None:
    """Count a refused sign-in against `ip`, and forget refusals older than the window."""
    session.execute(
        delete(SignInFailure).where(
            SignInFailure.at <= now - timedelta(seconds=limits.ip_window_seconds)
        )
    )
    session.execute(insert(SignInFailure).values(ip=ip[:64], at=now))


def attempt(
    factory: sessionmaker[Session], name: str, password: str, *, now: datetime, limits: Limits
) -> Outcome:
    """Check `name` and `password` (blocking: argon2 runs here; call it from a worker thread).

    Two short transactions: the reservation, committed before argon2 runs so that concurrent
    attempts see it, and on success the reset."""
    with factory.begin() as session:
        reserved = _reserve(session, name, now=now, limits=limits)
        if reserved is None:
            known = session.execute(
                select(User.id, User.disabled, User.password_hash).where(User.name == name)
            ).one_or_none()
    if reserved is None:
        if known is None:
            verify_secret(None, password)  # as long as a wrong password takes
            return Outcome(None, "unknown-user", checked=True)
        if known.disabled:
            verify_secret(None, password)
            return Outcome(known.id, "disabled", checked=True)
        return Outcome(known.id, "locked")
    user_id, stored, locks = reserved
    if not verify_secret(stored, password):
        return Outcome(user_id, "wrong-password", locked_now=locks, checked=True)
    with factory.begin() as session:
        values: dict[str, object] = {"failed_count": 0, "locked_until": None}
        if needs_rehash(stored):
            values["password_hash"] = hash_secret(password)
        # Only the hash just verified: a password changed meanwhile is not overwritten.
        session.execute(
            update(User).where(User.id == user_id, User.password_hash == stored).values(**values)
        )
    return Outcome(user_id, None, checked=True)


def _reserve(
    session: Session, name: str, *, now: datetime, limits: Limits
) -> tuple[int, str, bool] | None:
    """Take the next place of an enabled, unlocked user in one UPDATE: `failed_count + 1`
    (1 when a lock has run out), and when that reaches the limit, the lock. None when there
    is no such user, or it is disabled or locked — no argon2 work for those."""
    lock_over = User.locked_until <= now
    count = case((lock_over, literal(1)), else_=User.failed_count + 1)
    locks = count >= limits.max_failures
    until = literal(now + timedelta(seconds=limits.lock_seconds), DateTime(timezone=True))
    row = session.execute(
        update(User)
        .where(
            User.name == name,
            User.disabled.is_(False),
            User.locked_until.is_(None) | lock_over,
        )
        .values(
            failed_count=count,
            locked_until=case((locks, until), else_=None),
        )
        .returning(User.id, User.password_hash, User.locked_until.is_not(None))
    ).one_or_none()
    if row is None:
        return None
    return int(row[0]), str(row[1]), bool(row[2])
