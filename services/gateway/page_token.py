"""The dashboard page's token: a normal gateway access token minted for a signed-in session.

The page calls the existing `/v1` API like any client, with `Authorization: Bearer`, so every
figure it shows is the API's and a bank user sees exactly what a bank's token sees (the
tenant dependencies of shared/auth/deps.py, tested by the isolation sweep). The token carries
the role's *read* scopes only — a bank user's has no `loans:write` —, `sub` `user:<id>` and
the session's id as `sid`; the edge accepts it while the user is enabled and the session
stands (services/gateway/directory.py), so signing out or disabling the user ends it within
`INNOCREDIT_CLIENT_CACHE_SECONDS`. It lives 5 minutes (the page mints another before then),
and never leaves the page's memory: not in a cookie, storage or a URL.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from services.gateway.service import IssuedToken, sign_with_active_key
from services.gateway.sessions import SignedIn, user_subject
from shared import clock
from shared.auth.principal import ROLE_SCOPES, SCOPES
from shared.crypto import KeyEncryptor

PAGE_TOKEN_SECONDS = 300
READ_ONLY = frozenset(scope for scope in SCOPES if scope.endswith(":read"))


def page_scopes(role: str) -> frozenset[str]:
    """What a user of `role` may do through the page: the role's read scopes, no write."""
    return ROLE_SCOPES[role] & READ_ONLY


def mint(
    session: Session,
    signed_in: SignedIn,
    *,
    encryptor: KeyEncryptor,
    issuer: str,
    audience: str,
    max_ttl_seconds: int,
) -> IssuedToken:
    """Sign the page's token for a live session (at most `max_ttl_seconds`, the token TTL)."""
    ttl = min(PAGE_TOKEN_SECONDS, max_ttl_seconds)
    now = int(clock.now().timestamp())
    scope = " ".join(sorted(page_scopes(signed_in.role)))
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": user_subject(signed_in.user_id),
        "sid": str(signed_in.session_id),
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "scope": scope,
        "role": signed_in.role,
    }
    if signed_in.bank_code is not None:
        claims["bank_code"] = signed_in.bank_code
    token = sign_with_active_key(session, encryptor, claims)
    return IssuedToken(access_token=token, expires_in=ttl, scope=scope)
