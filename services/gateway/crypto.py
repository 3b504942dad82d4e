"""Secrets at rest that are only verified: client-secret and password hashing (argon2id).
Signing keys, which are read back, are encrypted with shared/crypto.py."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
# Verified against when the client id is unknown, so that a miss costs as long as a hit.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(32))


def new_client_id() -> str:
    """Return a new, unguessable client id."""
    return "ic_" + secrets.token_hex(12)


def new_client_secret() -> str:
    """Return a new client secret (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Hash a client secret for storage."""
    return _hasher.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """Check `secret` against `stored_hash` in constant time; no hash still costs a verify."""
    try:
        ok = _hasher.verify(stored_hash or _DUMMY_HASH, secret)
    except (VerificationError, InvalidHashError):
        return False
    return ok and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    """Whether a hash was made with other parameters than today's (rehash after a verify)."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True
