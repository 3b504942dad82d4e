"""Which HTTP methods InnoCredit serves, and which of them a path takes (its `Allow`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import Scope

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
    """The served methods some route of `routes` takes at the path of `scope`, sorted."""
    return [
        method
        for method in sorted(SERVED_METHODS)
        if any(r.matches({**scope, "method": method})[0] is Match.FULL for r in routes)
    ]
