"""The dashboard's sign-in: the form, the cookie, the session's ends, lockout, the per-address
limit, the Origin check and the audit trail — against the real database and gateway."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.models import AuditEvent, User, UserSession
from services.runtime import build_gateway
from shared.clock import frozen_at
from tests.factories import bearer
from tests.servers import make_settings, serve_app
from tests.users import browser, make_user, page_token, sign_in

FAILED = "/dashboard/sign-in?failed=1"


def audit_of(db: sessionmaker[Session], name: str) -> list[AuditEvent]:
    """The audit rows of sign-ins naming `name`, oldest first."""
    with db() as session:
        stmt = (
            select(AuditEvent)
            .where(AuditEvent.detail["name"].astext == name)
            .order_by(AuditEvent.id)
        )
        return list(session.scalars(stmt))


def cookie_attributes(response: httpx.Response) -> dict[str, str]:
    """The session cookie's Set-Cookie attributes, names lower-cased (value under `value`)."""
    header = response.headers["set-cookie"]
    first, *attributes = [part.strip() for part in header.split(";")]
    name, _, value = first.partition("=")
    assert name == "innocredit_session"
    parsed = {"value": value}
    for attribute in attributes:
        key, _, val = attribute.partition("=")
        parsed[key.lower()] = val
    return parsed


def user_row(db: sessionmaker[Session], user_id: int) -> User:
    with db() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user


def sessions_of(db: sessionmaker[Session], user_id: int) -> list[UserSession]:
    with db() as session:
        return list(session.scalars(select(UserSession).where(UserSession.user_id == user_id)))


# ---------------------------------------------------------------- the form and the cookie


def test_the_sign_in_page_is_a_plain_form_under_a_strict_policy(gateway_app: Any) -> None:
    client = browser(gateway_app)
    page = client.get("/dashboard/sign-in")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "form-action 'self'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    assert '<form method="post" action="/dashboard/sign-in">' in page.text
    assert "<script" not in page.text
    assert "style=" not in page.text
    assert 'role="alert"' not in page.text
    assert 'role="alert"' in client.get(FAILED).text
    # Not part of the API's document: these are the page's, not clients'.
    spec = client.get("/openapi.json").json()
    assert not [p for p in spec["paths"] if p.startswith("/dashboard")]


def test_a_good_sign_in_sets_a_strict_cookie_and_keeps_only_its_hash(
    gateway_app: Any, db: sessionmaker[Session]
) -> None:
    user = make_user(db)
    client = browser(gateway_app)
    response = sign_in(client, user.name, user.password)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/"
    assert response.headers["cache-control"] == "no-store"
    cookie = cookie_attributes(response)
    assert {"httponly", "path", "samesite", "max-age"} <= cookie.keys()
    assert cookie["path"] == "/dashboard"
    assert cookie["samesite"].lower() == "strict"
    assert cookie["max-age"] == str(8 * 3600)
    assert "secure" not in cookie  # plain http, INNOCREDIT_COOKIE_SECURE=auto
    token = cookie["value"]
    assert len(token) >= 43  # 256 bits
    (stored,) = sessions_of(db, user.id)
    assert stored.token_hash == hashlib.sha256(token.encode()).digest()
    with db() as session:
        dump = session.execute(text("SELECT gw_user_session::text FROM gw_user_session")).all()
    assert not any(token in row[0] for row in dump)
    (event,) = audit_of(db, user.name)
    assert (event.action, event.client_id, event.status) == ("sign-in", f"user:{user.id}", 303)
    assert event.detail["ip"].startswith("10.")  # the browser's address (tests/users.py)


def test_the_cookie_is_secure_over_https_and_as_the_setting_says(
    gateway_app: Any, database_url: str, engine: Engine, db: sessionmaker[Session]
) -> None:
    user = make_user(db)
    over_https = browser(gateway_app, "https://testserver")
    assert "secure" in cookie_attributes(sign_in(over_https, user.name, user.password))
    for setting, base_url, secure in (
        ("always", "http://testserver", True),
        ("never", "https://testserver", False),
        ("auto", "http://testserver", False),
    ):
        app = build_gateway(make_settings(database_url, cookie_secure=setting), engine)
        response = sign_in(browser(app, base_url), user.name, user.password)
        assert ("secure" in cookie_attributes(response)) is secure, setting


def test_each_sign_in_gets_a_fresh_token_and_ends_the_one_before(
    gateway_app: Any, db: sessionmaker[Session]
) -> None:
    user = make_user(db)
    client = browser(gateway_app)
    first = cookie_attributes(sign_in(client, user.name, user.password))["value"]
    second = cookie_attributes(sign_in(client, user.name, user.password))["value"]
    assert first != second
    assert len(sessions_of(db, user.id)) == 1
    planted = browser(gateway_app)
    planted.cookies.set("innocredit_session", first, path="/dashboard")
    assert planted.post("/dashboard/api/token").status_code == 401


# ---------------------------------------------------------------- refusals


