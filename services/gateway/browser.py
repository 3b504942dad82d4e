"""What the gateway's pages for a browser (everything under /dashboard) share: their security
headers, the Origin check every POST passes, the session cookie's attributes and the caller's
address.

The headers are a strict Content-Security-Policy (`script-src 'self'`, no inline script or
style, nothing from another origin; /work/notes/dashboard-research.md §1 tested it against
ECharts), `nosniff`, `Referrer-Policy: same-origin` and no caching of pages that know who is
signed in. SameSite=Strict keeps the cookie off cross-*site* requests, but a sibling subdomain
is the same site; so a POST under /dashboard must also come from this very origin (the
`Origin` header every browser sends with a POST), or it is 403: no cross-origin sign-in
(login CSRF), sign-out or token minting.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from fastapi import Request, Response
from sqlalchemy.orm import Session

from services.gateway import sessions
from services.gateway.sessions import COOKIE_NAME, COOKIE_PATH
from shared import clock
from shared.errors import Forbidden

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Headers of every page and answer under /dashboard that depends on who is signed in."""


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def expected_origin(request: Request) -> str:
    """This gateway's origin as the browser sees it: `INNOCREDIT_PUBLIC_URL`'s, else the
    request's own scheme and Host (after uvicorn's `--proxy-headers`, behind an ingress)."""
    public_url: str | None = request.app.state.settings.public_url
    if public_url:
        return _origin_of(public_url)
    host = request.headers.get("host", "")
    return f"{request.url.scheme}://{host}".lower()


async def require_same_origin(request: Request) -> None:
    """Refuse (403) a POST whose `Origin` is missing, `null` or another origin's."""
    origin = request.headers.get("origin")
    if origin is None or origin.lower().rstrip("/") != expected_origin(request):
        raise Forbidden(
            "This form or call under /dashboard only comes from the dashboard's own pages "
            "(the Origin header is missing or names another origin)"
        )


def live_session(request: Request, session: Session) -> sessions.SignedIn | None:
    """The live session this browser's cookie names, or None (`sessions.find` under the
    `INNOCREDIT_SESSION_IDLE_SECONDS` setting, at the business clock's now)."""
    return sessions.find(
        session,
        request.cookies.get(COOKIE_NAME),
        now=clock.now(),
        idle_seconds=request.app.state.settings.session_idle_seconds,
    )


def client_ip(request: Request) -> str:
    """The caller's address: the peer's, or the one a trusted proxy forwarded (uvicorn
    `--proxy-headers` with `--forwarded-allow-ips`; README "Users and the dashboard sign-in")."""
    return request.client.host if request.client is not None else "unknown"


CookieSecure = Literal["auto", "always", "never"]


def set_session_cookie(
    response: Response, request: Request, token: str, *, max_age: int, secure: CookieSecure
) -> None:
    """The session cookie: script cannot read it, no other site sends it, only /dashboard
    gets it (never `/v1`, which knows only bearer tokens); `Secure` per `secure` (`auto`:
    when this request came over https)."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=is_secure(request, secure),
    )


def clear_session_cookie(response: Response, request: Request, *, secure: CookieSecure) -> None:
    """Tell the browser to forget the session cookie."""
    response.delete_cookie(
        COOKIE_NAME,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=is_secure(request, secure),
    )


def is_secure(request: Request, secure: CookieSecure) -> bool:
    """Whether the cookie is marked `Secure` under the `INNOCREDIT_COOKIE_SECURE` setting."""
    if secure == "auto":
        return request.url.scheme == "https"
    return secure == "always"
