"""Content negotiation (RFC 9110 §12.5.1): which of the media types a route offers the
request's `Accept` prefers, and `406 not-acceptable` when it accepts none of them.

A route says what it offers in one place, its OpenAPI `responses` (`media_responses(...)`
builds them); `negotiate` reads the offer back from the matched route, so the document and
the behaviour cannot disagree. Every app runs `negotiate` for every route (`shared.app`), so
a JSON-only route answers 406 to `Accept: image/png` without code of its own; a route with
more than JSON takes the choice as a parameter (`media: Negotiated`). Errors are always
`application/problem+json`, whatever `Accept` says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.routing import APIRoute

from shared.errors import DomainError
from shared.openapi_headers import with_headers

JSON = "application/json"
NDJSON = "application/x-ndjson"
CSV = "text/csv"
HTML = "text/html"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"

# How each media type is described in the document (JSON is the route's response model).
_SCHEMAS: dict[str, dict[str, Any]] = {
    NDJSON: {"type": "string", "description": "one JSON object per line"},
    CSV: {"type": "string", "description": "RFC 4180, UTF-8, header row"},
    XLSX: {"type": "string", "format": "binary", "description": "an Excel workbook"},
    HTML: {"type": "string", "description": "a page for a browser"},
    PDF: {"type": "string", "format": "binary", "description": "a printable document"},
}


class NotAcceptable(DomainError):
    """No media type the route can produce is acceptable to the request's `Accept`."""

    slug = "not-acceptable"

    def __init__(self, offered: Sequence[str]) -> None:
        super().__init__(
            "Accept allows none of the media types this resource has: " + ", ".join(offered),
            extra={"offered": list(offered)},
        )


@dataclass(frozen=True, slots=True)
class MediaRange:
    """One element of `Accept`: `type/subtype` (either may be `*`) and its weight `q`."""

    type: str
    subtype: str
    q: float

    def precedence(self, media_type: str) -> int | None:
        """How specifically this range names `media_type` (2 exact, 1 `type/*`, 0 `*/*`), or
        None when it does not match it."""
        kind, _, sub = media_type.partition("/")
        if self.type == "*" and self.subtype == "*":
            return 0
        if self.type != kind:
            return None
        if self.subtype == "*":
            return 1
        return 2 if self.subtype == sub else None


_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_RANGE = re.compile(rf"\s*({_TCHARS})/({_TCHARS})\s*")
_WEIGHT = re.compile(r"\s*[qQ]\s*=\s*(0(\.[0-9]{0,3})?|1(\.0{0,3})?)\s*")


def parse_accept(header: str) -> list[MediaRange]:
    """The media ranges of an `Accept` value. Parameters other than `q` are ignored; an
    element that is not a media range, or whose `q` is malformed, is skipped (RFC 9110
    lets a server ignore what it cannot read)."""
    ranges: list[MediaRange] = []
    for element in header.split(","):
        head, *params = element.split(";")
        match = _RANGE.fullmatch(head)
        if match is None or (match[1] == "*" and match[2] != "*"):
            continue
        q: float | None = 1.0
        for param in params:
            if param.partition("=")[0].strip().lower() == "q":
                weight = _WEIGHT.fullmatch(param)
                q = float(weight[1]) if weight else None
                break  # parameters after the weight are accept-extensions
        if q is not None:
            ranges.append(MediaRange(match[1].lower(), match[2].lower(), q))
    return ranges


def quality(ranges: Sequence[MediaRange], media_type: str) -> float:
    """The weight `ranges` give `media_type`: that of the most specific range matching it,
    0 when none does."""
    best: tuple[int, float] | None = None
    for r in ranges:
        precedence = r.precedence(media_type)
        if precedence is not None and (best is None or precedence > best[0]):
            best = (precedence, r.q)
    return best[1] if best else 0.0


def choose(accept: str | None, offered: Sequence[str]) -> str | None:
    """The offered media type `accept` weighs highest (ties: the earlier offer, the route's
    preference), or None when it weighs them all 0. No `Accept`, or one with nothing
    readable in it, takes the first offer."""
    ranges = parse_accept(accept) if accept else []
    if not ranges:
        return offered[0] if offered else None
    best, best_q = None, 0.0
    for media_type in offered:
        q = quality(ranges, media_type)
        if q > best_q:
            best, best_q = media_type, q
    return best


def media_responses(
    *offered: str, status: int = 200, headers: Sequence[str] = ()
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that offers `offered` besides (or, without `JSON` among them
    and with `response_class=StreamingResponse`, instead of) its JSON: the content of its
    `status` response, and the `headers` it carries (a file's `Content-Disposition` too: CSV,
    XLSX, PDF).
    (The 406 every route answers is declared by `shared.openapi`.)"""
    content = {m: {"schema": _SCHEMAS.get(m, {"type": "string"})} for m in offered if m != JSON}
    files = ("Content-Disposition",) if {CSV, XLSX, PDF} & set(offered) else ()
    return {status: {"content": content, **with_headers(*headers, *files)}}


def offered_by(route: APIRoute) -> tuple[str, ...]:
    """The media types `route` produces on success, in its order of preference: its response
    class's (JSON unless the route says otherwise), then those its `responses` declare."""
    response_class = route.response_class
    if isinstance(response_class, DefaultPlaceholder):
        response_class = response_class.value
    first = getattr(response_class, "media_type", None)
    status = route.status_code or 200
    declared: Mapping[str, Any] = (
        route.responses.get(status) or route.responses.get(str(status)) or {}
    ).get("content", {})
    offered = [first] if isinstance(first, str) else []
    offered += [m for m in declared if m not in offered]
    return tuple(offered)


async def negotiate(request: Request, response: Response) -> str:
    """The media type to answer the request with, among those its route offers; 406
    `not-acceptable` (listing them) when `Accept` allows none. A route with more than one
    answers `Vary: Accept` (files set it themselves). `async` though it never awaits: FastAPI
    runs a plain `def` dependency in a worker thread, a hop every request would pay."""
    route = request.scope.get("route")
    offered = offered_by(route) if isinstance(route, APIRoute) else (JSON,)
    chosen = choose(request.headers.get("accept"), offered or (JSON,))
    if chosen is None:
        raise NotAcceptable(offered)
    if len(offered) > 1:
        response.headers["Vary"] = "Accept"
    return chosen


def require_acceptable(request: Request, media_type: str) -> None:
    """`negotiate` for a route outside FastAPI's dependencies (the OpenAPI document and the
    documentation pages), which has one media type: 406 when `Accept` allows it not."""
    if choose(request.headers.get("accept"), (media_type,)) is None:
        raise NotAcceptable((media_type,))


Negotiated = Annotated[str, Depends(negotiate)]
"""The media type a route answers with (run once per request, however often it is named)."""
