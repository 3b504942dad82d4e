"""The only module that touches python-jose: key generation, signing and hardened verification.

python-jose is permissive by default, so every check RFC 8725 asks for is made here, explicitly:

* one algorithm (RS256), pinned on verify, and the header's `alg` must equal it;
* the key is chosen by `kid` from our own key set, never from the token (`jku`, `jwk`, `x5u`
  and `crit` headers are refused) and never by trying every key of a JWKS;
* `exp iat iss aud sub jti` are required, `iss` and `aud` must match, `nbf` is honoured,
  and `exp`/`nbf` are checked against `shared.clock.now()` (so tests set the time);
* size and shape limits before any parsing, and any failure is an `InvalidToken`, never
  another exception (`ExpiredToken` when the only fault is `exp`: the caller is told so);
* an unknown `kid` reloads the key set at most once per cooldown, so a flood of made-up
  kids cannot turn into a flood of key loads.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from math import isfinite
from typing import Any, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt
from jose.backends.base import Key

from shared.auth.principal import ROLE_SCOPES, ROLES, Principal, Role
from shared.clock import monotonic, now
from shared.errors import ServiceUnavailable

log = logging.getLogger("innocredit.auth")

ALGORITHM = "RS256"
MAX_TOKEN_BYTES = 4096
LEEWAY_SECONDS = 10
_KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
_FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "crit"})
_REQUIRED = ("exp", "iat", "iss", "aud", "sub", "jti")
# python-jose checks these against the system clock, so they are checked here instead.
_TIMES = ("exp", "iat", "nbf")


class InvalidToken(Exception):
    """The token cannot be trusted; the message says why (for logs, not for the caller), and
    `description` is what the caller is told (RFC 6750 §3.1 `error_description`)."""

    description = "The access token is invalid"


class ExpiredToken(InvalidToken):
    """A token that was genuine (signature, issuer, audience all checked) but has expired."""

    description = "The access token expired"


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A freshly generated signing key: its id, private PEM and public JWK."""

    kid: str
    private_pem: bytes
    public_jwk: dict[str, str]


