"""Operators manage clients (create, rotate secret, disable) and rotate the signing key."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from jose import jwt
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.gateway import service as gateway_service
from services.gateway.directory import ClientDirectory
from services.gateway.models import Client, SigningKey
from services.gateway.schemas import ClientCreate
from services.runtime import build_gateway
from shared import clock, migrate
from shared.auth import jwt as tokens
from shared.clock import frozen_at
from shared.crypto import KeyEncryptor
from shared.db import make_engine, make_sessionmaker
from shared.settings import CoreSettings
from tests.factories import Creds, Factory, bearer, get_token
from tests.servers import make_settings


def test_create_client_returns_secret_once_and_stores_only_a_hash(
    api: TestClient, admin_token: str, db: sessionmaker[Session]
) -> None:
    response = api.post(
        "/v1/admin/clients",
        headers=bearer(admin_token),
        json={"name": "信用评级公司", "role": "credit_firm", "firm_code": "CRF1"},
    )
    assert response.status_code == 201
    body = response.json()
    secret = body["client_secret"]
    assert body["client"]["firm_code"] == "CRF1"
    with db() as session:
        stored = session.scalars(select(Client).where(Client.client_id == body["client_id"])).one()
    assert secret not in stored.secret_hash
    assert stored.secret_hash.startswith("$argon2id$")
    again = api.get(f"/v1/admin/clients/{body['client_id']}", headers=bearer(admin_token))
    assert "client_secret" not in again.json()
    token = get_token(api, Creds(body["client_id"], secret))
    assert jwt.get_unverified_claims(token)["firm_code"] == "CRF1"


def test_client_create_validates_tenant_against_role(api: TestClient, admin_token: str) -> None:
    for body in (
        {"name": "x", "role": "bank"},  # bank without bank_code
        {"name": "x", "role": "bureau", "bank_code": "TZB"},  # tenant on a tenantless role
        {"name": "x", "role": "root"},
        {"name": "x", "role": "admin", "enabled": False},  # unknown field
        {"name": "x", "role": "bank", "bank_code": "lower-case"},
    ):
        response = api.post("/v1/admin/clients", headers=bearer(admin_token), json=body)
        assert response.status_code == 422, body
        assert response.json()["type"].endswith("/problems/validation-error")


def test_a_bank_client_needs_a_partner_bank_of_that_code(
    api: TestClient, admin_token: str, factory: Factory, db: sessionmaker[Session]
) -> None:
    name = f"unknown bank {uuid.uuid4().hex[:8]}"
    unknown = api.post(
        "/v1/admin/clients",
        headers=bearer(admin_token),
        json={"name": name, "role": "bank", "bank_code": "NOSUCHBANK"},
    )
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"
    problem = unknown.json()
    assert problem["type"].endswith("/problems/validation-error")
    assert problem["errors"] == [
        {
            "loc": ["body", "bank_code"],
            "msg": "no partner bank has the code 'NOSUCHBANK' (GET /v1/loans/banks lists them)",
            "type": "unknown_bank",
        }
    ]
    with db() as session:  # nothing written
        assert session.scalars(select(Client).where(Client.name == name)).first() is None

    code = factory.bank()
    known = api.post(
        "/v1/admin/clients",
        headers=bearer(admin_token),
        json={"name": name, "role": "bank", "bank_code": code},
    )
    assert known.status_code == 201, known.text
    assert known.json()["client"]["bank_code"] == code
    assert known.headers["location"] == f"/v1/admin/clients/{known.json()['client_id']}"
    assert api.get(known.headers["location"], headers=bearer(admin_token)).status_code == 200
    token = get_token(api, Creds(known.json()["client_id"], known.json()["client_secret"]))
    assert api.get("/v1/loans/banks", headers=bearer(token)).json()["items"][0]["code"] == code
    # Firms have no registry: any well-formed firm code still makes a client.
    firm = api.post(
        "/v1/admin/clients",
        headers=bearer(admin_token),
        json={"name": name, "role": "credit_firm", "firm_code": "ANYFIRM"},
    )
    assert firm.status_code == 201


def test_rotate_secret_invalidates_the_old_one(
    api: TestClient, admin_token: str, make_client: Callable[..., Creds]
) -> None:
    creds = make_client("bureau")
    response = api.post(
        f"/v1/admin/clients/{creds.client_id}/rotate-secret", headers=bearer(admin_token)
    )
    assert response.status_code == 200
    new = Creds(creds.client_id, response.json()["client_secret"])
    old = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": creds.basic()},
    )
    assert old.status_code == 401
    get_token(api, new)


def test_disable_stops_new_tokens_and_live_ones(
    api: TestClient, admin_token: str, make_client: Callable[..., Creds]
) -> None:
    creds = make_client("bureau")
    live = get_token(api, creds)
    assert api.get("/v1/scoring/whoami", headers=bearer(live)).status_code == 200
    response = api.post(f"/v1/admin/clients/{creds.client_id}/disable", headers=bearer(admin_token))
    assert response.status_code == 200
    assert response.json()["enabled"] is False
    assert api.get("/v1/scoring/whoami", headers=bearer(live)).status_code == 401
    refused = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": creds.basic()},
    )
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"


def test_a_client_disabled_by_another_process_is_refused_once_its_cache_expires(
    api: TestClient,
    make_client: Callable[..., Creds],
    db: sessionmaker[Session],
    settings: CoreSettings,
) -> None:
    """The edge caches a client's status for INNOCREDIT_CLIENT_CACHE_SECONDS on the clock."""
    creds = make_client("bureau")
    live = get_token(api, creds)
    ttl = timedelta(seconds=settings.client_cache_seconds)
    start = clock.now()
    with frozen_at(start):
        assert api.get("/v1/scoring/whoami", headers=bearer(live)).status_code == 200
    with db.begin() as session:  # disabled elsewhere: this process's cache does not know
        gateway_service.disable_client(session, creds.client_id)
    with frozen_at(start + ttl - timedelta(seconds=1)):
        assert api.get("/v1/scoring/whoami", headers=bearer(live)).status_code == 200
    with frozen_at(start + ttl + timedelta(seconds=1)):
        refused = api.get("/v1/scoring/whoami", headers=bearer(live))
        assert refused.status_code == 401
        assert refused.json()["detail"] == "The client is disabled"


