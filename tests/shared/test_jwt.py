"""RFC 8725 attacks on token verification: every one is an `InvalidToken`, never a crash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from shared.auth.jwt import (
    LEEWAY_SECONDS,
    InvalidToken,
    KeySet,
    KeysUnavailableError,
    SigningKey,
    TokenVerifier,
    generate_signing_key,
    sign,
)
from shared.clock import frozen_at, monotonic

ISS, AUD = "https://issuer.test/", "innocredit-api"
KEY = generate_signing_key()
OTHER = generate_signing_key()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISS,
        "aud": AUD,
        "sub": "ic_test",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j1",
        "scope": "scoring:read loans:read",
        "role": "bank",
        "bank_code": "TZB",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def verifier(*keys: SigningKey, cooldown: float = 30.0) -> TokenVerifier:
    key_set = KeySet(lambda: [k.public_jwk for k in keys], unknown_kid_cooldown_seconds=cooldown)
    return TokenVerifier(key_set, issuer=ISS, audience=AUD)


def good(**overrides: Any) -> str:
    return sign(claims(**overrides), private_pem=KEY.private_pem, kid=KEY.kid)


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    h = _b64(json.dumps(header).encode())
    p = _b64(json.dumps(payload).encode())
    return f"{h}.{p}.{_b64(signature)}"


def hs256(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    h = _b64(json.dumps(header).encode())
    p = _b64(json.dumps(payload).encode())
    sig = hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{_b64(sig)}"


def public_bytes(encoding: serialization.Encoding) -> bytes:
    private = load_pem_private_key(KEY.private_pem, password=None)
    return private.public_key().public_bytes(
        encoding, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_a_good_token_yields_its_principal() -> None:
    principal = verifier(KEY).verify(good())
    assert principal.client_id == "ic_test"
    assert principal.bank_code == "TZB"
    assert principal.scopes == {"scoring:read", "loans:read"}


ATTACKS: dict[str, Any] = {
    "expired": lambda: good(iat=int(time.time()) - 3600, nbf=None, exp=int(time.time()) - 60),
    "tampered payload": lambda: (
        lambda t: ".".join(
            [
                t.split(".")[0],
                _b64(json.dumps(claims(role="admin", scope="admin")).encode()),
                t.split(".")[2],
            ]
        )
    )(good()),
    "tampered signature": lambda: good()[:-4] + ("AAAA" if not good().endswith("AAAA") else "BBBB"),
    "alg none": lambda: unsigned({"alg": "none", "kid": KEY.kid}, claims()),
    "alg None": lambda: unsigned({"alg": "None", "kid": KEY.kid}, claims()),
    "alg missing": lambda: unsigned({"kid": KEY.kid}, claims()),
    "HS256 with public key PEM": lambda: hs256(
        {"alg": "HS256", "kid": KEY.kid, "typ": "JWT"},
        claims(),
        public_bytes(serialization.Encoding.PEM),
    ),
    "HS256 with public key DER": lambda: hs256(
        {"alg": "HS256", "kid": KEY.kid, "typ": "JWT"},
        claims(),
        public_bytes(serialization.Encoding.DER),
    ),
    "RS256 by another key under our kid": lambda: sign(
        claims(), private_pem=OTHER.private_pem, kid=KEY.kid
    ),
    "unknown kid": lambda: sign(claims(), private_pem=OTHER.private_pem, kid=OTHER.kid),
    "no kid": lambda: unsigned({"alg": "RS256"}, claims(), b"x" * 256),
    "oversized kid": lambda: sign(claims(), private_pem=KEY.private_pem, kid="k" * 5000),
    "injected kid (path)": lambda: sign(
        claims(), private_pem=KEY.private_pem, kid="../../../dev/null"
    ),
    "injected kid (sql)": lambda: sign(claims(), private_pem=KEY.private_pem, kid="x' OR '1'='1"),
    "jku header": lambda: unsigned(
        {"alg": "RS256", "kid": KEY.kid, "jku": "http://evil/jwks"}, claims(), b"x" * 256
    ),
    "embedded jwk header": lambda: unsigned(
        {"alg": "RS256", "kid": KEY.kid, "jwk": OTHER.public_jwk}, claims(), b"x" * 256
    ),
    "wrong aud": lambda: good(aud="someone-else"),
    "wrong iss": lambda: good(iss="https://evil/"),
    "future nbf": lambda: good(nbf=int(time.time()) + 3600),
    "missing exp": lambda: good(exp=None),
    "exp not a number": lambda: good(exp="later"),
    "exp NaN": lambda: good(exp=float("nan")),
    "nbf true": lambda: good(nbf=True),
    "missing iat": lambda: good(iat=None),
    "missing iss": lambda: good(iss=None),
    "missing aud": lambda: good(aud=None),
    "missing sub": lambda: good(sub=None),
    "missing jti": lambda: good(jti=None),
    "scope beyond role": lambda: good(scope="admin"),
    "unknown role": lambda: good(role="root"),
    "bank without bank_code": lambda: good(bank_code=None),
    "oversized token": lambda: good(padding="p" * 5000),
    "garbage": lambda: "not-a-token",
    "five segments (JWE)": lambda: "a.b.c.d.e",
    "empty": lambda: "",
    "non-ascii": lambda: "é.é.é",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_is_rejected(attack: str) -> None:
    token = ATTACKS[attack]()
    with pytest.raises(InvalidToken):
        verifier(KEY).verify(token)


def test_a_token_is_valid_from_nbf_to_exp_on_the_clock_in_use() -> None:
    """Token lifetimes are read on `shared.clock`: a test sets the time instead of waiting."""
    issued = int(time.time())
    token = good(iat=issued, nbf=issued + 60, exp=issued + 600)
    at = datetime.fromtimestamp(issued, UTC)
    leeway = timedelta(seconds=LEEWAY_SECONDS)
    v = verifier(KEY)
    for valid, moment in (
        (False, at + timedelta(seconds=60) - leeway - timedelta(seconds=1)),
        (True, at + timedelta(seconds=60) - leeway),
        (True, at + timedelta(seconds=600) + leeway),
        (False, at + timedelta(seconds=601) + leeway),
    ):
        with frozen_at(moment):
            if valid:
                assert v.verify(token).client_id == "ic_test"
            else:
                with pytest.raises(InvalidToken):
                    v.verify(token)


def test_a_flood_of_unknown_kids_reloads_keys_at_most_once_per_cooldown() -> None:
    v = verifier(KEY, cooldown=3600)
    v.verify(good())
    loads = v.keys.loads
    for i in range(200):
        token = sign(claims(), private_pem=OTHER.private_pem, kid=f"made-up-{i}")
        with pytest.raises(InvalidToken):
            v.verify(token)
    assert v.keys.loads == loads


def test_an_unknown_kid_reloads_once_cooldown_passes() -> None:
    published = [KEY.public_jwk]
    now = [0.0]
    keys = KeySet(lambda: list(published), unknown_kid_cooldown_seconds=30, clock=lambda: now[0])
    v = TokenVerifier(keys, issuer=ISS, audience=AUD)
    v.verify(good())
    published.append(OTHER.public_jwk)  # rotated elsewhere
    rotated = sign(claims(), private_pem=OTHER.private_pem, kid=OTHER.kid)
    with pytest.raises(InvalidToken):
        v.verify(rotated)  # within the cooldown: no reload
    now[0] = 31.0
    assert v.verify(rotated).client_id == "ic_test"


def test_keys_loaded_at_a_later_time_are_reloaded() -> None:
    """A test that sets the clock back must not leave a key cache that never goes stale."""
    now = [100.0]
    keys = KeySet(lambda: [KEY.public_jwk], unknown_kid_cooldown_seconds=30, clock=lambda: now[0])
    v = TokenVerifier(keys, issuer=ISS, audience=AUD)
    v.verify(good())
    now[0] = 50.0
    assert v.verify_cached(good()) is None
    v.verify(good())
    assert keys.loads == 2


def test_verify_cached_never_loads() -> None:
    v = verifier(KEY)
    assert v.verify_cached(good()) is None
    assert v.keys.loads == 0
    v.verify(good())
    assert v.verify_cached(good()) is not None
    assert v.keys.loads == 1


def test_a_cached_key_is_judged_on_one_reading_of_the_clock() -> None:
    """Found as a flake (tests/test_as_of.py under a frozen clock): the cache was judged fresh
    on one reading and stale on the next, a microsecond earlier, and a known kid was refused."""
    readings = iter([100.0, 100.000001, 99.999999, 99.999999])
    keys = KeySet(lambda: [KEY.public_jwk], clock=lambda: next(readings))
    v = TokenVerifier(keys, issuer=ISS, audience=AUD)
    v.verify(good())  # loads at 100.0
    principal = v.verify_cached(good())
    assert principal is not None
    assert principal.client_id == "ic_test"


def test_a_frozen_clock_stands_exactly_still() -> None:
    with frozen_at(datetime(2096, 3, 5, 1, 0, tzinfo=UTC)):
        assert len({monotonic() for _ in range(10_000)}) == 1
    with frozen_at(datetime(2096, 3, 5, 1, 0, 30, tzinfo=UTC)):
        later = monotonic()
    with frozen_at(datetime(2096, 3, 5, 1, 0, tzinfo=UTC)):
        assert later - monotonic() == pytest.approx(30.0, abs=1e-3)


def test_a_failed_reload_keeps_the_cached_keys_and_backs_off() -> None:
    """Found in review: a split service whose JWKS reload failed (gateway overloaded or its
    database down) answered 500 on every request and retried the load each time."""
    up = [True]
    calls = [0]
    now = [0.0]

    def load() -> list[dict[str, Any]]:
        calls[0] += 1
        if not up[0]:
            raise ConnectionError("gateway unreachable")
        return [KEY.public_jwk]

    keys = KeySet(load, max_age_seconds=300, unknown_kid_cooldown_seconds=30, clock=lambda: now[0])
    v = TokenVerifier(keys, issuer=ISS, audience=AUD)
    v.verify(good())
    up[0] = False
    now[0] = 301.0  # stale: the next verification reloads, which fails
    assert v.verify(good()).client_id == "ic_test"  # the cached key still verifies
    assert v.verify_cached(good()) is not None
    for _ in range(5):
        v.verify(good())
    assert calls[0] == 2  # one failed attempt, then back-off until the cooldown passes
    now[0] = 332.0
    up[0] = True
    v.verify(good())
    assert calls[0] == 3


def test_no_keys_at_all_is_a_503_not_a_401() -> None:
    def load() -> list[dict[str, Any]]:
        raise ConnectionError("gateway unreachable")

    v = TokenVerifier(KeySet(load), issuer=ISS, audience=AUD)
    with pytest.raises(KeysUnavailableError) as caught:
        v.verify(good())
    assert caught.value.status == 503
