"""Standard Webhooks signatures, computed here rather than by the `standardwebhooks` library.

The library's `Webhook.sign` reads an aware datetime with `replace(tzinfo=utc)`, which
relabels a `+08:00` time as UTC and signs a timestamp 8 hours off (standard-webhooks issue
#251); its `verify` is right, and every test verifies our signatures with it. Signing by
hand also gives rotation its two signatures in one header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

SECRET_PREFIX = "whsec_"  # noqa: S105  (a prefix, not a secret)


def timestamp(at: datetime) -> int:
    """The `webhook-timestamp` of the aware datetime `at` (any zone): whole Unix seconds."""
    if at.tzinfo is None:
        raise ValueError("a webhook timestamp needs an aware datetime")
    return int(at.timestamp())


def sign(secret: bytes, msg_id: str, at: datetime, body: bytes) -> str:
    """One `v1,<base64>` signature: HMAC-SHA256 of `id.timestamp.body` with the raw secret."""
    signed = f"{msg_id}.{timestamp(at)}.".encode() + body
    digest = hmac.new(secret, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(
    secret: bytes, previous: bytes | None, msg_id: str, at: datetime, body: bytes
) -> str:
    """The `webhook-signature` header: the current secret's signature, then, during a
    rotation's overlap (the caller passes `previous` only then), the previous secret's, space
    separated, so a receiver still holding the old secret verifies too."""
    signatures = [sign(secret, msg_id, at, body)]
    if previous is not None:
        signatures.append(sign(previous, msg_id, at, body))
    return " ".join(signatures)


def secret_bytes(secret: str) -> bytes:
    """The raw key of a `whsec_<base64>` secret, as a receiver's library decodes it."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
