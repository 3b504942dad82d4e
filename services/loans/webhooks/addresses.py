"""Which webhook URLs and addresses may be called: public ones only (no SSRF into the
programme's own network).

Pure: `check_url` looks at a URL as written (at `PUT` and again before every send; no DNS,
which would prove nothing against rebinding and make a `PUT` depend on the network);
`refusal` judges one address, and the worker's resolver applies it to every address a host
resolves to, so the address checked is the one connected to."""

from __future__ import annotations

import ipaddress
import re

from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2000

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_PRIVATE = (
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("172.16.0.0/12"),
    ipaddress.ip_network("192.168.0.0/16"),
    ipaddress.ip_network("fc00::/7"),  # unique local
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# A host WHATWG URL parsers read as an IPv4 address: its last label is a number (decimal,
# octal or hex). Only the dotted quad `ipaddress` accepts is judged; other forms are refused.
_NUMERIC_LAST_LABEL = re.compile(r"(?:^|\.)(?:0x[0-9a-f]*|[0-9]+)\.?$", re.IGNORECASE)


def _judged(ip: IPAddress) -> tuple[IPAddress, ...]:
    """The addresses `ip` is judged by: an IPv4-mapped or NAT64 address by the IPv4 address
    it is translated to; a 6to4 or Teredo address by the IPv4 address it carries and by
    itself (the tunnel); any other by itself."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return (ip,)
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if any(ip in net for net in _NAT64):
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    if ip.sixtofour is not None:
        return (ip.sixtofour, ip)
    if ip.teredo is not None:
        return (ip.teredo[1], ip)
    return (ip,)


def _class_of(ip: IPAddress) -> str | None:
    """Why `ip` is not a public unicast address, or None if it is."""
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip in _SHARED:
        return "shared"
    if any(ip.version == net.version and ip in net for net in _PRIVATE):
        return "private"
    if not ip.is_global:
        return "reserved"
    return None


def refusal(ip: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why a webhook may not be sent to `ip` (`loopback`, `private`, `link-local`, `shared`,
    `reserved`, `multicast`, `unspecified`), or None when it may.

    An IPv6 address carrying an IPv4 one (mapped, NAT64, 6to4, Teredo) is judged by that
    one too.
    `allow_loopback` (development, tests) admits loopback only; private ranges never pass."""
    for candidate in _judged(ip):
        reason = _class_of(candidate)
        if reason is not None and not (reason == "loopback" and allow_loopback):
            return reason
    return None


def _is_localhost(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def check_url(url: str, *, allow_loopback: bool) -> list[str]:
    """What is wrong with `url` as a webhook endpoint; empty when it may be used.

    `https` only (`http` only to a loopback host, with `allow_loopback`); no user name or
    password, no fragment, at most 2,000 characters; an IP address must be public, a host
    written as a number other than a dotted quad (`2130706433`, `0x7f.1`, `127.1`) is
    refused, `localhost` and `*.localhost` only with `allow_loopback`."""
    if len(url) > MAX_URL_LENGTH:
        return [f"is longer than {MAX_URL_LENGTH:,} characters"]
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return ["is not a valid URL"]
    if not parsed.absolute or not parsed.host:
        return ["must be an absolute https URL with a host"]
    problems = []
    host = parsed.host.lower().rstrip(".")
    loopback_host = False
    try:
        ip: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        reason = refusal(ip, allow_loopback=allow_loopback)
        if reason is not None:
            problems.append(f"points to a {reason} address; webhooks go to public addresses")
        loopback_host = ip.is_loopback
    elif _NUMERIC_LAST_LABEL.search(host):
        problems.append("writes its host as a number; use a host name or a dotted-quad address")
    elif _is_localhost(host):
        if allow_loopback:
            loopback_host = True
        else:
            problems.append("points to localhost; webhooks go to public addresses")
    if parsed.scheme != "https" and not (
        parsed.scheme == "http" and allow_loopback and loopback_host
    ):
        problems.append("must use https")
    if parsed.user is not None or parsed.password is not None:
        problems.append("must not contain a user name or password")
    if parsed.fragment:
        problems.append("must not have a fragment")
    return problems
