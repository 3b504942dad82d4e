"""The page's token: minted for a live session, read scopes only, accepted by the edge while the
user is enabled and the session stands, rate-limited per user."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from jose import jwt
from sqlalchemy import delete, text
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.models import UserSession
from shared.clock import frozen_at
from tests.factories import Factory, bearer
from tests.users import browser, make_user, page_token, sign_in


def test_the_token_is_a_gateway_token_with_the_roles_read_scopes(
    gateway_app: Any, db: sessionmaker[Session], api: TestClient, factory: Factory
) -> None:
    bank = factory.bank()
    for role, bank_code, scopes in (
        ("bureau", None, "guarantee:read loans:read scoring:read stats:read"),
        ("bank", bank, "guarantee:read loans:read scoring:read stats:read"),
    ):
        user = make_user(db, role, bank_code=bank_code)
        client = browser(gateway_app)
        sign_in(client, user.name, user.password)
        response = client.post("/dashboard/api/token")
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 300, scopes)
        claims = jwt.get_unverified_claims(body["access_token"])
        assert claims["sub"] == f"user:{user.id}"
        assert uuid.UUID(claims["sid"])
        assert claims["exp"] - claims["iat"] == 300
        assert claims["role"] == role
        assert claims.get("bank_code") == bank_code
        me = api.get("/v1/scoring/whoami", headers=bearer(body["access_token"])).json()
        assert (me["client_id"], me["role"], me["bank_code"]) == (
            f"user:{user.id}",
            role,
            bank_code,
        )
        # Per-user rate limit: the user's own bucket.
        with db() as session:
            key = session.execute(
                text("SELECT key FROM gw_rate_limit WHERE key = :k"), {"k": f"user:{user.id}"}
            ).scalar()
        assert key == f"user:{user.id}"


def test_a_bank_users_token_reads_its_bank_and_cannot_write(
    gateway_app: Any, db: sessionmaker[Session], api: TestClient, factory: Factory
) -> None:
    bank = factory.bank()
    product = factory.product(bank)
    user = make_user(db, "bank", bank_code=bank)
    client = browser(gateway_app)
    sign_in(client, user.name, user.password)
    token = page_token(client)
    products = api.get("/v1/loans/products", headers=bearer(token)).json()["items"]
    assert [p["code"] for p in products] == [product]
    write = api.post(
        "/v1/loans/applications",
        headers={**bearer(token), "Idempotency-Key": uuid.uuid4().hex},
        json={},
    )
    assert write.status_code == 403
    assert write.json()["type"].endswith("/problems/insufficient-scope")
    assert write.json()["required_scopes"] == ["loans:write"]
    refused = api.get("/v1/admin/clients", headers=bearer(token))
    assert refused.status_code == 403


def test_no_session_no_token(gateway_app: Any) -> None:
    client = browser(gateway_app)
    response = client.post("/dashboard/api/token")
    assert response.status_code == 401
    assert response.json()["type"].endswith("/problems/unauthorized")
    client.cookies.set("innocredit_session", "made-up", path="/dashboard")
    assert client.post("/dashboard/api/token").status_code == 401
    client.cookies.set("innocredit_session", "x" * 5000, path="/dashboard")
    assert client.post("/dashboard/api/token").status_code == 401


def test_disabling_the_user_or_changing_the_password_ends_sessions_and_tokens(
    gateway_app: Any, db: sessionmaker[Session], api: TestClient, admin_token: str
) -> None:
    admin = bearer(admin_token)
    for action in ("disable", "password"):
        user = make_user(db)
        client = browser(gateway_app)
        sign_in(client, user.name, user.password)
        token = page_token(client)
        assert api.get("/v1/scoring/whoami", headers=bearer(token)).status_code == 200
        body = {"password": "a new long passphrase 2027"} if action == "password" else None
        r = api.post(f"/v1/admin/users/{user.id}/{action}", headers=admin, json=body)
        assert r.status_code == 200, r.text
        refused = api.get("/v1/scoring/whoami", headers=bearer(token))
        assert refused.status_code == 401, action
        assert client.post("/dashboard/api/token").status_code == 401
        assert sign_in(client, user.name, user.password).headers["location"].endswith("failed=1")


def test_a_session_ended_elsewhere_stops_its_tokens_within_the_cache_time(
    gateway_app: Any, db: sessionmaker[Session], api: TestClient
) -> None:
    """Another gateway process ended the session: this one learns it when its cache entry
    (INNOCREDIT_CLIENT_CACHE_SECONDS, 5 s in the tests' settings' default) runs out."""
    user = make_user(db)
    client = browser(gateway_app)
    sign_in(client, user.name, user.password)
    token = page_token(client)
    start = datetime.now(UTC)
    with frozen_at(start):
        assert api.get("/v1/scoring/whoami", headers=bearer(token)).status_code == 200
    with db.begin() as session:
        session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    with frozen_at(start + timedelta(seconds=2)):
        assert api.get("/v1/scoring/whoami", headers=bearer(token)).status_code == 200
    with frozen_at(start + timedelta(seconds=6)):
        assert api.get("/v1/scoring/whoami", headers=bearer(token)).status_code == 401
