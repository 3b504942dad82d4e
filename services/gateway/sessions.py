"""Sign-in sessions: an opaque random token in the browser's cookie, its SHA-256 in the database.

The token is 256 random bits (`secrets.token_urlsafe(32)`), so a plain SHA-256 is enough to
keep a stolen copy of `gw_user_session` from signing anyone in, and it is looked up by an
index in one query (argon2 here would cost a quarter second per page call for nothing). A
session ends at its absolute expiry (`INNOCREDIT_SESSION_ABSOLUTE_SECONDS`, 8 h: a working
day) or after `INNOCREDIT_SESSION_IDLE_SECONDS` (30 min) without use, whichever is first;
`last_seen_at` is written at most once a minute, so a busy page is not a write per call.
Times are `shared.clock.now()`, passed in, so tests move the clock instead of waiting.
Never commits.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from services.gateway.models import User, UserSession

COOKIE_NAME = "innocredit_session"
COOKIE_PATH = "/dashboard"
TOUCH_EVERY = timedelta(minutes=1)
USER_SUBJECT_PREFIX = "user:"
MAX_TOKEN_LENGTH = 100


def user_subject(user_id: int) -> str:
    """A user's token subject (`sub`): `user:<id>`, never an API client's id (`ic_…`)."""
    return f"{USER_SUBJECT_PREFIX}{user_id}"


def user_id_of(subject: str) -> int | None:
    """The user id a `user:<id>` subject names, or None for any other subject."""
    if not subject.startswith(USER_SUBJECT_PREFIX):
        return None
    digits = subject[len(USER_SUBJECT_PREFIX) :]
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 19 else None


def token_hash(token: str) -> bytes:
    """What the database keeps of a session token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session and its user, as a request under /dashboard finds them."""

    session_id: uuid.UUID
    user_id: int
    name: str
    role: str
    bank_code: str | None


def start(
    session: Session,
    user_id: int,
    *,
    now: datetime,
    absolute_seconds: int,
    ip: str | None,
    user_agent: str | None,
) -> tuple[str, uuid.UUID]:
    """Open a session for the user; return its token (for the cookie only) and its id.

    A fresh token at every sign-in: a token planted in the browser before (session fixation)
    signs nobody in. The user's expired sessions are swept here, so the table holds live ones.
    """
    session.execute(
        delete(UserSession).where(UserSession.user_id == user_id, UserSession.expires_at <= now)
    )
    token = secrets.token_urlsafe(32)
    sid = uuid.uuid4()
    session.add(
        UserSession(
            id=sid,
            user_id=user_id,
            token_hash=token_hash(token),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=absolute_seconds),
            ip=ip[:64] if ip else None,
            user_agent=user_agent[:300] if user_agent else None,
        )
    )
    session.flush()
    return token, sid


def _of_token(session: Session, token: str | None) -> tuple[UserSession, User] | None:
    """The session a cookie's token names and its user, whatever their state."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == token_hash(token))
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def find(
    session: Session, token: str | None, *, now: datetime, idle_seconds: int
) -> SignedIn | None:
    """The live session of a cookie's token and its (enabled) user, or None.

    An expired or idle session found this way is deleted; a live one not seen for a minute
    has `last_seen_at` moved to now."""
    row = _of_token(session, token)
    if row is None:
        return None
    found, user = row
    idle_since = now - timedelta(seconds=idle_seconds)
    if found.expires_at <= now or found.last_seen_at <= idle_since or user.disabled:
        session.execute(delete(UserSession).where(UserSession.id == found.id))
        return None
    if now - found.last_seen_at >= TOUCH_EVERY:
        session.execute(
            update(UserSession).where(UserSession.id == found.id).values(last_seen_at=now)
        )
    return SignedIn(found.id, user.id, user.name, user.role, user.bank_code)


def end(session: Session, token: str | None) -> SignedIn | None:
    """Delete the session of a cookie's token (sign-out); return whose it was, if any."""
    row = _of_token(session, token)
    if row is None:
        return None
    found, user = row
    session.execute(delete(UserSession).where(UserSession.id == found.id))
    return SignedIn(found.id, user.id, user.name, user.role, user.bank_code)


def is_live(
    session: Session, user_id: int, session_id: uuid.UUID, *, now: datetime, idle_seconds: int
) -> bool:
    """Whether a page token's session still stands: its user enabled, the session neither
    ended (signed out, password changed, user disabled) nor expired nor idle."""
    live = session.execute(
        select(UserSession.id)
        .join(User, User.id == UserSession.user_id)
        .where(
            UserSession.id == session_id,
            UserSession.user_id == user_id,
            UserSession.expires_at > now,
            UserSession.last_seen_at > now - timedelta(seconds=idle_seconds),
            User.disabled.is_(False),
        )
    ).first()
    return live is not None
