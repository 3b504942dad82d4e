"""Split mode: forward a request to a separately running service over pooled httpx connections."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
from starlette.types import Message, Receive, Scope, Send

from shared.errors import ServiceUnavailable
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


class ServiceProxy:
    """An ASGI app that relays each request to `base_url`, streaming both bodies."""

    def __init__(self, name: str, base_url: str, *, timeout_seconds: float) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_seconds, connect=5.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in scope.get("headers", ()) if k.lower() not in _HOP_BY_HOP]
        client = scope.get("client")
        if client:
            headers.append((b"x-forwarded-for", str(client[0]).encode()))

        request = self._client.build_request(
            scope["method"],
            httpx.URL(
                path=scope.get("raw_path", scope["path"].encode()).decode("latin-1"),
                query=scope.get("query_string", b""),
            ),
            headers=headers,
            content=_request_body(receive),
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TransportError as exc:
            log.warning("upstream unavailable", extra={"service": self.name, "error": str(exc)})
            unreachable = ServiceUnavailable(
                f"The {self.name} service is not reachable; retry shortly",
                headers={"Retry-After": "2"},
            )
            await send_problem(scope, send, Problem.of(unreachable))
            return
        try:
            out_headers = [
                (k.lower(), v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP
            ]
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": out_headers,
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()


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
