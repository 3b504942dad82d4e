"""FastAPI's exception handlers: every error path of an app is rendered as problem+json.

Errors of the request itself (validation, routing, method, body parsing) need the request to
be answered; everything else is answered by `shared.problems.problem_for`, the same decision
the edge's catch-all makes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shared.errors import DomainError, validation_errors
from shared.problems import Problem, problem_for, problem_response, request_id_in

# Slugs of HTTP errors raised by the framework itself (routing, method, body parsing).
_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("rate-limited", "Too many requests"),
}

_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def install_error_handlers(app: FastAPI) -> None:
    """Render every error path of `app` as problem+json."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Registered one by one so they are handled inside the app's middleware (Starlette hands
    # a handler of `Exception` itself to its outermost error middleware only).
    for answered in (DomainError, DBAPIError, PoolTimeoutError, psycopg.Error, Exception):
        app.add_exception_handler(answered, _answer)


def _render(request: Request, problem: Problem) -> JSONResponse:
    return problem_response(
        problem, instance=request.url.path, request_id=request_id_in(request.scope)
    )


def _answer(request: Request, exc: Exception) -> JSONResponse:
    return _render(request, problem_for(exc, path=request.url.path))


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        return _answer(request, exc)
    errors = validation_errors(exc.errors())
    if _body_not_json(request, errors):
        return _render(
            request,
            Problem(
                415,
                "unsupported-media-type",
                "Unsupported media type",
                "This endpoint takes a JSON body (Content-Type: application/json)",
            ),
        )
    if any(e["type"] == "invalid_uscc" for e in errors):
        slug, title = "invalid-uscc", "Invalid unified social credit code"
    elif any(e["type"] == "json_invalid" for e in errors):
        slug, title = "malformed-json", "Malformed JSON body"
    else:
        slug, title = "validation-error", "Request validation failed"
    return _render(
        request,
        Problem(422, slug, title, f"{len(errors)} field(s) failed validation", errors=errors),
    )


def _body_not_json(request: Request, errors: Sequence[Mapping[str, Any]]) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    is_json = content_type == "application/json" or content_type.endswith("+json")
    return bool(content_type) and not is_json and any(e["loc"][:1] == ["body"] for e in errors)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        return _answer(request, exc)
    if isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI answers a JSON body that is not UTF-8 with a bare 400; it is malformed JSON
        # (RFC 8259 §8.1) like any other, so it gets the same 422 as a syntax error.
        return _render(
            request,
            Problem(
                422,
                "malformed-json",
                "Malformed JSON body",
                "The JSON body is not valid UTF-8",
                errors=[{"loc": ["body"], "msg": "not valid UTF-8", "type": "json_invalid"}],
            ),
        )
    slug, title = _HTTP_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return _render(request, Problem(exc.status_code, slug, title, detail, headers=headers))


def _allowed_methods(request: Request) -> str | None:
    """Every method the path takes (RFC 9110 §10.2.1). Starlette's 405 names only the first
    route that matched the path, so GET and POST routes on one path each claimed to be all."""
    methods: set[str] = set()
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            methods.add(method)
    return ", ".join(sorted(methods)) or None
