"""The dashboard's users: accounts, the password rule, and what ends a user's sessions.

A user is a person (the bureau's staff, or a bank's, tied to its bank), not an API client: they
sign in with a name and a password (services/gateway/signin.py) and the page calls `/v1` with
a short-lived token minted for their session. Passwords are argon2id hashes
(services/gateway/crypto.py). Disabling a user or changing their password deletes their
sessions, so the cookies stop working at once and the page's tokens within the client cache's
seconds (services/gateway/directory.py). Never commits.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.gateway.crypto import hash_secret, new_client_secret
from services.gateway.errors import UserNameTaken, UserNotFound
from services.gateway.models import User, UserSession
from services.gateway.schemas import UserCreate
from services.gateway.service import BankExists, require_bank
from shared import clock
from shared.errors import Unprocessable

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
MIN_DISTINCT_CHARACTERS = 5
MIN_NAME_IN_PASSWORD = 4
PASSWORD_RULE = (
    f"{MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters, at least "
    f"{MIN_DISTINCT_CHARACTERS} of them different, and not containing the user's name (when "
    f"it has {MIN_NAME_IN_PASSWORD} characters or more)"
)


def password_problem(password: str, name: str) -> str | None:
    """What breaks the password rule (`PASSWORD_RULE`), or None when `password` keeps it.

    Length is what makes a password hard to guess, so the rule asks for length and nothing
    fancier (NIST SP 800-63B §3.1.1.2); the distinct characters and the name stop the obvious
    `aaaaaaaaaaaa` and `zhangwei2026!`."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"shorter than {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"longer than {MAX_PASSWORD_LENGTH} characters"
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        return f"fewer than {MIN_DISTINCT_CHARACTERS} different characters"
    if len(name) >= MIN_NAME_IN_PASSWORD and name.casefold() in password.casefold():
        return "contains the user's name"
    return None


def require_good_password(password: str, name: str) -> None:
    """Refuse (422 naming `password`) a password that breaks the rule."""
    problem = password_problem(password, name)
    if problem is None:
        return
    msg = f"the password is {problem}; the rule: {PASSWORD_RULE}"
    raise Unprocessable(
        f"Weak password: {msg}",
        errors=[{"loc": ["body", "password"], "msg": msg, "type": "weak_password"}],
    )


def new_password(name: str) -> str:
    """A generated password for user `name` (32 URL-safe characters, 192 bits) that keeps the
    rule: for the demo and `innocredit users … --generate-password`."""
    while True:
        password = new_client_secret()[:32]
        if password_problem(password, name) is None:
            return password


def create_user(session: Session, data: UserCreate, bank_exists: BankExists) -> User:
    """Create a user: its bank must exist (422), its name be free (409), its password keep
    the rule (422)."""
    require_bank(session, data.bank_code, bank_exists)
    require_good_password(data.password, data.name)
    row = session.execute(
        insert(User)
        .values(
            name=data.name,
            role=data.role,
            bank_code=data.bank_code,
            password_hash=hash_secret(data.password),
        )
        .on_conflict_do_nothing(index_elements=[User.name])
        .returning(User.id)
    ).scalar_one_or_none()
    if row is None:
        raise UserNameTaken(f"A user named {data.name!r} exists already")
    return get_user(session, row)


def get_user(session: Session, user_id: int, *, for_update: bool = False) -> User:
    """The user `user_id`, or `UserNotFound`."""
    stmt = select(User).where(User.id == user_id).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    user = session.scalars(stmt).one_or_none()
    if user is None:
        raise UserNotFound(f"No user {user_id}")
    return user


def user_named(session: Session, name: str, *, for_update: bool = False) -> User:
    """The user called `name`, or `UserNotFound` (the CLI names users by name)."""
    stmt = select(User).where(User.name == name)
    if for_update:
        stmt = stmt.with_for_update()
    user = session.scalars(stmt).one_or_none()
    if user is None:
        raise UserNotFound(f"No user named {name!r}")
    return user


def list_users(session: Session, *, after: int | None, limit: int) -> Sequence[User]:
    """Up to `limit + 1` users ordered by id, after `after`."""
    stmt = select(User).order_by(User.id).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(User.id > after)
    return session.scalars(stmt).all()


def end_sessions(session: Session, user_id: int) -> int:
    """Delete every session of the user; return how many there were."""
    result = session.execute(delete(UserSession).where(UserSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def disable_user(session: Session, user_id: int) -> User:
    """Disable a user and end their sessions (a disabled user cannot sign in)."""
    user = get_user(session, user_id, for_update=True)
    user.disabled = True
    end_sessions(session, user.id)
    session.flush()
    return user


def unlock_user(session: Session, user_id: int) -> User:
    """Lift a lockout: the count of failed sign-ins starts again at zero."""
    session.execute(
        update(User).where(User.id == user_id).values(failed_count=0, locked_until=None)
    )
    return get_user(session, user_id)


def set_password(session: Session, user_id: int, password: str) -> User:
    """Give a user a new password (the rule applies), end their sessions and lift a lockout:
    whoever knows the new password may sign in at once."""
    user = get_user(session, user_id, for_update=True)
    require_good_password(password, user.name)
    user.password_hash = hash_secret(password)
    user.password_changed_at = clock.now()
    user.failed_count = 0
    user.locked_until = None
    end_sessions(session, user.id)
    session.flush()
    return user
