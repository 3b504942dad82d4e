"""`/v1/admin/users`: create (201 + Location), list (paged), get, disable, unlock, reset the
password; every bad input a problem; and migration 0010 up and down."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.models import User
from shared import migrate
from shared.db import make_engine
from tests.factories import Factory, bearer
from tests.users import browser, sign_in

GOOD = "correct horse battery"


def _name() -> str:
    return f"staff-{uuid.uuid4().hex[:8]}"


def test_create_get_and_list(api: TestClient, admin_token: str, factory: Factory) -> None:
    admin = bearer(admin_token)
    bank = factory.bank()
    made = []
    for role, bank_code in (("bureau", None), ("bank", bank)):
        body = {"name": _name(), "role": role, "bank_code": bank_code, "password": GOOD}
        r = api.post("/v1/admin/users", headers=admin, json=body)
        assert r.status_code == 201, r.text
        user = r.json()
        assert r.headers["location"] == f"/v1/admin/users/{user['id']}"
        assert "password" not in user
        assert "password_hash" not in user
        assert (user["role"], user["bank_code"], user["disabled"]) == (role, bank_code, False)
        assert (user["failed_count"], user["locked_until"]) == (0, None)
        assert api.get(r.headers["location"], headers=admin).json() == user
        made.append(user["id"])
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/admin/users", headers=admin, params=params).json()
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert set(made) <= set(seen)


def test_bad_input_is_a_problem(api: TestClient, admin_token: str, factory: Factory) -> None:
    admin = bearer(admin_token)
    name = _name()
    ok = {"name": name, "role": "bureau", "password": GOOD}
    assert api.post("/v1/admin/users", headers=admin, json=ok).status_code == 201

    taken = api.post("/v1/admin/users", headers=admin, json=ok)
    assert taken.status_code == 409
    assert taken.json()["type"].endswith("/problems/user-name-taken")

    cases: list[tuple[dict[str, Any], list[str], str]] = [
        (
            {"name": _name(), "role": "bank", "bank_code": "NOSUCHBANK", "password": GOOD},
            ["body", "bank_code"],
            "validation-error",
        ),
        ({"name": _name(), "role": "bank", "password": GOOD}, ["body"], "validation-error"),
        (
            {"name": _name(), "role": "bureau", "bank_code": factory.bank(), "password": GOOD},
            ["body"],
            "validation-error",
        ),
        (
            {"name": _name(), "role": "admin", "password": GOOD},
            ["body", "role"],
            "validation-error",
        ),
        (
            {"name": _name(), "role": "bureau", "password": "short1!"},
            ["body", "password"],
            "validation-error",
        ),
        (
            {"name": _name(), "role": "bureau", "password": "abababababababab"},
            ["body", "password"],
            "validation-error",
        ),
        (
            {"name": "zhangwei", "role": "bureau", "password": "ZhangWei-2026-spring"},
            ["body", "password"],
            "validation-error",
        ),
        (
            {"name": _name(), "role": "bureau", "password": "x" * 129},
            ["body", "password"],
            "validation-error",
        ),
        (
            {"name": " padded ", "role": "bureau", "password": GOOD},
            ["body", "name"],
            "validation-error",
        ),
        ({**ok, "name": _name(), "disabled": True}, ["body", "disabled"], "validation-error"),
    ]
    for body, loc, slug in cases:
        r = api.post("/v1/admin/users", headers=admin, json=body)
        assert r.status_code == 422, (body, r.text)
        problem = r.json()
        assert problem["type"].endswith(f"/problems/{slug}")
        assert problem["errors"][0]["loc"][: len(loc)] == loc, (body, problem)
    weak = api.post(
        "/v1/admin/users", headers=admin, json={"name": _name(), "role": "bureau", "password": "a"}
    ).json()
    assert "12 to 128 characters" in weak["errors"][0]["msg"]

    for path in ("/v1/admin/users/999999999", "/v1/admin/users/999999999/unlock"):
        method = api.get if path.endswith("999") else api.post
        missing = method(path, headers=admin)
        assert missing.status_code == 404
        assert missing.json()["type"].endswith("/problems/user-not-found")
    for bad in ("0", "-1", "abc", str(2**63)):
        assert api.get(f"/v1/admin/users/{bad}", headers=admin).status_code == 422


def test_reset_password_and_disable(
    api: TestClient, admin_token: str, gateway_app: Any, db: sessionmaker[Session]
) -> None:
    admin = bearer(admin_token)
    name = _name()
    r = api.post(
        "/v1/admin/users", headers=admin, json={"name": name, "role": "bureau", "password": GOOD}
    )
    user = r.json()
    client = browser(gateway_app)
    assert sign_in(client, name, GOOD).headers["location"] == "/dashboard/"
    weak = api.post(f"/v1/admin/users/{user['id']}/password", headers=admin, json={"password": "x"})
    assert weak.status_code == 422
    new = "another fine passphrase"
    r = api.post(f"/v1/admin/users/{user['id']}/password", headers=admin, json={"password": new})
    assert r.status_code == 200, r.text
    assert r.json()["password_changed_at"] > user["password_changed_at"]
    assert sign_in(client, name, GOOD).headers["location"].endswith("failed=1")
    assert sign_in(client, name, new).headers["location"] == "/dashboard/"
    r = api.post(f"/v1/admin/users/{user['id']}/disable", headers=admin)
    assert r.json()["disabled"] is True
    assert sign_in(client, name, new).headers["location"].endswith("failed=1")
    with db() as session:
        row = session.get(User, user["id"])
        assert row is not None
        assert row.password_hash.startswith("$argon2id$")


def test_migration_0010_up_and_down(new_database: Callable[[], str]) -> None:
    url = new_database()
    migrate.upgrade(url, "0009")
    engine = make_engine(url)
    tables = {"gw_user", "gw_user_session", "gw_sign_in_failure"}
    try:
        with engine.connect() as conn:
            assert not tables & set(inspect(conn).get_table_names())
        migrate.upgrade(url, "0010")
        with engine.connect() as conn:
            assert tables <= set(inspect(conn).get_table_names())
        migrate.downgrade(url, "0009")
        with engine.connect() as conn:
            assert not tables & set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
