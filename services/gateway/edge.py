"""The gateway's edge: authenticate `/v1/*`, rate-limit per client, audit writes, route inward.

One `/v1` read is public (`PUBLIC_READS`): checking a 诊断书 by its verification code, which
anyone holding the document may do. It is served without a token, to everyone alike, and
rate-limited per client address at the default rate (as the token endpoint is per client id).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway import service
from services.gateway.directory import ClientDirectory, directory_key
from services.gateway.quota import SharedQuota
from shared.auth.deps import PRINCIPAL_STATE, authenticate
from shared.auth.jwt import TokenVerifier
from shared.auth.principal import Principal
from shared.errors import RateLimited, Unauthorized
from shared.methods import SERVED_METHODS, routes_of
from shared.middleware import header
from shared.problems import Problem, send_problem

log = logging.getLogger("innocredit.gateway")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AUDIT_CLIENT_STATE = "audit_client_id"
AUDIT_DETAIL_STATE = "audit_detail"
AUDIT_ACTION_STATE = "audit_action"  # a handler's name for what the request did (`sign-in`)
PUBLIC_READS = (re.compile(r"/v1/scoring/diagnosis-documents/[^/]+"),)
"""`/v1` paths a GET (or HEAD) reaches without a token."""


@dataclass(frozen=True, slots=True)
class Route:
    """Requests whose path is `prefix` or below it go to `app`."""

    prefix: str
    app: ASGIApp

    def matches(self, path: str) -> bool:
        """Whether `path` is this route's prefix or lies below it."""
        return path == self.prefix or path.startswith(self.prefix + "/")


class Edge:
    """ASGI app in front of everything: auth, per-client quota, audit, then dispatch."""

    def __init__(
        self,
        *,
        core: ASGIApp,
        routes: Sequence[Route],
        verifier: TokenVerifier,
        directory: ClientDirectory,
        limiter: SharedQuota,
        default_rate_per_minute: int,
        sessionmaker: sessionmaker[Session],
    ) -> None:
        self.core = core
        # Longest prefix first, so /v1/admin/banks beats a shorter prefix.
        self.routes = sorted(routes, key=lambda r: len(r.prefix), reverse=True)
        self.verifier = verifier
        self.directory = directory
        self.limiter = limiter
        self.default_rate = default_rate_per_minute
        self.sessionmaker = sessionmaker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.core(scope, receive, send)
            return
        path: str = scope["path"]
        target = self._target(path)
        if scope["method"] not in SERVED_METHODS:
            # Only a proxied service's requests get here (`routes_for`): it refuses the
            # method itself, so there is nothing to authenticate, count or audit.
            await target(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if path.startswith("/v1/") and _public(scope["method"], path):
            if not await self._admit_anonymous(scope, send):
                return
        elif path.startswith("/v1/"):
            principal = await self._authenticate(scope, send)
            if principal is None:
                return
            state[PRINCIPAL_STATE] = principal
            state[AUDIT_CLIENT_STATE] = principal.client_id
        if scope["method"] in WRITE_METHODS:
            send = self._audited(scope, send)
        await target(scope, receive, send)

    def _target(self, path: str) -> ASGIApp:
        return next((r.app for r in self.routes if r.matches(path)), self.core)

    def routes_for(self, scope: Scope) -> Sequence[BaseRoute] | None:
        """The route table behind a request: the gateway's own or an in-process service's;
        None for a proxied service (it has its own, in its own process)."""
        return routes_of(self._target(scope["path"]))

    async def _authenticate(self, scope: Scope, send: Send) -> Principal | None:
        try:
            principal = await authenticate(self.verifier, header(scope, b"authorization"))
        except Unauthorized as refused:
            await send_problem(scope, send, Problem.of(refused))
            return None
        # A dashboard user's token names its session too: it is good while that stands.
        key = directory_key(principal)
        hit, status = self.directory.cached(key)
        if not hit:
            status = await to_thread.run_sync(self.directory.load, key)
        if status is None or not status.enabled:
            gone = "The session has ended" if principal.session_id else "The client is disabled"
            await send_problem(scope, send, Problem.of(Unauthorized(gone)))
            return None
        retry_after = await self.limiter.acquire(
            principal.client_id, status.rate_limit_per_minute or self.default_rate
        )
        if retry_after is not None:
            await send_problem(scope, send, Problem.of(RateLimited(retry_after)))
            return None
        return principal

    async def _admit_anonymous(self, scope: Scope, send: Send) -> bool:
        """Spend a token of the client address's bucket (default rate); 429 when empty."""
        client = scope.get("client")
        address = client[0] if client else "unknown"
        retry_after = await self.limiter.acquire("anonymous:" + address, self.default_rate)
        if retry_after is not None:
            await send_problem(scope, send, Problem.of(RateLimited(retry_after)))
            return False
        return True

    def _audited(self, scope: Scope, send: Send) -> Send:
        """Wrap `send` so an audit row is written before the response starts."""

        async def audited_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                change = _proposed_change(message)
                await to_thread.run_sync(self._write_audit, scope, message["status"], change)
            await send(message)

        return audited_send

    def _write_audit(self, scope: Scope, status: int, change: str | None = None) -> None:
        state = scope.get("state", {})
        detail = state.get(AUDIT_DETAIL_STATE) or {}
        if change is not None:
            detail = {**detail, "change": change}
        try:
            with self.sessionmaker.begin() as session:
                service.record_audit(
                    session,
                    client_id=state.get(AUDIT_CLIENT_STATE),
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    request_id=state.get("request_id"),
                    action=state.get(AUDIT_ACTION_STATE) or f"{scope['method']} {scope['path']}",
                    detail=detail,
                )
        except Exception:  # the audit trail must not turn a served request into an error
            log.exception("audit write failed", extra={"path": scope["path"], "status": status})


_CHANGES = b"/v1/admin/changes/"


def _proposed_change(start: Message) -> str | None:
    """The change a governed write proposed (its 202's `Location`), for the audit row: read
    from the answer, so a proxied service's proposal is recorded as an in-process one is."""
    if start["status"] != 202:
        return None
    for name, value in start.get("headers", ()):
        if name.lower() == b"location" and value.startswith(_CHANGES):
            return str(value[len(_CHANGES) :].decode("latin-1"))
    return None


def _public(method: str, path: str) -> bool:
    return method in ("GET", "HEAD") and any(p.fullmatch(path) for p in PUBLIC_READS)
