"""RFC 9457 problem details: the domain error base and the handlers that render every error."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

PROBLEM_BASE = "/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

log = logging.getLogger("innocredit.errors")


def problem_type(slug: str) -> str:
    """Return the `type` URI of the problem named `slug`."""
    return PROBLEM_BASE + slug


class DomainError(Exception):
    """An error the API reports as a problem document; subclasses fix status, title and slug."""

    status: int = 400
    title: str = "Bad request"
    slug: str = "bad-request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class NotFound(DomainError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(DomainError):
    status, title, slug = 409, "Conflict", "conflict"


class InvalidTransition(DomainError):
    status, title, slug = 409, "Invalid state transition", "invalid-transition"


class PreconditionFailed(DomainError):
    status, title, slug = 412, "Precondition failed", "precondition-failed"


class Unprocessable(DomainError):
    status, title, slug = 422, "Unprocessable content", "validation-error"


class InvalidCursor(DomainError):
    status, title, slug = 400, "Invalid cursor", "invalid-cursor"


class Unauthorized(DomainError):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str = "A valid bearer token is required") -> None:
        super().__init__(
            detail,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


class InsufficientScope(DomainError):
    status, title, slug = 403, "Insufficient scope", "insufficient-scope"

    def __init__(self, required: Sequence[str]) -> None:
        scope = " ".join(required)
        super().__init__(
            f"This call needs the scope(s): {scope}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
            extra={"required_scopes": list(required)},
        )


class Forbidden(DomainError):
    status, title, slug = 403, "Forbidden", "forbidden"


class PayloadTooLarge(DomainError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class UnsupportedMediaType(DomainError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


class RateLimited(DomainError):
    status, title, slug = 429, "Too many requests", "rate-limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Rate limit exceeded; retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


class ServiceUnavailable(DomainError):
    status, title, slug = 503, "Service unavailable", "service-unavailable"


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


def request_id_of(request: Request) -> str | None:
    """Return the request id the request-id middleware assigned, if any."""
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def problem_body(
    *,
    slug: str,
    title: str,
    status: int,
    detail: str,
    instance: str,
    request_id: str | None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build an RFC 9457 problem document with InnoCredit's extension members."""
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": request_id,
    }
    if errors is not None:
        body["errors"] = [dict(e) for e in errors]
    if extra:
        body.update(extra)
    return body


def problem_response(
    request: Request,
    *,
    slug: str,
    title: str,
    status: int,
    detail: str,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """Render a problem document as an `application/problem+json` response."""
    body = problem_body(
        slug=slug,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=request_id_of(request),
        errors=errors,
        extra=extra,
    )
    return JSONResponse(body, status, headers=dict(headers or {}), media_type=PROBLEM_MEDIA_TYPE)


def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, DomainError):
        return _unexpected(request, exc)
    return problem_response(
        request,
        slug=exc.slug,
        title=exc.title,
        status=exc.status,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        extra=exc.extra,
    )


def _jsonable_loc(loc: Sequence[Any]) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in loc]


