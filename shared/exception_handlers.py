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

from shared.errors import DomainError, validation_errors
from shared.methods import path_methods
from shared.problem_catalogue import for_status
from shared.problems import Problem, problem_for, problem_response, request_id_in


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
        return _render(request, Problem.about("unsupported-media-type", _SEND_JSON))
    if any(e["type"] == "json_invalid" for e in errors):
        return _render(
            request,
            Problem.about("malformed-json", _json_error_detail(exc), errors=errors),
        )
    slug = "invalid-uscc" if any(e["type"] == "invalid_uscc" for e in errors) else None
    return _render(
        request,
        Problem.about(slug or "validation-error", _fields_detail(errors), errors=errors),
    )


_SEND_JSON = "This endpoint takes a JSON body: send it with Content-Type: application/json"


def _fields_detail(errors: Sequence[Mapping[str, Any]]) -> str:
    """Which fields failed, e.g. "2 fields failed validation: body.term_months, query.limit"."""
    names = [".".join(str(part) for part in e["loc"]) for e in errors]
    shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
    return f"{len(errors)} field(s) failed validation: {shown}"


def _json_error_detail(exc: RequestValidationError) -> str:
    """Where the JSON parser stopped, e.g. "… Expecting value at line 1, column 9 (char 8)"."""
    error = next(e for e in exc.errors() if e.get("type") == "json_invalid")
    loc = error.get("loc", ())
    reason = str(error.get("ctx", {}).get("error", "not valid JSON"))
    position = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    if position is None:
        return f"The body is not valid JSON: {reason}"
    document = exc.body if isinstance(exc.body, str) else ""
    line = document.count("\n", 0, position) + 1
    column = position - (document.rfind("\n", 0, position) + 1) + 1
    return (
        f"The body is not valid JSON: {reason} at line {line}, column {column} "
        f"(character {position})"
    )


def _body_not_json(request: Request, errors: Sequence[Mapping[str, Any]]) -> bool:
    """A body error caused by what the body was sent as: a Content-Type that is not JSON, or
    none at all (FastAPI then reads no JSON, and the body looks missing or not an object)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    is_json = content_type == "application/json" or content_type.endswith("+json")
    if is_json:
        return False
    if content_type:
        return any(e["loc"][:1] == ["body"] for e in errors)
    return any(list(e["loc"]) == ["body"] for e in errors)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        return _answer(request, exc)
    if isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI answers a JSON body that is not UTF-8 with a bare 400; it is malformed JSON
        # (RFC 8259 §8.1) like any other, so it gets the same 422 as a syntax error.
        return _render(
            request,
            Problem.about(
                "malformed-json",
                "The JSON body is not valid UTF-8",
                errors=[{"loc": ["body"], "msg": "not valid UTF-8", "type": "json_invalid"}],
            ),
        )
    entry = for_status(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) else entry.title
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Every method the path takes (RFC 9110 §10.2.1): Starlette's names only those of the
        # first route that matched the path, so GET and POST routes on one path each claimed
        # to be all.
        allowed = ", ".join(path_methods(request.app.router.routes, request.scope))
        headers["Allow"] = allowed or headers.get("Allow", "")
    return _render(
        request, Problem(exc.status_code, entry.slug, entry.title, detail, headers=headers)
    )
