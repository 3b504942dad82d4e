"""The dashboard's sign-in, sign-out and page token (`/dashboard/...`), for a browser.

`POST /dashboard/sign-in` takes an HTML form (`name`, `password`): on success a fresh session
cookie and `303` to `/dashboard/`; on any refusal — wrong password, unknown name, disabled
or locked user — the same `303` to `/dashboard/sign-in?failed=1` (the reason goes to the audit
trail only), and `429` when the address has too many refusals. `POST /dashboard/sign-out`
ends the session. `POST /dashboard/api/token` gives the page its `/v1` token
(services/gateway/page_token.py). Every POST passes the Origin check
(services/gateway/browser.py) and writes one audit row: `sign-in`, `sign-in-refused` (with
the reason), `sign-out`, `page-token`. These routes are for the page, not API clients: they
are not in the OpenAPI document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from services.gateway import lockout, sessions
from services.gateway.browser import (
    PAGE_HEADERS,
    clear_session_cookie,
    client_ip,
    live_session,
    require_same_origin,
    set_session_cookie,
)
from services.gateway.directory import ClientDirectory
from services.gateway.edge import AUDIT_ACTION_STATE, AUDIT_CLIENT_STATE, AUDIT_DETAIL_STATE
from services.gateway.page_token import mint
from shared import clock
from shared.errors import RateLimited, Unauthorized, UnsupportedMediaType
from shared.settings import CoreSettings

dashboard = APIRouter(prefix="/dashboard", include_in_schema=False)
SAME_ORIGIN = [Depends(require_same_origin)]
MAX_NAME = 100
MAX_PASSWORD = 1024


def _limits(settings: CoreSettings) -> lockout.Limits:
    return lockout.Limits(
        max_failures=settings.sign_in_max_failures,
        lock_seconds=settings.sign_in_lock_seconds,
        ip_max_failures=settings.sign_in_ip_max_failures,
        ip_window_seconds=settings.sign_in_ip_window_seconds,
    )


def _audit(request: Request, action: str, client_id: str | None, **detail: Any) -> None:
    state = request.scope.setdefault("state", {})
    state[AUDIT_ACTION_STATE] = action
    state[AUDIT_CLIENT_STATE] = client_id
    state[AUDIT_DETAIL_STATE] = detail


def _form(body: bytes, content_type: str) -> dict[str, str]:
    """The fields of a urlencoded form; a field given twice counts as not given."""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("Send the sign-in form as application/x-www-form-urlencoded")
    text = body.decode("utf-8", "replace")
    parsed = parse_qs(text, keep_blank_values=True, max_num_fields=10)
    return {k: v[0] for k, v in parsed.items() if len(v) == 1}


@dataclass(frozen=True, slots=True)
class _SignIn:
    outcome: lockout.Outcome | None
    token: str | None = None
    retry_after: int | None = None


def _sign_in(request: Request, name: str, password: str, ip: str) -> _SignIn:
    """Blocking (argon2): the per-address limit, the attempt, then the session or the count."""
    settings: CoreSettings = request.app.state.settings
    factory = request.app.state.sessionmaker
    limits = _limits(settings)
    now = clock.now()
    with factory.begin() as session:
        retry_after = lockout.address_retry_after(session, ip, now=now, limits=limits)
    if retry_after is not None:
        return _SignIn(None, retry_after=retry_after)
    if not name or not password:
        return _SignIn(lockout.Outcome(None, "incomplete"))
    outcome = lockout.attempt(factory, name, password, now=now, limits=limits)
    with factory.begin() as session:
        if not outcome.ok or outcome.user_id is None:
            lockout.record_address_failure(session, ip, now=now, limits=limits)
            return _SignIn(outcome)
        # A session cookie the browser already had is ended, not reused (no fixation).
        sessions.end(session, request.cookies.get(sessions.COOKIE_NAME))
        token, _ = sessions.start(
            session,
            outcome.user_id,
            now=now,
            absolute_seconds=settings.session_absolute_seconds,
            ip=ip,
            user_agent=request.headers.get("user-agent"),
        )
    return _SignIn(outcome, token=token)


@dashboard.post("/sign-in", dependencies=SAME_ORIGIN, response_class=HTMLResponse)
async def sign_in(request: Request) -> RedirectResponse:
    """Check the form's name and password; a session cookie and 303 to the dashboard, or 303
    back to the form saying only that it failed."""
    form = _form(await request.body(), request.headers.get("content-type", ""))
    name = form.get("name", "").strip()[:MAX_NAME]
    password = form.get("password", "")[:MAX_PASSWORD]
    ip = client_ip(request)
    seen = {"name": name, "ip": ip, "user_agent": request.headers.get("user-agent", "")[:200]}
    result = await to_thread.run_sync(_sign_in, request, name, password, ip)
    if result.retry_after is not None:
        _audit(request, "sign-in-refused", None, **seen, reason="too-many-failures-from-address")
        raise RateLimited(result.retry_after)
    outcome = result.outcome
    assert outcome is not None  # noqa: S101  (set whenever retry_after is not)
    subject = sessions.user_subject(outcome.user_id) if outcome.user_id is not None else None
    if result.token is None:
        _audit(
            request,
            "sign-in-refused",
            subject,
            **seen,
            reason=outcome.reason,
            locked_now=outcome.locked_now,
        )
        return RedirectResponse("/dashboard/sign-in?failed=1", 303, headers=PAGE_HEADERS)
    _audit(request, "sign-in", subject, **seen)
    settings: CoreSettings = request.app.state.settings
    response = RedirectResponse("/dashboard/", 303, headers=PAGE_HEADERS)
    set_session_cookie(
        response,
        request,
        result.token,
        max_age=settings.session_absolute_seconds,
        secure=settings.cookie_secure,
    )
    return response


@dashboard.post("/sign-out", dependencies=SAME_ORIGIN, response_class=HTMLResponse)
async def sign_out(request: Request) -> RedirectResponse:
    """End this browser's session (its page tokens stop within the client cache's seconds)
    and forget the cookie; 303 to the sign-in form."""
    token = request.cookies.get(sessions.COOKIE_NAME)

    def end() -> sessions.SignedIn | None:
        with request.app.state.sessionmaker.begin() as session:
            return sessions.end(session, token)

    ended = await to_thread.run_sync(end)
    subject = sessions.user_subject(ended.user_id) if ended is not None else None
    if ended is not None:
        directory: ClientDirectory = request.app.state.client_directory
        directory.forget_user(ended.user_id)
    _audit(request, "sign-out", subject, ip=client_ip(request), had_session=ended is not None)
    settings: CoreSettings = request.app.state.settings
    response = RedirectResponse("/dashboard/sign-in", 303, headers=PAGE_HEADERS)
    clear_session_cookie(response, request, secure=settings.cookie_secure)
    return response


@dashboard.post("/api/token", dependencies=SAME_ORIGIN)
async def page_token(request: Request) -> JSONResponse:
    """The page's `/v1` token for this browser's session: `{access_token, token_type,
    expires_in, scope, user: {name, role, bank_code}}`, never cached; 401 without a live
    session."""
    settings: CoreSettings = request.app.state.settings

    def issue() -> tuple[sessions.SignedIn, Any] | None:
        with request.app.state.sessionmaker.begin() as session:
            found = live_session(request, session)
            if found is None:
                return None
            issued = mint(
                session,
                found,
                encryptor=request.app.state.key_encryptor,
                issuer=settings.issuer,
                audience=settings.audience,
                max_ttl_seconds=settings.token_ttl_seconds,
            )
            return found, issued

    result = await to_thread.run_sync(issue)
    if result is None:
        _audit(request, "page-token-refused", None, ip=client_ip(request))
        raise Unauthorized("Not signed in, or the session has ended", error_code=None)
    found, issued = result
    _audit(request, "page-token", sessions.user_subject(found.user_id), sid=str(found.session_id))
    body = {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
        "user": {"name": found.name, "role": found.role, "bank_code": found.bank_code},
    }
    return JSONResponse(body, headers={**PAGE_HEADERS, "Pragma": "no-cache"})


@dashboard.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request) -> HTMLResponse:
    """The sign-in form (server-rendered, no script)."""
    failed = request.query_params.get("failed") == "1"
    return HTMLResponse(render_sign_in(failed=failed), headers=PAGE_HEADERS)


def render_sign_in(*, failed: bool) -> str:
    """The sign-in page: a plain form posting to itself; after a refusal, one message for
    every reason."""
    message = (
        '<p role="alert">用户名或密码错误，或账户暂时锁定。'
        "Wrong name or password, or the account is locked for a while.</p>"
        if failed
        else ""
    )
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 · 创新积分贷 InnoCredit</title>
<link rel="icon" href="data:,">
</head>
<body>
<main>
<h1>创新积分贷 · 登录 <small>Sign in</small></h1>
{message}
<form method="post" action="/dashboard/sign-in">
<p><label for="name">用户名 Name</label><br>
<input id="name" name="name" autocomplete="username" required maxlength="{MAX_NAME}"></p>
<p><label for="password">密码 Password</label><br>
<input id="password" name="password" type="password" autocomplete="current-password" required>
</p>
<p><button type="submit">登录 Sign in</button></p>
</form>
</main>
</body>
</html>
"""
