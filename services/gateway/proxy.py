"""Split mode: forward a request to a separately running service over pooled aiohttp connections."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
from starlette.types import Message, Receive, Scope, Send
from yarl import URL

from shared.errors import ServiceUnavailable
from shared.methods import SERVED_METHODS, method_not_allowed
from shared.problems import Problem, send_problem

log = logging.getLogger("innocredit.gateway.proxy")

# Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded either way.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
    }
)
# Headers aiohttp would add on its own: only what the client sent goes upstream.
_NOT_ADDED = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class ServiceProxy:
    """An ASGI app that relays each request to `base_url`, streaming both bodies.

    aiohttp rather than httpx: `bench/gateway.py`'s split target measured the httpx 0.28 pool
    at about 2.5 ms of gateway CPU per forwarded request, aiohttp 3.14 at about 0.8 ms. The
    timeout is between reads (a long export keeps streaming), 5 s to connect.
    """

    def __init__(self, name: str, base_url: str, *, timeout_seconds: float) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=5.0, sock_read=timeout_seconds, sock_connect=5.0
        )
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        """The pooled session, made on first use: it belongs to the serving event loop."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=200, limit_per_host=200),
                auto_decompress=False,  # bodies pass through as the service encoded them
                skip_auto_headers=_NOT_ADDED,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def aclose(self) -> None:
        """Close the pooled connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope.get("headers", ())
            if k.lower() not in _HOP_BY_HOP
        ]
        client = scope.get("client")
        if client:
            headers.append(("x-forwarded-for", str(client[0])))
        target = self.base_url + scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"")
        if query:
            target += "?" + query.decode("latin-1")
        method = scope["method"]
        # A method no route takes is refused with the service's `Allow` for the path, asked
        # with a bodiless OPTIONS (also refused there): CONNECT, for one, cannot be forwarded
        # as such, its request line names a host, not a path.
        probing = method not in SERVED_METHODS
        try:
            response = await self._client().request(
                "OPTIONS" if probing else method,
                URL(target, encoded=True),  # the path and query exactly as the client sent them
                headers=headers,
                data=_request_body(receive) if _has_body(scope) and not probing else None,
                allow_redirects=False,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("upstream unavailable", extra={"service": self.name, "error": str(exc)})
            unreachable = ServiceUnavailable(
                f"The {self.name} service is not reachable; retry shortly",
                headers={"Retry-After": "2"},
            )
            await send_problem(scope, send, Problem.of(unreachable))
            return
        async with response:
            if probing and response.status == 405:
                allow = response.headers.get("Allow", "")
                await send_problem(scope, send, method_not_allowed(method, allow))
                return
            out_headers = [
                (k.lower(), v) for k, v in response.raw_headers if k.lower() not in _HOP_BY_HOP
            ]
            await send(
                {"type": "http.response.start", "status": response.status, "headers": out_headers}
            )
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})


def _has_body(scope: Scope) -> bool:
    """Whether the request announces a body (RFC 9112 §6.3: Content-Length or
    Transfer-Encoding). One without is forwarded as such: a streamed body would go upstream
    chunked, an extra write and parse per GET."""
    return any(k in (b"content-length", b"transfer-encoding") for k, _ in scope["headers"])


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return
