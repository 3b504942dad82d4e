"""The OAuth 2.0 client-credentials flow end to end, through the gateway."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from jose import jwk as jose_jwk
from jose import jwt
from sqlalchemy.orm import Session, sessionmaker

from services.gateway import service as gateway_service
from shared.auth import jwt as tokens
from shared.clock import frozen_at
from shared.crypto import KeyEncryptor
from shared.settings import CoreSettings
from tests.factories import Creds, bearer, get_token


def test_basic_auth_token_then_call(api: TestClient, make_client: Callable[..., Creds]) -> None:
    creds = make_client("bank", name="泰州银行", bank_code="TZB")
    response = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": creds.basic()},
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 900
    assert set(body["scope"].split()) == {
        "scoring:read",
        "loans:read",
        "loans:write",
        "stats:read",
        "guarantee:read",
    }
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256"
    assert header["kid"]
    claims = jwt.get_unverified_claims(body["access_token"])
    assert claims["sub"] == creds.client_id
    assert claims["role"] == "bank"
    assert claims["bank_code"] == "TZB"
    assert claims["exp"] - claims["iat"] <= 900
    assert {"iss", "aud", "jti", "scope"} <= set(claims)

    me = api.get("/v1/loans/whoami", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["client_id"] == creds.client_id
    assert me.json()["bank_code"] == "TZB"


def test_form_credentials_and_narrower_scope(
    api: TestClient, make_client: Callable[..., Creds]
) -> None:
    creds = make_client("bureau", name="市科技局")
    response = api.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scope": "stats:read",
        },
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "stats:read"


def test_token_verifies_against_published_jwks(api: TestClient, admin_token: str) -> None:
    keys = api.get("/.well-known/jwks.json").json()["keys"]
    kid = jwt.get_unverified_header(admin_token)["kid"]
    key = next(k for k in keys if k["kid"] == kid)
    assert "d" not in key  # public half only
    claims = jwt.decode(admin_token, key, algorithms=["RS256"], audience="innocredit-api")
    assert claims["role"] == "admin"


@pytest.mark.parametrize(
    ("form", "headers", "status", "error"),
    [
        (
            {"grant_type": "client_credentials", "client_id": "ic_nobody", "client_secret": "x"},
            {},
            401,
            "invalid_client",
        ),
        ({"grant_type": "client_credentials"}, {}, 401, "invalid_client"),
        (
            {"grant_type": "password", "client_id": "a", "client_secret": "b"},
            {},
            400,
            "unsupported_grant_type",
        ),
        ({"client_id": "a", "client_secret": "b"}, {}, 400, "invalid_request"),
        (
            {"grant_type": "client_credentials"},
            {"Authorization": "Basic !!!notbase64"},
            401,
            "invalid_client",
        ),
    ],
)
def test_token_errors_follow_rfc6749(
    api: TestClient, form: dict[str, str], headers: dict[str, str], status: int, error: str
) -> None:
    response = api.post("/oauth/token", data=form, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["error"] == error
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_wrong_secret_is_invalid_client(api: TestClient, make_client: Callable[..., Creds]) -> None:
    creds = make_client("bureau")
    wrong = Creds(creds.client_id, creds.client_secret + "x")
    response = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": wrong.basic()},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


def test_json_token_request_is_invalid_request(
    api: TestClient, make_client: Callable[..., Creds]
) -> None:
    creds = make_client("bureau")
    response = api.post(
        "/oauth/token",
        json={"grant_type": "client_credentials"},
        headers={"Authorization": creds.basic()},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_scope_beyond_role_is_invalid_scope(
    api: TestClient, make_client: Callable[..., Creds]
) -> None:
    creds = make_client("bureau")
    response = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "stats:read admin"},
        headers={"Authorization": creds.basic()},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def _forge(settings: CoreSettings, db: sessionmaker[Session], **overrides: object) -> str:
    """Sign a token with the real active key, with chosen claims."""
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": "ic_x",
        "iat": now,
        "exp": now + 300,
        "jti": "j",
        "scope": "admin",
        "role": "admin",
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    with db.begin() as session:
        key = gateway_service.ensure_signing_key(session, KeyEncryptor(settings.key_encryption_key))
        pem = KeyEncryptor(settings.key_encryption_key).decrypt(key.private_key_encrypted)
        return tokens.sign(claims, private_pem=pem, kid=key.kid)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "kind",
    [
        "expired",
        "tampered",
        "alg none",
        "hs256 with public key",
        "wrong aud",
        "wrong iss",
        "unknown kid",
        "missing",
        "not bearer",
    ],
)
def test_bad_tokens_get_401_with_bearer_challenge(
    api: TestClient,
    settings: CoreSettings,
    db: sessionmaker[Session],
    admin_token: str,
    kind: str,
) -> None:
    now = int(time.time())
    header, payload, sig = admin_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    kid = jwt.get_unverified_header(admin_token)["kid"]
    if kind == "expired":
        token = _forge(settings, db, iat=now - 2000, exp=now - 1000)
    elif kind == "tampered":
        token = f"{header}.{_b64(json.dumps({**claims, 'sub': 'ic_other'}).encode())}.{sig}"
    elif kind == "alg none":
        token = f"{_b64(json.dumps({'alg': 'none', 'kid': kid}).encode())}.{payload}."
    elif kind == "hs256 with public key":
        jwk = next(k for k in api.get("/.well-known/jwks.json").json()["keys"] if k["kid"] == kid)
        pem = jose_jwk.construct(jwk, "RS256").to_pem()
        h = _b64(json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}).encode())
        mac = hmac.new(pem, f"{h}.{payload}".encode(), hashlib.sha256).digest()
        token = f"{h}.{payload}.{_b64(mac)}"
    elif kind == "wrong aud":
        token = _forge(settings, db, aud="other-api")
    elif kind == "wrong iss":
        token = _forge(settings, db, iss="https://evil.example/")
    elif kind == "unknown kid":
        other = tokens.generate_signing_key()
        token = tokens.sign(claims, private_pem=other.private_pem, kid=other.kid)
    elif kind == "missing":
        response = api.get("/v1/scoring/whoami")
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        return
    else:
        response = api.get("/v1/scoring/whoami", headers={"Authorization": f"Token {admin_token}"})
        assert response.status_code == 401
        return
    response = api.get("/v1/scoring/whoami", headers=bearer(token))
    assert response.status_code == 401, kind
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/problems/unauthorized")


def test_wrong_scope_is_403_problem(api: TestClient, bank_token: str) -> None:
    response = api.post(
        "/v1/admin/clients", headers=bearer(bank_token), json={"name": "x", "role": "bureau"}
    )
    assert response.status_code == 403
    body = response.json()
    assert body["type"].endswith("/problems/insufficient-scope")
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def test_token_with_narrow_scope_cannot_reach_admin(
    api: TestClient, make_client: Callable[..., Creds]
) -> None:
    token = get_token(api, make_client("admin"), scope="scoring:read")
    response = api.get("/v1/admin/clients", headers=bearer(token))
    assert response.status_code == 403


# ---------------------------------------------------------------- RFC 6749 §2.3.1, RFC 6750 §3.1


def test_basic_with_the_same_client_id_in_the_form_is_one_client(
    api: TestClient, make_client: Callable[..., Creds]
) -> None:
    # The wire format of requests-oauthlib's fetch_token(auth=HTTPBasicAuth(...),
    # include_client_id=True): Basic, plus client_id (never the secret) in the form.
    creds = make_client("bureau")
    response = api.post(
        "/oauth/token",
        content=f"grant_type=client_credentials&client_id={creds.client_id}",
        headers={
            "Authorization": creds.basic(),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 200, response.text
    assert jwt.get_unverified_claims(response.json()["access_token"])["sub"] == creds.client_id


@pytest.mark.parametrize(
    ("form", "description"),
    [
        ({"client_id": "ic_someone_else"}, "differs from the HTTP Basic client id"),
        ({"client_secret": "x"}, "not both"),
    ],
)
def test_basic_with_another_client_id_or_a_form_secret_is_invalid_request(
    api: TestClient, make_client: Callable[..., Creds], form: dict[str, str], description: str
) -> None:
    creds = make_client("bureau")
    if "client_secret" in form:
        form = {"client_id": creds.client_id, "client_secret": creds.client_secret}
    response = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", **form},
        headers={"Authorization": creds.basic()},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    assert description in body["error_description"]
    assert body["type"] == "/problems/oauth-invalid-request"
    assert response.headers["cache-control"] == "no-store"


def test_an_expired_token_says_it_expired(
    api: TestClient, make_client: Callable[..., Creds]
) -> None:
    creds = make_client("bureau")
    issued_at = datetime.now(UTC)
    with frozen_at(issued_at):
        token = get_token(api, creds)
        assert api.get("/v1/scoring/whoami", headers=bearer(token)).status_code == 200
    with frozen_at(issued_at + timedelta(seconds=900 + tokens.LEEWAY_SECONDS + 1)):
        response = api.get("/v1/scoring/whoami", headers=bearer(token))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="The access token expired"'
    )
    body = response.json()
    assert (body["type"], body["title"]) == ("/problems/unauthorized", "Unauthorized")
    assert body["detail"] == "The access token expired"


def test_a_forged_token_says_it_is_invalid_and_a_missing_one_gets_a_bare_challenge(
    api: TestClient, admin_token: str
) -> None:
    header, payload, sig = admin_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = f"{header}.{_b64(json.dumps({**claims, 'role': 'admin', 'exp': 1}).encode())}.{sig}"
    for token in (forged, "not-a-jwt"):
        response = api.get("/v1/scoring/whoami", headers=bearer(token))
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == (
            'Bearer error="invalid_token", error_description="The access token is invalid"'
        )
        assert response.json()["detail"] == "The access token is invalid"
    # RFC 6750 §3.1: a request without credentials gets no error code.
    for headers in ({}, {"Authorization": f"Token {admin_token}"}):
        response = api.get("/v1/scoring/whoami", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="innocredit"'