def validation_errors(raw: Sequence[Any]) -> list[dict[str, Any]]:
    """Turn pydantic/FastAPI error dicts into the contract's `errors` items (no input echoed)."""
    out: list[dict[str, Any]] = []
    for err in raw:
        out.append(
            {
                "loc": _jsonable_loc(err.get("loc", ())),
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
        )
    return out


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        return _unexpected(request, exc)
    errors = validation_errors(exc.errors())
    if _body_not_json(request, errors):
        return problem_response(
            request,
            slug="unsupported-media-type",
            title="Unsupported media type",
            status=415,
            detail="This endpoint takes a JSON body (Content-Type: application/json)",
        )
    if any(e["type"] == "invalid_uscc" for e in errors):
        slug, title = "invalid-uscc", "Invalid unified social credit code"
    elif any(e["type"] == "json_invalid" for e in errors):
        slug, title = "malformed-json", "Malformed JSON body"
    else:
        slug, title = "validation-error", "Request validation failed"
    return problem_response(
        request,
        slug=slug,
        title=title,
        status=422,
        detail=f"{len(errors)} field(s) failed validation",
        errors=errors,
    )


def _body_not_json(request: Request, errors: Sequence[Mapping[str, Any]]) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    is_json = content_type == "application/json" or content_type.endswith("+json")
    return bool(content_type) and not is_json and any(e["loc"][:1] == ["body"] for e in errors)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        return _unexpected(request, exc)
    if isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI answers a JSON body that is not UTF-8 with a bare 400; it is malformed JSON
        # (RFC 8259 §8.1) like any other, so it gets the same 422 as a syntax error.
        return problem_response(
            request,
            slug="malformed-json",
            title="Malformed JSON body",
            status=422,
            detail="The JSON body is not valid UTF-8",
            errors=[{"loc": ["body"], "msg": "not valid UTF-8", "type": "json_invalid"}],
        )
    slug, title = _HTTP_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return problem_response(
        request,
        slug=slug,
        title=title,
        status=exc.status_code,
        detail=detail,
        headers=headers,
    )


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str | None:
    """Every method the path takes (RFC 9110 §10.2.1). Starlette's 405 names only the first
    route that matched the path, so GET and POST routes on one path each claimed to be all."""
    methods: set[str] = set()
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            methods.add(method)
    return ", ".join(sorted(methods)) or None


# SQLSTATEs that mean "busy, retry": lock wait timed out, deadlock victim, serialization
# failure. The transaction was rolled back whole, so the same request can simply be retried.
_BUSY_SQLSTATES = {"55P03", "40P01", "40001"}
_STATEMENT_TIMEOUT = "57014"
# admin shutdown, crash shutdown, cannot connect now (PostgreSQL restarting)
_GONE_SQLSTATES = {"57P01", "57P02", "57P03"}


@dataclass(frozen=True, slots=True)
class DatabaseProblem:
    """How a database failure is answered: never a 500, always retryable."""

    status: int
    slug: str
    title: str
    detail: str
    headers: dict[str, str]


def database_problem(exc: BaseException) -> DatabaseProblem | None:
    """The problem for a database failure (unreachable, busy, timed out), or None when `exc`
    is not one. Used by the exception handlers and by middleware that touches the database."""
    busy = "nothing was changed, retry shortly"
    if isinstance(exc, PoolTimeoutError):  # every pooled connection in use for pool_timeout
        return DatabaseProblem(
            503,
            "database-busy",
            "Service unavailable",
            f"No database connection became free in time; {busy}",
            {"Retry-After": "1"},
        )
    if isinstance(exc, psycopg.Error):  # raw driver errors, e.g. from a COPY on the connection
        sqlstate = exc.sqlstate
        unreachable = isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) and (
            sqlstate is None or sqlstate.startswith("08") or sqlstate in _GONE_SQLSTATES
        )
    elif isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        unreachable = exc.connection_invalidated or exc.orig is None or _is_connection_error(exc)
    else:
        return None
    if sqlstate in _BUSY_SQLSTATES:
        return DatabaseProblem(
            503,
            "database-busy",
            "Service unavailable",
            f"The data is locked by another operation; {busy}",
            {"Retry-After": "1"},
        )
    if sqlstate == _STATEMENT_TIMEOUT:
        return DatabaseProblem(
            504,
            "database-timeout",
            "Gateway timeout",
            "The database did not answer within the statement timeout; nothing was changed",
            {},
        )
    if unreachable:
        return DatabaseProblem(
            503,
            "database-unavailable",
            "Service unavailable",
            "The database is unreachable; retry shortly",
            {"Retry-After": "2"},
        )
    return None


def _nul_in_text(exc: Exception) -> bool:
    # psycopg refuses to send a NUL (U+0000) in a text value; PostgreSQL cannot store one.
    orig = getattr(exc, "orig", None)
    return type(orig).__name__ == "DataError" and "NUL (0x00)" in str(orig)


def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if _nul_in_text(exc):
        # Bad input, not a server error: a JSON string may hold "\u0000", our text may not.
        # The transaction was rolled back whole, like any failed request.
        return problem_response(
            request,
            slug="validation-error",
            title="Request validation failed",
            status=422,
            detail="Text may not contain the NUL character (U+0000)",
            errors=[{"loc": ["body"], "msg": "contains U+0000", "type": "string_nul"}],
        )
    problem = database_problem(exc)
    if problem is None:
        return _unexpected(request, exc)
    log.warning(problem.slug, extra={"path": request.url.path, "error": type(exc).__name__})
    return problem_response(
        request,
        slug=problem.slug,
        title=problem.title,
        status=problem.status,
        detail=problem.detail,
        headers=problem.headers,
    )


def _is_connection_error(exc: DBAPIError) -> bool:
    # psycopg's OperationalError covers lost and refused connections; SQLSTATE class 08 is
    # "connection exception", 57P01-57P03 are admin shutdown / crash / cannot connect now.
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is None:
        return type(exc.orig).__name__ in {"OperationalError", "InterfaceError"}
    return sqlstate.startswith("08") or sqlstate in _GONE_SQLSTATES


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
    return problem_response(
        request,
        slug="internal-error",
        title="Internal server error",
        status=500,
        detail="An unexpected error occurred; quote the request id when reporting it",
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render every error path of `app` as problem+json."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeoutError, _database_error)
    app.add_exception_handler(psycopg.Error, _database_error)
    app.add_exception_handler(Exception, _unexpected)
