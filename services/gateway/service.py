"""Gateway domain logic: clients, signing keys, token issuance, audit. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_, select, text, tuple_
from sqlalchemy.orm import Session

from services.gateway.crypto import (
    hash_secret,
    new_client_id,
    new_client_secret,
    verify_secret,
)
from services.gateway.errors import ClientNotFound, OAuthError, RotationPending
from services.gateway.models import AuditEvent, Client, SigningKey
from services.gateway.schemas import ClientCreate
from shared import clock
from shared.auth import jwt as tokens
from shared.auth.principal import ROLE_SCOPES
from shared.crypto import KeyEncryptor
from shared.errors import Unprocessable

# Transaction-scoped advisory lock that serialises signing-key creation and rotation.
ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(7263001)")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A signed access token and what it grants."""

    access_token: str
    expires_in: int
    scope: str


# ---------------------------------------------------------------- clients

BankExists = Callable[[Session, str], bool]
"""Whether a partner bank has this code. Loans owns the banks and no service reads loans, so
the composition roots hand the gateway `services.loans.products.bank_exists`."""


def require_known_bank(session: Session, data: ClientCreate, bank_exists: BankExists) -> None:
    """Refuse a bank client whose `bank_code` names no partner bank (422 naming the field): its
    token would pass every check and then see an empty world, which looks like a data problem.

    Credit firms have no registry here (a consent names its firm by code), so `firm_code` is
    checked only for its form.
    """
    require_bank(session, data.bank_code, bank_exists)


def require_bank(session: Session, bank_code: str | None, bank_exists: BankExists) -> None:
    """Refuse (422 naming `bank_code`) a code that names no partner bank; None passes."""
    if bank_code is None or bank_exists(session, bank_code):
        return
    msg = f"no partner bank has the code {bank_code!r} (GET /v1/loans/banks lists them)"
    raise Unprocessable(
        f"Unknown bank_code: {msg}",
        errors=[{"loc": ["body", "bank_code"], "msg": msg, "type": "unknown_bank"}],
    )


def create_client(session: Session, data: ClientCreate) -> tuple[Client, str]:
    """Create a client; return it with its plaintext secret (never stored)."""
    secret = new_client_secret()
    client = Client(
        client_id=new_client_id(),
        name=data.name,
        role=data.role,
        bank_code=data.bank_code,
        firm_code=data.firm_code,
        secret_hash=hash_secret(secret),
        enabled=True,
        rate_limit_per_minute=data.rate_limit_per_minute,
    )
    session.add(client)
    session.flush()
    session.refresh(client)
    return client, secret


def get_client(session: Session, client_id: str, *, for_update: bool = False) -> Client:
    """Return the client `client_id` or raise `ClientNotFound`."""
    stmt = select(Client).where(Client.client_id == client_id)
    if for_update:
        stmt = stmt.with_for_update()
    client = session.scalars(stmt).one_or_none()
    if client is None:
        raise ClientNotFound(f"No client {client_id!r}")
    return client


def list_clients(session: Session, *, after: str | None, limit: int) -> Sequence[Client]:
    """Return up to `limit + 1` clients ordered by id, after `after`."""
    stmt = select(Client).order_by(Client.client_id).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(Client.client_id > after)
    return session.scalars(stmt).all()


def rotate_client_secret(session: Session, client_id: str) -> tuple[Client, str]:
    """Replace a client's secret; the old one stops working at once."""
    client = get_client(session, client_id, for_update=True)
    secret = new_client_secret()
    client.secret_hash = hash_secret(secret)
    client.secret_rotated_at = clock.now()
    session.flush()
    return client, secret


def disable_client(session: Session, client_id: str) -> Client:
    """Disable a client: no new tokens, and its live tokens are refused within seconds."""
    client = get_client(session, client_id, for_update=True)
    if client.enabled:
        client.enabled = False
        client.disabled_at = clock.now()
        session.flush()
    return client


def has_admin_client(session: Session) -> bool:
    """Whether an enabled admin client exists."""
    stmt = select(Client.client_id).where(Client.role == "admin", Client.enabled).limit(1)
    return session.scalars(stmt).first() is not None


# ---------------------------------------------------------------- signing keys
#
# When a key signs (`activates_at` .. `retired_at`) and how long a retired key keeps verifying
# are read on `shared.clock`, like the tokens' own `iat`/`exp`, so a test sets the time of a
# rotation instead of waiting for it.


def signing_key(session: Session) -> SigningKey | None:
    """Return the key new tokens are signed with now (active, not yet retired)."""
    now = clock.now()
    stmt = (
        select(SigningKey)
        .where(SigningKey.activates_at <= now)
        .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > now))
        .order_by(SigningKey.activates_at.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def ensure_signing_key(session: Session, encryptor: KeyEncryptor) -> SigningKey:
    """Return the signing key, creating the first one (active at once) if there is none."""
    key = signing_key(session)
    if key is not None:
        return key
    # Serialise first-key creation across processes; the partial unique index backs this up.
    session.execute(ADVISORY_LOCK)
    key = signing_key(session)
    return key if key is not None else _insert_key(session, encryptor, activates_at=clock.now())


def rotate_key(
    session: Session, encryptor: KeyEncryptor, *, activation_delay_seconds: float
) -> tuple[SigningKey, SigningKey | None]:
    """Publish a new key that starts signing after `activation_delay_seconds`; return (new, old).

    The delay lets every verifier learn the new key (an unknown kid reloads the key set at most
    once per cooldown) before any token signed with it exists. The old key stops signing when
    the new one starts and keeps verifying until its last tokens expire.
    """
    session.execute(ADVISORY_LOCK)
    old = session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))).first()
    now = clock.now()
    switch_at = now + timedelta(seconds=activation_delay_seconds)
    if old is not None:
        if old.activates_at > now:
            raise RotationPending(
                f"Key {old.kid} is already waiting to start signing at {old.activates_at}"
            )
        old.retired_at = switch_at
    session.flush()
    # With no key before it, no verifier can be waiting to learn this one: it signs at once.
    new = _insert_key(session, encryptor, activates_at=switch_at if old is not None else now)
    return new, old