def generate_signing_key() -> SigningKey:
    """Generate an RSA-2048 key pair for RS256 with a random `kid`."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    kid = uuid.uuid4().hex
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public = cast(dict[str, str], jwk.construct(public_pem, ALGORITHM).to_dict())
    public.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
    return SigningKey(kid=kid, private_pem=pem, public_jwk=public)


@lru_cache(maxsize=8)
def _private_key(private_pem: bytes) -> Key:
    # Parsing an RSA private key costs milliseconds; a handful of keys are ever live.
    return jwk.construct(private_pem.decode(), ALGORITHM)


def sign(claims: Mapping[str, Any], *, private_pem: bytes, kid: str) -> str:
    """Sign `claims` with RS256 under `kid`."""
    return jwt.encode(
        dict(claims),
        _private_key(private_pem),
        algorithm=ALGORITHM,
        headers={"kid": kid, "typ": "JWT"},
    )


def _public_key(entry: Mapping[str, Any]) -> tuple[str, Key] | None:
    kid = entry.get("kid")
    if not isinstance(kid, str) or not _KID.match(kid):
        return None
    if entry.get("kty") != "RSA" or entry.get("alg", ALGORITHM) != ALGORITHM:
        return None
    if entry.get("use", "sig") != "sig":
        return None
    public = {k: entry[k] for k in ("kty", "n", "e") if k in entry}
    return kid, jwk.construct(public, ALGORITHM)


class KeysUnavailableError(ServiceUnavailable):
    """No verification keys could be loaded yet (503: retry)."""


class KeySet:
    """The verification keys, cached; reloaded when stale or, rate-limited, on an unknown kid."""

    def __init__(
        self,
        loader: Callable[[], Sequence[Mapping[str, Any]]],
        *,
        max_age_seconds: float = 300.0,
        unknown_kid_cooldown_seconds: float = 30.0,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self._loader = loader
        self._max_age = max_age_seconds
        self._cooldown = unknown_kid_cooldown_seconds
        self._clock = clock
        self._keys: dict[str, Key] = {}
        self._loaded_at: float | None = None
        self._retry_at = 0.0  # after a failed load: keep the keys we have until then
        self._lock = threading.Lock()
        self.loads = 0

    def lookup(self, kid: str) -> tuple[bool, Key | None]:
        """Return (needs a load, the cached key for `kid`) from one reading of the clock.

        Never loads. Deciding and reading on one clock reading matters: two readings a
        microsecond apart could disagree (fresh for the one, stale for the other) and turn a
        known kid into an unknown one."""
        return self._needs_load(kid, self._clock()), self._keys.get(kid)

    def needs_load(self, kid: str) -> bool:
        """Whether `get(kid)` would load keys now (stale cache, or unknown kid off cooldown)."""
        return self._needs_load(kid, self._clock())

    def _needs_load(self, kid: str, now: float) -> bool:
        loaded_at = self._loaded_at
        if loaded_at is None:
            return True
        if now < self._retry_at:
            return False
        age = now - loaded_at
        if age < 0:  # a test set the clock back: the cache's age is unknown
            return True
        return age > self._max_age or (kid not in self._keys and age >= self._cooldown)

    def get(self, kid: str) -> Key | None:
        """Return the key for `kid`, loading the key set if stale or (off cooldown) if unknown."""
        if not self.needs_load(kid):
            return self._keys.get(kid)
        with self._lock:
            if self.needs_load(kid):
                self._load()
            return self._keys.get(kid)

    def invalidate(self) -> None:
        """Forget the cache, e.g. after this process rotated the signing key."""
        with self._lock:
            self._loaded_at = None

    def _load(self) -> None:
        try:
            entries = self._loader()
        except Exception as exc:
            if self._loaded_at is None:  # nothing to verify with: the caller answers 503
                raise KeysUnavailableError("The verification keys cannot be loaded") from exc
            # The key source (the gateway's JWKS, the database) is down or shedding: keep
            # verifying with the keys we have, and try again after the cooldown.
            log.warning("key set reload failed; keeping the cached keys", exc_info=exc)
            self._retry_at = self._clock() + max(1.0, self._cooldown)
            return
        keys: dict[str, Key] = {}
        for entry in entries:
            parsed = _public_key(entry)
            if parsed is not None:
                keys[parsed[0]] = parsed[1]
        self._keys = keys
        self._loaded_at = self._clock()
        self.loads += 1


class TokenVerifier:
    """Verify bearer tokens against a `KeySet`, turning them into a `Principal`."""

    def __init__(self, keys: KeySet, *, issuer: str, audience: str) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience

    def verify(self, token: str) -> Principal:
        """Return the principal of a valid token; raise `InvalidToken` otherwise (may load keys)."""
        principal = self._verify(token, may_load=True)
        if principal is None:  # only verify_cached may get None back
            raise InvalidToken("keys not loaded")
        return principal

    def verify_cached(self, token: str) -> Principal | None:
        """Like `verify`, but return None instead of loading keys (for async callers)."""
        return self._verify(token, may_load=False)

    def _verify(self, token: str, *, may_load: bool) -> Principal | None:
        kid = _checked_header(token)
        if may_load:
            key = self.keys.get(kid)
        else:
            needs_load, key = self.keys.lookup(kid)
            if needs_load:
                return None
        if key is None:
            raise InvalidToken("unknown kid")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    **{f"require_{claim}": True for claim in _REQUIRED if claim not in _TIMES},
                    **{f"verify_{claim}": False for claim in _TIMES},
                },
            )
        except Exception as exc:  # python-jose raises several types; all mean "not trusted"
            raise InvalidToken(f"rejected: {type(exc).__name__}: {exc}") from None
        _check_lifetime(claims, int(now().timestamp()))
        return _principal(claims)


def _checked_header(token: str) -> str:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
        raise InvalidToken("token too large")
    parts = token.split(".")
    if len(parts) != 3 or not all(_SEGMENT.match(p) for p in parts):
        raise InvalidToken("not a compact JWS")
    try:
        header = jwt.get_unverified_header(token)
    except Exception as exc:
        raise InvalidToken(f"bad header: {type(exc).__name__}") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"algorithm {header.get('alg')!r} not accepted")
    if _FORBIDDEN_HEADERS & set(header):
        raise InvalidToken("header names a key or critical extension; refused")
    if header.get("typ", "JWT") not in ("JWT", "at+jwt"):
        raise InvalidToken("unexpected typ")
    kid = header.get("kid")
    if not isinstance(kid, str) or not _KID.match(kid):
        raise InvalidToken("missing or malformed kid")
    return kid


def _check_lifetime(claims: Mapping[str, Any], now: int) -> None:
    """`exp` and `iat` are present, every time claim is a NumericDate, and `now` lies between
    `nbf` and `exp`, give or take the leeway (RFC 7519 §4.1.4-4.1.6)."""
    times: dict[str, int] = {}
    for name in _TIMES:
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not isfinite(value):
            raise InvalidToken(f"{name} is not a NumericDate")
        times[name] = int(value)
    if "exp" not in times or "iat" not in times:
        raise InvalidToken("exp and iat are required")
    if times["exp"] < now - LEEWAY_SECONDS:
        raise ExpiredToken("expired")
    if times.get("nbf", now) > now + LEEWAY_SECONDS:
        raise InvalidToken("not yet valid (nbf)")


def _principal(claims: Mapping[str, Any]) -> Principal:
    role = claims.get("role")
    sub = claims.get("sub")
    scope = claims.get("scope", "")
    if role not in ROLES or not isinstance(sub, str) or not isinstance(scope, str):
        raise InvalidToken("bad role, sub or scope claim")
    scopes = frozenset(scope.split())
    if not scopes <= ROLE_SCOPES[role]:
        raise InvalidToken("scope beyond the role")
    bank_code = claims.get("bank_code")
    firm_code = claims.get("firm_code")
    if role == "bank" and not isinstance(bank_code, str):
        raise InvalidToken("bank token without bank_code")
    if role == "credit_firm" and not isinstance(firm_code, str):
        raise InvalidToken("firm token without firm_code")
    jti = claims.get("jti")
    exp = claims.get("exp")
    sid = claims.get("sid")
    return Principal(
        client_id=sub,
        role=cast(Role, role),
        scopes=scopes,
        bank_code=bank_code if role == "bank" else None,
        firm_code=firm_code if role == "credit_firm" else None,
        token_id=jti if isinstance(jti, str) else None,
        expires_at=datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None,
        session_id=sid if isinstance(sid, str) else None,
    )
