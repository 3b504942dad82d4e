"""Signatures: the spec's vector, the library's verify, rotation, why we sign by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from services.loans.webhooks.signing import secret_bytes, sign, signature_header

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
BODY = b'{"test": 2432232314}'
SHANGHAI_OFFSET = timezone(timedelta(hours=8))


def test_the_specifications_vector() -> None:
    at = datetime.fromtimestamp(1614265330, UTC)
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret_bytes(SECRET), MSG_ID, at, BODY) == expected
    # The same instant written in another zone signs the same.
    assert sign(secret_bytes(SECRET), MSG_ID, at.astimezone(SHANGHAI_OFFSET), BODY) == expected


def _headers(signature: str, at: datetime) -> dict[str, str]:
    return {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def test_the_library_verifies_ours_at_any_offset_where_its_own_sign_fails() -> None:
    at = datetime.now(UTC).astimezone(SHANGHAI_OFFSET)
    ours = sign(secret_bytes(SECRET), MSG_ID, at, BODY)
    assert Webhook(SECRET).verify(BODY, _headers(ours, at)) == json.loads(BODY)
    theirs = Webhook(SECRET).sign(MSG_ID, at, BODY.decode())
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(BODY, _headers(theirs, at))


def test_during_a_rotation_both_secrets_verify_and_after_it_only_the_new() -> None:
    old, new = SECRET, "whsec_" + "A" * 43 + "="
    at = datetime.now(UTC)
    both = signature_header(secret_bytes(new), secret_bytes(old), MSG_ID, at, BODY)
    assert len(both.split(" ")) == 2
    Webhook(old).verify(BODY, _headers(both, at))
    Webhook(new).verify(BODY, _headers(both, at))
    only_new = signature_header(secret_bytes(new), None, MSG_ID, at, BODY)
    Webhook(new).verify(BODY, _headers(only_new, at))
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(BODY, _headers(only_new, at))


def test_a_naive_time_or_a_foreign_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        sign(b"k", MSG_ID, datetime(2026, 1, 1), BODY)
    with pytest.raises(ValueError, match="whsec_"):
        secret_bytes("sk_abc")