def verification_keys(session: Session, *, token_ttl_seconds: int) -> list[dict[str, Any]]:
    """Public JWKs of the active key and of retired keys whose tokens may still be live."""
    horizon = clock.now() - timedelta(seconds=token_ttl_seconds + tokens.LEEWAY_SECONDS)
    stmt = (
        select(SigningKey.public_jwk)
        .where((SigningKey.retired_at.is_(None)) | (SigningKey.retired_at > horizon))
        .order_by(SigningKey.activates_at.desc())
    )
    return [dict(jwk) for jwk in session.scalars(stmt)]


def list_keys(session: Session) -> Sequence[SigningKey]:
    """Every signing key, newest first."""
    return session.scalars(select(SigningKey).order_by(SigningKey.created_at.desc())).all()


def _insert_key(session: Session, encryptor: KeyEncryptor, *, activates_at: datetime) -> SigningKey:
    generated = tokens.generate_signing_key()
    key = SigningKey(
        kid=generated.kid,
        algorithm=tokens.ALGORITHM,
        public_jwk=generated.public_jwk,
        private_key_encrypted=encryptor.encrypt(generated.private_pem),
        activates_at=activates_at,
    )
    session.add(key)
    session.flush()
    session.refresh(key)
    return key


# ---------------------------------------------------------------- tokens


def authenticate_client(session: Session, client_id: str, secret: str) -> Client | None:
    """Return the enabled client whose id and secret match, else None (constant-time check)."""
    client = session.get(Client, client_id) if len(client_id) <= 40 else None
    ok = verify_secret(client.secret_hash if client is not None else None, secret)
    if client is None or not ok or not client.enabled:
        return None
    return client


def issue_token(
    session: Session,
    client: Client,
    *,
    requested_scope: str | None,
    encryptor: KeyEncryptor,
    issuer: str,
    audience: str,
    ttl_seconds: int,
) -> IssuedToken:
    """Sign an access token for `client` with the active key."""
    allowed = ROLE_SCOPES[client.role]
    if requested_scope is None or not requested_scope.strip():
        granted = allowed
    else:
        granted = frozenset(requested_scope.split())
        if not granted <= allowed:
            raise OAuthError(
                "invalid_scope",
                f"Scopes not available to role {client.role}: "
                + " ".join(sorted(granted - allowed)),
            )
    now = clock.now()
    scope = " ".join(sorted(granted))
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": client.client_id,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(now.timestamp()) + ttl_seconds,
        "jti": uuid.uuid4().hex,
        "scope": scope,
        "role": client.role,
    }
    if client.bank_code is not None:
        claims["bank_code"] = client.bank_code
    if client.firm_code is not None:
        claims["firm_code"] = client.firm_code
    token = sign_with_active_key(session, encryptor, claims)
    return IssuedToken(access_token=token, expires_in=ttl_seconds, scope=scope)


def sign_with_active_key(session: Session, encryptor: KeyEncryptor, claims: dict[str, Any]) -> str:
    """Sign `claims` with the key that signs now (the first one is created if there is none)."""
    key = ensure_signing_key(session, encryptor)
    return tokens.sign(claims, private_pem=_private_pem(key, encryptor), kid=key.kid)


_pem_cache: dict[str, bytes] = {}


def _private_pem(key: SigningKey, encryptor: KeyEncryptor) -> bytes:
    pem = _pem_cache.get(key.kid)
    if pem is None:
        pem = encryptor.decrypt(key.private_key_encrypted)
        _pem_cache[key.kid] = pem
    return pem


# ---------------------------------------------------------------- audit


def record_audit(
    session: Session,
    *,
    client_id: str | None,
    method: str,
    path: str,
    status: int,
    request_id: str | None,
    action: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit event."""
    session.execute(
        insert(AuditEvent).values(
            client_id=client_id,
            method=method,
            path=path[:2000],
            status=status,
            request_id=request_id,
            action=action[:100],
            detail=detail or {},
        )
    )


def list_audit(
    session: Session, *, since: datetime | None, after: tuple[datetime, int] | None, limit: int
) -> Sequence[AuditEvent]:
    """Audit events from `since` on, oldest first, keyset-paged by (at, id)."""
    stmt = select(AuditEvent)
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= since)
    if after is not None:
        stmt = stmt.where(tuple_(AuditEvent.at, AuditEvent.id) > tuple_(*after))
    stmt = stmt.order_by(AuditEvent.at, AuditEvent.id).limit(limit + 1)
    return session.scalars(stmt).all()