def test_every_refusal_gets_the_same_answer_and_the_audit_says_why(
    gateway_app: Any, db: sessionmaker[Session], admin_token: str, api: TestClient
) -> None:
    user, disabled = make_user(db), make_user(db)
    r = api.post(f"/v1/admin/users/{disabled.id}/disable", headers=bearer(admin_token))
    assert r.status_code == 200, r.text
    client = browser(gateway_app)
    answers = [
        sign_in(client, user.name, "not the password"),
        sign_in(client, "nobody-" + user.name, user.password),
        sign_in(client, disabled.name, disabled.password),
        sign_in(client, user.name, ""),
    ]
    for answer in answers:
        assert answer.status_code == 303
        assert answer.headers["location"] == FAILED
        assert "set-cookie" not in answer.headers
        assert answer.content == b""
    reasons = [
        (e.action, e.detail["reason"], e.client_id)
        for name in (user.name, "nobody-" + user.name, disabled.name)
        for e in audit_of(db, name)
    ]
    assert reasons == [
        ("sign-in-refused", "wrong-password", f"user:{user.id}"),
        ("sign-in-refused", "incomplete", None),
        ("sign-in-refused", "unknown-user", None),
        ("sign-in-refused", "disabled", f"user:{disabled.id}"),
    ]


def test_five_wrong_passwords_lock_for_fifteen_minutes_without_checking_more(
    gateway_app: Any, db: sessionmaker[Session], admin_token: str, api: TestClient
) -> None:
    user = make_user(db)
    client = browser(gateway_app)
    start = datetime.now(UTC)
    with frozen_at(start):
        for _ in range(5):
            assert sign_in(client, user.name, "wrong password").headers["location"] == FAILED
        locked = user_row(db, user.id)
        assert locked.failed_count == 5
        assert locked.locked_until == start + timedelta(minutes=15)
        # Locked: the right password is refused too, and never checked.
        assert sign_in(client, user.name, user.password).headers["location"] == FAILED
    with frozen_at(start + timedelta(minutes=14, seconds=59)):
        assert sign_in(client, user.name, user.password).headers["location"] == FAILED
    events = audit_of(db, user.name)
    assert [e.detail["reason"] for e in events] == ["wrong-password"] * 5 + ["locked"] * 2
    assert [e.detail["locked_now"] for e in events] == [False] * 4 + [True] + [False] * 2
    with frozen_at(start + timedelta(minutes=15)):
        assert sign_in(client, user.name, user.password).headers["location"] == "/dashboard/"
    assert (user_row(db, user.id).failed_count, user_row(db, user.id).locked_until) == (0, None)

    # A success in between starts the count again; the operator can unlock at once.
    for _ in range(4):
        sign_in(client, user.name, "wrong password")
    assert sign_in(client, user.name, user.password).headers["location"] == "/dashboard/"
    for _ in range(4):
        sign_in(client, user.name, "wrong password")
    assert user_row(db, user.id).locked_until is None
    sign_in(client, user.name, "wrong password")
    assert user_row(db, user.id).locked_until is not None
    r = api.post(f"/v1/admin/users/{user.id}/unlock", headers=bearer(admin_token))
    assert r.status_code == 200, r.text
    assert r.json()["locked_until"] is None
    assert sign_in(client, user.name, user.password).headers["location"] == "/dashboard/"


