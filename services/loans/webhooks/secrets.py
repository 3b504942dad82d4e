"""Webhook signing secrets: made here, shown once, kept sealed under the key-encryption key.

A secret is `whsec_` + base64 of 32 random bytes (Standard Webhooks: 24 to 64 bytes); the
HMAC key is the decoded bytes. Only the sealed bytes are stored; `unseal` needs the same
INNOCREDIT_KEY_ENCRYPTION_KEY (else `shared.crypto.KeyDecryptionError`)."""

from __future__ import annotations

import base64
import secrets

from shared.crypto import KeyEncryptor

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> bytes:
    """Return the raw bytes of a new signing secret."""
    return secrets.token_bytes(SECRET_BYTES)


def shown(raw: bytes) -> str:
    """The secret as the endpoint's owner is given it (and as receivers' libraries take it)."""
    return PREFIX + base64.b64encode(raw).decode()


def seal(encryptor: KeyEncryptor, raw: bytes) -> bytes:
    """The secret as stored."""
    return encryptor.encrypt(raw)


def unseal(encryptor: KeyEncryptor, sealed: bytes) -> bytes:
    """The raw secret bytes back from storage (the HMAC key)."""
    return encryptor.decrypt(sealed)
