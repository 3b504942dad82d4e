"""Which HTTP methods InnoCredit serves, and which of them a path takes (its `Allow`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.routing import BaseRoute, Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problems import Problem

# The methods InnoCredit's routes take (a test holds every app's route table to it). Any other
# — TRACE, CONNECT, OPTIONS, a made-up one — is answered 405 at every path, known or not.
SERVED_METHODS = frozenset({"DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"})

RoutesFor = Callable[[Scope], Sequence[BaseRoute] | None]


def routes_of(app: object) -> Sequence[BaseRoute] | None:
    """The route table of a Starlette (FastAPI) app; None for any other ASGI app."""
    routes: Sequence[BaseRoute] | None = getattr(getattr(app, "router", None), "routes", None)
    return routes


def app_routes(scope: Scope) -> Sequence[BaseRoute] | None:
    """The route table of the Starlette app serving `scope` (it puts itself in `scope["app"]`)."""
    return routes_of(scope.get("app"))


def path_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """The served methods some route of `routes` takes at the path of `scope`, sorted; HEAD
    wherever GET is (`HeadMiddleware`)."""
    methods = {
        method
        for method in SERVED_METHODS - {"HEAD"}
        if any(_takes(r, scope, method) for r in routes)
    }
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _takes(route: BaseRoute, scope: Scope, method: str) -> bool:
    # A mount matches every method; one of static files serves GET (and HEAD) only.
    if isinstance(route, Mount) and isinstance(route.app, StaticFiles) and method != "GET":
        return False
    return route.matches({**scope, "method": method})[0] is Match.FULL


def method_not_allowed(method: str, allow: str) -> Problem:
    """The `405 method-not-allowed` problem for `method` at a path that takes `allow`."""
    return Problem(
        405,
        "method-not-allowed",
        "Method not allowed",
        f"{method} is not allowed here",
        headers={"Allow": allow},
    )


class HeadMiddleware:
    """HEAD is GET without the body (RFC 9110 §9.3.2, which every server must support): the
    request runs as a GET and its answer goes out with the GET's status and headers,
    `Content-Length` included, and no body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        ended = False

        async def send_head(message: Message) -> None:
            nonlocal ended
            if message["type"] == "http.response.body":
                if ended:
                    return
                ended = True
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_head)
