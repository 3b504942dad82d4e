"""Pure-ASGI middleware at the edge of every app: request id, access log, unknown methods,
body size limit and the catch-all, and `edge_middleware`, the one stack of them (admission,
`shared.admission`, included) both a service on its own and the gateway put in front of
their apps."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.admission import AdmissionGate, AdmissionMiddleware
from shared.errors import PayloadTooLarge
from shared.logging import request_id_var
from shared.methods import (
    SERVED_METHODS,
    HeadMiddleware,
    RoutesFor,
    app_routes,
    method_not_allowed,
    path_methods,
)
from shared.problems import Problem, problem_for, send_problem
from shared.settings import CoreSettings

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")

log = logging.getLogger("innocredit.access")


def header(scope: Scope, name: bytes) -> str | None:
    """Return the first value of request header `name` (lower-case bytes), decoded as latin-1."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def replace_header(scope: Scope, name: bytes, value: str) -> None:
    """Set request header `name` to `value` in `scope`, dropping other values."""
    headers = [(k, v) for k, v in scope.get("headers", ()) if k != name]
    headers.append((name, value.encode("latin-1")))
    scope["headers"] = headers


class RequestIdMiddleware:
    """Take a sane caller X-Request-ID or make one; store it, forward it inward, echo it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = header(scope, REQUEST_ID_HEADER.encode())
        request_id = given if given and _SANE_REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        replace_header(scope, REQUEST_ID_HEADER.encode(), request_id)
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class _BodyTooLargeError(HTTPException):
    """Raised from `receive`; an HTTPException so FastAPI's body parsing re-raises it as is."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body exceeds the limit of {limit} bytes")


class BodyLimitMiddleware:
    """Refuse request bodies over a size limit with 413, whether announced or streamed."""

    def __init__(self, app: ASGIApp, *, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await send_problem(
                    scope,
                    send,
                    Problem(400, "bad-request", "Bad request", "Content-Length is not a number"),
                )
                return
            if int(declared) > limit:
                await self._too_large(scope, send, limit)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLargeError(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLargeError:
            if started:
                raise
            await self._too_large(scope, send, limit)

    @staticmethod
    async def _too_large(scope: Scope, send: Send, limit: int) -> None:
        too_large = PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes")
        await send_problem(scope, send, Problem.of(too_large))


class AccessLogMiddleware:
    """Log one structured line per request: method, path, status, duration, client."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            principal = scope.get("state", {}).get("principal")
            log.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "client_id": getattr(principal, "client_id", None),
                },
            )


class MethodGuardMiddleware:
    """Answer a method no route takes `405 method-not-allowed`, with `Allow` naming the
    methods the path does take (none for an unknown path), before authentication, body or
    admission: `TRACE /` and `TRACE /v1/no-such` are 405 like `TRACE` on a real route.

    `routes_for` gives the route table behind a request; None (a split gateway's proxied
    service) lets the request through, for the service's own guard to answer.
    """

    def __init__(self, app: ASGIApp, *, routes_for: RoutesFor = app_routes) -> None:
        self.app = app
        self.routes_for = routes_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SERVED_METHODS:
            routes = self.routes_for(scope)
            if routes is not None:
                allow = ", ".join(path_methods(routes, scope))
                await send_problem(scope, send, method_not_allowed(scope["method"], allow))
                return
        await self.app(scope, receive, send)


class CatchAllMiddleware:
    """Answer an exception that escaped the app with its problem (`problem_for`: a domain
    error as it says, a database failure as 503/504, anything else 500), request id and all."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # an inner handler already answered; nothing more can be sent
                log.debug("exception after response start", exc_info=True)
                return
            problem = problem_for(exc, path=scope.get("path", ""))
            await send_problem(scope, send, problem)


# ---------------------------------------------------------------- the edge, assembled

# Admin bulk uploads (indicator files, points) may be larger than any other body.
UPLOAD_PREFIXES = ("/v1/admin/",)


def body_limit(settings: CoreSettings) -> Callable[[str], int]:
    """Return the body-size limit for a path: larger for admin bulk uploads."""

    def limit_for(path: str) -> int:
        if path.startswith(UPLOAD_PREFIXES):
            return settings.max_upload_bytes
        return settings.max_body_bytes

    return limit_for


def edge_middleware(
    settings: CoreSettings,
    *,
    admission: AdmissionGate | None = None,
    routes_for: RoutesFor = app_routes,
) -> list[Middleware]:
    """The middleware in front of a process's apps, outermost first.

    The request id comes first so every later line and problem carries it; the access log
    sees every answer, shed and refused ones included; an unknown method is refused before
    anything else is done for it, and a HEAD runs as a GET without its body; the body limit
    bounds what admission buffers; the catch-all, innermost, answers what escaped the app
    while the request still holds its slot. `admission` is the process's gate (default:
    `settings`' limits, for one service); `routes_for` finds the route table behind a
    request (default: the Starlette app's).
    """
    gate = admission if admission is not None else AdmissionGate.for_settings(settings)
    return [
        Middleware(RequestIdMiddleware),
        Middleware(AccessLogMiddleware),
        Middleware(MethodGuardMiddleware, routes_for=routes_for),
        Middleware(HeadMiddleware),
        Middleware(BodyLimitMiddleware, limit_for=body_limit(settings)),
        Middleware(AdmissionMiddleware, gate, body_timeout=settings.body_timeout_seconds),
        Middleware(CatchAllMiddleware),
    ]


def wrapped(app: ASGIApp, middleware: Sequence[Middleware]) -> ASGIApp:
    """`app` behind `middleware` (outermost first), as Starlette would stack it."""
    for cls, args, kwargs in reversed(middleware):
        app = cls(app, *args, **kwargs)
    return app
