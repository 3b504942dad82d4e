"""Pure-ASGI middleware at the edge of every app: request id, access log, body size limit,
load shedding and the catch-all, and `edge_middleware`, the one stack of them both a service
on its own and the gateway put in front of their apps."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import PayloadTooLarge
from shared.logging import request_id_var
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


HEALTH_PATHS = ("/healthz", "/readyz")
JWKS_PATH = "/.well-known/jwks.json"


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


class InFlightLimitMiddleware:
    """Shed load instead of queueing it: with `limit` requests already in flight in this
    process, the next one is answered `503 overloaded` with `Retry-After` at once.

    Without it, an overload queues requests for worker threads and pooled connections until
    clients time out — and the server still works through the requests they gave up on, so a
    short burst above capacity turns into a collapse. A request takes its slot only once its
    body has arrived (bounded by the body limit outside this middleware, and by
    `body_timeout` seconds, then `408`): a client that sends slowly, or not at all, holds no
    slot. Health probes and the JWKS (which split services need to verify any token) are never
    shed.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        *,
        body_timeout: float = 60.0,
        exempt: tuple[str, ...] = (*HEALTH_PATHS, JWKS_PATH),
    ) -> None:
        self.app = app
        self.limit = limit
        self.body_timeout = body_timeout
        self.exempt = exempt
        self.in_flight = 0  # one event loop per process: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        try:
            body = await asyncio.wait_for(_read_body(receive), self.body_timeout)
        except TimeoutError:
            await send_problem(
                scope,
                send,
                Problem(
                    408,
                    "request-timeout",
                    "Request timeout",
                    f"The request body did not arrive within {self.body_timeout:g} s",
                    headers={"Connection": "close"},
                ),
            )
            return
        if body is None:  # the client went away before sending its body
            return
        if self.in_flight >= self.limit:
            log.warning("overloaded: request shed", extra={"path": scope["path"]})
            await send_problem(
                scope,
                send,
                Problem(
                    503,
                    "overloaded",
                    "Service unavailable",
                    f"{self.limit} requests are already in flight; retry shortly",
                    headers={"Retry-After": "1"},
                ),
            )
            return
        self.in_flight += 1
        try:
            await self.app(scope, _replay(body, receive), send)
        finally:
            self.in_flight -= 1


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None if the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the buffered body, then the client's later messages."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


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


def edge_middleware(settings: CoreSettings, *, max_in_flight: int) -> list[Middleware]:
    """The middleware in front of a process's apps, outermost first.

    The request id comes first so every later line and problem carries it; the access log
    sees every answer, shed and refused ones included; the body limit bounds what the
    in-flight limit buffers; the catch-all, innermost, answers what escaped the app while
    the request still holds its in-flight slot. `max_in_flight` is the process's limit (a
    split gateway admits that many per service it fronts).
    """
    return [
        Middleware(RequestIdMiddleware),
        Middleware(AccessLogMiddleware),
        Middleware(BodyLimitMiddleware, limit_for=body_limit(settings)),
        Middleware(
            InFlightLimitMiddleware, limit=max_in_flight, body_timeout=settings.body_timeout_seconds
        ),
        Middleware(CatchAllMiddleware),
    ]


def wrapped(app: ASGIApp, middleware: Sequence[Middleware]) -> ASGIApp:
    """`app` behind `middleware` (outermost first), as Starlette would stack it."""
    for cls, args, kwargs in reversed(middleware):
        app = cls(app, *args, **kwargs)
    return app