def test_the_client_cache_does_not_trust_an_entry_from_a_later_time(
    db: sessionmaker[Session], make_client: Callable[..., Creds]
) -> None:
    """A test that sets the clock back must not leave entries that look fresh for ever."""
    now = [100.0]
    directory = ClientDirectory(db, ttl_seconds=5, clock=lambda: now[0])
    creds = make_client("bureau")
    directory.load(creds.client_id)
    assert directory.cached(creds.client_id)[0]
    now[0] = 99.0
    assert not directory.cached(creds.client_id)[0]


def test_unknown_client_is_404_problem(api: TestClient, admin_token: str) -> None:
    response = api.post("/v1/admin/clients/ic_nope/disable", headers=bearer(admin_token))
    assert response.status_code == 404
    assert response.json()["type"].endswith("/problems/client-not-found")


def test_client_list_pages_with_cursor(
    api: TestClient, admin_token: str, make_client: Callable[..., Creds]
) -> None:
    for _ in range(3):
        make_client("bureau")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/v1/admin/clients", headers=bearer(admin_token), params=params).json()
        seen += [c["client_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) >= 3
    bad = api.get("/v1/admin/clients", headers=bearer(admin_token), params={"cursor": "forged"})
    assert bad.status_code == 400
    assert bad.json()["type"].endswith("/problems/invalid-cursor")
    too_many = api.get("/v1/admin/clients", headers=bearer(admin_token), params={"limit": 501})
    assert too_many.status_code == 422


def test_key_rotation_keeps_old_tokens_valid_and_jwks_lists_both(
    api: TestClient, admin_token: str, make_client: Callable[..., Creds]
) -> None:
    creds = make_client("bureau")
    before = get_token(api, creds)
    old_kid = jwt.get_unverified_header(before)["kid"]
    response = api.post("/v1/admin/keys/rotate", headers=bearer(admin_token))
    assert response.status_code == 200
    new_kid = response.json()[0]["kid"]
    assert new_kid != old_kid
    assert response.json()[1]["kid"] == old_kid
    assert response.json()[1]["retired_at"] is not None

    kids = {k["kid"] for k in api.get("/.well-known/jwks.json").json()["keys"]}
    assert {old_kid, new_kid} <= kids
    assert api.get("/v1/scoring/whoami", headers=bearer(before)).status_code == 200
    after = get_token(api, creds)
    assert jwt.get_unverified_header(after)["kid"] == new_kid
    assert api.get("/v1/scoring/whoami", headers=bearer(after)).status_code == 200


def _client_in(database_url: str, role: str) -> Creds:
    """A client made directly in the database at `database_url`."""
    engine = make_engine(database_url)
    with make_sessionmaker(engine).begin() as session:
        client, secret = gateway_service.create_client(
            session, ClientCreate(name=f"test {role}", role=role)
        )
    engine.dispose()
    return Creds(client.client_id, secret)


def test_rotation_publishes_the_key_before_it_signs(new_database: Callable[[], str]) -> None:
    """Another gateway process (which loaded keys before the rotation) accepts new tokens.

    The time is set, not waited for: the new key signs once the unknown-kid cooldown has
    passed on the clock. The database is the test's own, so the rotation it leaves pending
    cannot meet another test's rotation."""
    database_url = new_database()
    migrate.upgrade(database_url, "head")
    engine = make_engine(database_url)
    settings = make_settings(database_url, unknown_kid_cooldown_seconds=30)
    cooldown = timedelta(seconds=settings.unknown_kid_cooldown_seconds)
    start = clock.now()
    with (
        frozen_at(start),
        TestClient(build_gateway(settings, engine)) as a,
        TestClient(build_gateway(settings, engine)) as b,
    ):
        admin = get_token(a, _client_in(database_url, "admin"))
        bureau = _client_in(database_url, "bureau")
        assert b.get("/v1/loans/whoami", headers=bearer(admin)).status_code == 200  # b loads keys
        rotated = a.post("/v1/admin/keys/rotate", headers=bearer(admin))
        assert rotated.status_code == 200
        new_kid, old_kid = rotated.json()[0]["kid"], rotated.json()[1]["kid"]
        assert new_kid in {k["kid"] for k in a.get("/.well-known/jwks.json").json()["keys"]}
        with frozen_at(start + cooldown - timedelta(seconds=1)):
            # Until the new key activates, the old one keeps signing.
            pending = get_token(a, bureau)
            assert jwt.get_unverified_header(pending)["kid"] == old_kid
            again = a.post("/v1/admin/keys/rotate", headers=bearer(admin))
            assert again.status_code == 409
            assert again.json()["type"].endswith("/problems/key-rotation-pending")
        with frozen_at(start + cooldown + timedelta(seconds=1)):
            fresh = get_token(a, bureau)
            assert jwt.get_unverified_header(fresh)["kid"] == new_kid
            # b's keys predate the new kid; its cooldown has passed, so it reloads them.
            assert b.get("/v1/loans/whoami", headers=bearer(fresh)).status_code == 200
            assert b.get("/v1/loans/whoami", headers=bearer(admin)).status_code == 200
    engine.dispose()


def test_retired_key_leaves_jwks_once_its_tokens_have_expired(
    api: TestClient, db: sessionmaker[Session], settings: CoreSettings
) -> None:
    encryptor = KeyEncryptor(settings.key_encryption_key)
    now = datetime.now(UTC)
    stale, recent = tokens.generate_signing_key(), tokens.generate_signing_key()
    with db.begin() as session:
        for key, retired_at in (
            (stale, now - timedelta(hours=1)),
            (recent, now - timedelta(minutes=5)),
        ):
            session.add(
                SigningKey(
                    kid=key.kid,
                    algorithm="RS256",
                    public_jwk=key.public_jwk,
                    private_key_encrypted=encryptor.encrypt(key.private_pem),
                    created_at=retired_at - timedelta(days=1),
                    retired_at=retired_at,
                )
            )
    kids = {k["kid"] for k in api.get("/.well-known/jwks.json").json()["keys"]}
    assert stale.kid not in kids
    assert recent.kid in kids  # tokens up to 15 min old may still be signed by it


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "role": "bank", "bank_code": "TZB"},
        {"name": "x", "role": "bank"},
        {"name": "x", "role": "bureau", "bank_code": "TZB"},
        {"name": "x", "role": "credit_firm", "firm_code": "F1"},
        {"name": "x", "role": "credit_firm", "firm_code": None},
        {"name": "x", "role": "admin", "firm_code": "F1"},
        {"name": "x", "role": "admin", "bank_code": None, "firm_code": None},
    ],
)
def test_the_documented_client_schema_is_what_is_accepted(body: dict[str, object]) -> None:
    # Found by the fuzzer: the document allowed a bank without bank_code, which is a 422.
    documented = jsonschema_rs.validator_for(ClientCreate.model_json_schema()).is_valid(body)
    try:
        ClientCreate.model_validate(body)
        accepted = True
    except ValidationError:
        accepted = False
    assert documented is accepted