def test_concurrent_wrong_passwords_lock_once_and_check_at_most_five(
    database_url: str, engine: Engine, db: sessionmaker[Session]
) -> None:
    """Real threads against a real server, with the real argon2 cost, so checks overlap."""
    user = make_user(db, real_hash=True)
    app = build_gateway(make_settings(database_url, sign_in_ip_max_failures=1000), engine)
    threads_n = 16
    barrier = threading.Barrier(threads_n)
    answers: list[int | str] = []

    with serve_app(app) as url:

        def attempt() -> None:
            with httpx.Client(base_url=url, headers={"Origin": url}, timeout=60) as client:
                barrier.wait()
                r = client.post(
                    "/dashboard/sign-in", data={"name": user.name, "password": "wrong password"}
                )
                answers.append(r.headers.get("location", str(r.status_code)))

        threads = [threading.Thread(target=attempt) for _ in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert answers == [FAILED] * threads_n
    events = audit_of(db, user.name)
    reasons = [e.detail["reason"] for e in events]
    assert reasons.count("wrong-password") == 5, reasons  # argon2 ran five times, no more
    assert reasons.count("locked") == threads_n - 5
    assert sum(e.detail["locked_now"] for e in events) == 1
    row = user_row(db, user.id)
    assert row.failed_count == 5
    assert row.locked_until is not None
    with db.begin() as session:  # other live-server tests sign in from 127.0.0.1 too
        session.execute(text("DELETE FROM gw_sign_in_failure WHERE ip = '127.0.0.1'"))


def test_too_many_refusals_from_one_address_are_429_until_they_age_out(
    gateway_app: Any, db: sessionmaker[Session]
) -> None:
    user = make_user(db)
    names = [make_user(db).name for _ in range(20)]  # spraying: one try per name
    client, elsewhere = browser(gateway_app), browser(gateway_app)
    start = datetime.now(UTC)
    with frozen_at(start):
        for name in names:
            assert sign_in(client, name, "Winter2026!").headers["location"] == FAILED
    with frozen_at(start + timedelta(minutes=5)):
        refused = sign_in(client, user.name, user.password)
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("/problems/rate-limited")
        assert refused.headers["retry-after"] == str(10 * 60)
        assert sign_in(elsewhere, user.name, user.password).status_code == 303
    (event,) = [e for e in audit_of(db, user.name) if e.action == "sign-in-refused"]
    assert event.detail["reason"] == "too-many-failures-from-address"
    assert event.status == 429
    with frozen_at(start + timedelta(minutes=15, seconds=1)):
        assert sign_in(client, user.name, user.password).headers["location"] == "/dashboard/"
    # No single user was locked by it: each name had one try.
    assert user_row(db, user.id).locked_until is None


# ---------------------------------------------------------------- Origin, sign-out, expiry


@pytest.mark.parametrize(
    "path", ["/dashboard/sign-in", "/dashboard/sign-out", "/dashboard/api/token"]
)
@pytest.mark.parametrize("origin", [None, "null", "https://evil.example", "http://testserver:8080"])
def test_every_post_from_another_origin_is_403(
    gateway_app: Any, db: sessionmaker[Session], path: str, origin: str | None
) -> None:
    user = make_user(db)
    client = browser(gateway_app)
    assert sign_in(client, user.name, user.password).status_code == 303
    del client.headers["Origin"]
    headers = {"Origin": origin} if origin else {}
    response = client.post(
        path, data={"name": user.name, "password": user.password}, headers=headers
    )
    assert response.status_code == 403
    assert response.json()["type"].endswith("/problems/forbidden")
    assert len(sessions_of(db, user.id)) == 1  # neither ended nor a new one
    assert (
        client.post("/dashboard/api/token", headers={"Origin": "http://testserver"}).status_code
        == 200
    )


def test_sign_out_ends_the_session_and_its_tokens(
    gateway_app: Any, db: sessionmaker[Session], api: TestClient
) -> None:
    user = make_user(db)
    client = browser(gateway_app)
    sign_in(client, user.name, user.password)
    token = page_token(client)
    assert api.get("/v1/scoring/whoami", headers=bearer(token)).status_code == 200
    out = client.post("/dashboard/sign-out")
    assert out.status_code == 303
    assert out.headers["location"] == "/dashboard/sign-in"
    cleared = cookie_attributes(out)
    assert cleared["max-age"] == "0"
    assert cleared["path"] == "/dashboard"
    assert sessions_of(db, user.id) == []
    refused = api.get("/v1/scoring/whoami", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json()["detail"] == "The session has ended"
    assert client.post("/dashboard/api/token").status_code == 401
    actions = [e.action for e in _events_of(db, user.id)]
    assert actions == ["sign-in", "page-token", "sign-out"]


def _events_of(db: sessionmaker[Session], user_id: int) -> list[AuditEvent]:
    with db() as session:
        stmt = select(AuditEvent).where(AuditEvent.client_id == f"user:{user_id}")
        return list(session.scalars(stmt.order_by(AuditEvent.id)))


def test_a_session_ends_after_eight_hours_however_busy(
    gateway_app: Any, db: sessionmaker[Session]
) -> None:
    user = make_user(db)
    client = browser(gateway_app)
    start = datetime.now(UTC)
    with frozen_at(start):
        sign_in(client, user.name, user.password)
    moment = start
    while moment < start + timedelta(hours=8) - timedelta(minutes=20):
        moment += timedelta(minutes=20)
        with frozen_at(moment):
            assert client.post("/dashboard/api/token").status_code == 200, moment - start
    with frozen_at(start + timedelta(hours=8)):
        assert client.post("/dashboard/api/token").status_code == 401
    assert sessions_of(db, user.id) == []


def test_a_session_ends_after_thirty_idle_minutes(
    gateway_app: Any, db: sessionmaker[Session]
) -> None:
    user = make_user(db)
    client = browser(gateway_app)
    start = datetime.now(UTC)
    with frozen_at(start):
        sign_in(client, user.name, user.password)
    with frozen_at(start + timedelta(seconds=30)):
        assert client.post("/dashboard/api/token").status_code == 200
    (seen,) = sessions_of(db, user.id)
    assert seen.last_seen_at == start  # within the minute: not written
    with frozen_at(start + timedelta(minutes=29)):
        assert client.post("/dashboard/api/token").status_code == 200
    (seen,) = sessions_of(db, user.id)
    assert seen.last_seen_at == start + timedelta(minutes=29)
    with frozen_at(start + timedelta(minutes=58, seconds=59)):
        assert client.post("/dashboard/api/token").status_code == 200
    with frozen_at(start + timedelta(minutes=58, seconds=59) + timedelta(minutes=30)):
        assert client.post("/dashboard/api/token").status_code == 401
    assert sessions_of(db, user.id) == []
