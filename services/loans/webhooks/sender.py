"""One HTTP POST of a webhook, to public addresses only, and what came of it.

The session never follows a redirect, never reads a proxy from the environment (an
`HTTPS_PROXY` would connect where the address checks never looked), and resolves through
`GuardedResolver`, which refuses a host when any of its addresses is not public; aiohttp then
connects only to the addresses the resolver returned, so the address checked is the one
connected to (no DNS-rebinding window). SNI and the certificate check use the host name.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from services.loans.webhooks.addresses import check_url, refusal
from services.loans.webhooks.signing import signature_header
from shared import clock

USER_AGENT = "InnoCredit-Webhooks/1"
EXCERPT_BYTES = 512


class AddressRefused(OSError):
    """A webhook host resolved to an address webhooks may not go to (its class is said,
    never the address: the bank sees the error)."""


class GuardedResolver(AbstractResolver):
    """Resolves with `inner` and refuses the host if any address it returned is refused by
    `addresses.refusal`: a host with one public and one private address is refused whole."""

    def __init__(self, inner: AbstractResolver, *, allow_loopback: bool) -> None:
        self._inner = inner
        self._allow_loopback = allow_loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The inner resolver's answers, if every one is a public address."""
        answers = await self._inner.resolve(host, port, family)
        for answer in answers:
            ip = ipaddress.ip_address(answer["host"].split("%", 1)[0])
            reason = refusal(ip, allow_loopback=self._allow_loopback)
            if reason is not None:
                raise AddressRefused(f"{host.rstrip('.')} resolves to a {reason} address")
        return answers

    async def close(self) -> None:
        """Close the inner resolver."""
        await self._inner.close()


def new_session(*, concurrency: int, timeout: float, allow_loopback: bool) -> aiohttp.ClientSession:
    """The worker's HTTP session (call inside its event loop): `concurrency` connections,
    as many to one host (no send waits for a pooled connection inside its timeout)."""
    resolver = GuardedResolver(aiohttp.ThreadedResolver(), allow_loopback=allow_loopback)
    connector = aiohttp.TCPConnector(
        resolver=resolver, use_dns_cache=False, limit=concurrency, limit_per_host=concurrency
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout, connect=min(5.0, timeout)),
        trust_env=False,
        auto_decompress=False,
    )


@dataclass(frozen=True)
class Sent:
    """What one attempt came to. `outcome` is an attempt outcome of `models.ATTEMPT_OUTCOMES`
    (`delivered`, `gone`, or a failure); `retry_after` the raw header of a 429 or 503."""

    outcome: str
    latency_ms: int
    status: int | None = None
    error: str | None = None
    excerpt: str | None = None
    retry_after: str | None = None


@dataclass(frozen=True)
class Message:
    """A delivery to send: the event's id and stored body, the endpoint and its secrets."""

    msg_id: str
    body: bytes
    url: str
    secret: bytes
    previous_secret: bytes | None


async def send(session: aiohttp.ClientSession, message: Message, *, allow_loopback: bool) -> Sent:
    """POST `message` once, signed with a timestamp taken just before sending; never raises
    for what the network or the endpoint does."""
    started = time.monotonic()

    def took() -> int:
        return round((time.monotonic() - started) * 1000)

    problems = check_url(message.url, allow_loopback=allow_loopback)
    if problems:
        return Sent("address-refused", took(), error="the URL " + "; ".join(problems))
    at = clock.now()
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message.msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature_header(
            message.secret, message.previous_secret, message.msg_id, at, message.body
        ),
    }
    try:
        async with session.post(
            message.url, data=message.body, headers=headers, allow_redirects=False
        ) as response:
            excerpt = (await response.content.read(EXCERPT_BYTES)).decode("utf-8", "replace")
            return _answered(response, excerpt, took())
    except aiohttp.ClientConnectorDNSError as exc:
        if isinstance(exc.os_error, AddressRefused):
            return Sent("address-refused", took(), error=str(exc.os_error))
        return Sent("connection-error", took(), error=f"cannot resolve the host: {exc.os_error}")
    except (aiohttp.ClientSSLError, ssl.SSLError) as exc:
        return Sent("tls-error", took(), error=_short(exc))
    except TimeoutError:
        return Sent("timeout", took(), error="no complete answer within the timeout")
    except (aiohttp.ClientError, OSError) as exc:
        return Sent("connection-error", took(), error=_short(exc))


def _answered(response: aiohttp.ClientResponse, excerpt: str, latency: int) -> Sent:
    status = response.status
    if 200 <= status < 300:
        return Sent("delivered", latency, status, excerpt=excerpt or None)
    if status == 410:
        return Sent("gone", latency, status, "answered 410 Gone", excerpt or None)
    if 300 <= status < 400:
        where = response.headers.get("Location", "")
        error = f"answered {status}: redirects are not followed; set the URL to {where}"
        return Sent("http-error", latency, status, error[:500], excerpt or None)
    after = response.headers.get("Retry-After") if status in (429, 503) else None
    return Sent("http-error", latency, status, f"answered {status}", excerpt or None, after)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:500]
