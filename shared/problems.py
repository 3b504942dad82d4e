"""RFC 9457 problem documents: which problem answers an exception, and how it is rendered.

`problem_for` is the one place that decides how an exception escaping a request is answered;
the FastAPI exception handlers (`shared.exception_handlers`) and the ASGI catch-all at the
edge (`shared.middleware.CatchAllMiddleware`) both ask it, and both render the answer with
`problem_response`, so a request gets the same document whichever layer caught its error.
A problem's status and title are its type's, from `shared.problem_catalogue`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.types import Scope, Send

from shared.errors import PROBLEM_MEDIA_TYPE, DomainError, problem_type
from shared.problem_catalogue import CATALOGUE, kind

log = logging.getLogger("innocredit.errors")


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem document before rendering: status, slug and title, what went wrong, the
    field `errors`, response headers and extension members.

    Status and title are always the catalogue's for a catalogued slug, whatever the caller
    passed, so one type never shows two titles; `Problem.about` needs only the slug.
    """

    status: int
    slug: str
    title: str
    detail: str
    errors: Sequence[Mapping[str, Any]] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        entry = CATALOGUE.get(self.slug)
        if entry is not None:
            object.__setattr__(self, "title", entry.title)
            if entry.status is not None:
                object.__setattr__(self, "status", entry.status)

    @classmethod
    def about(
        cls,
        slug: str,
        detail: str,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Problem:
        """The problem of catalogued type `slug` (its status and title) saying `detail`."""
        entry = kind(slug)
        return cls(
            entry.status or 400,
            slug,
            entry.title,
            detail,
            errors=errors,
            headers=dict(headers or {}),
            extra=dict(extra or {}),
        )

    @classmethod
    def of(cls, error: DomainError) -> Problem:
        """The problem a `DomainError` states."""
        return cls(
            error.status,
            error.slug,
            error.title,
            error.detail,
            errors=error.errors,
            headers=error.headers,
            extra=error.extra,
        )

    def body(self, *, instance: str | None, request_id: str | None) -> dict[str, Any]:
        """The problem+json document, with InnoCredit's `instance` and `request_id` members
        (no `instance` when there is no request path to name, e.g. an unreadable request)."""
        body: dict[str, Any] = {
            "type": problem_type(self.slug),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
            "request_id": request_id,
        }
        if instance is None:
            del body["instance"]
        if self.errors is not None:
            body["errors"] = [dict(e) for e in self.errors]
        if self.extra:
            body.update(self.extra)
        return body


# ---------------------------------------------------------------- deciding


# What an unexpected error is answered with: nothing of the error itself.
INTERNAL_ERROR = Problem.about(
    "internal-error", "An unexpected error occurred; quote the request id when reporting it"
)


def problem_for(exc: BaseException, *, path: str) -> Problem:
    """The problem that answers `exc`, which escaped the request for `path`.

    A `DomainError` says its own problem; a NUL character in text is bad input (422); a
    database that is busy, too slow or unreachable is a retryable 503/504, never a 500;
    anything else is a 500 that reveals nothing of the error. Database failures are logged as
    warnings, unexpected errors with their traceback.
    """
    if isinstance(exc, DomainError):
        return Problem.of(exc)
    if _nul_in_text(exc):
        # Bad input, not a server error: a JSON string may hold "\u0000", our text may not.
        # The transaction was rolled back whole, like any failed request.
        return Problem.about(
            "validation-error",
            "Text may not contain the NUL character (U+0000)",
            errors=[{"loc": ["body"], "msg": "contains U+0000", "type": "string_nul"}],
        )
    problem = _database_problem(exc)
    if problem is not None:
        log.warning(problem.slug, extra={"path": path, "error": type(exc).__name__})
        return problem
    log.error("unhandled error", exc_info=exc, extra={"path": path})
    return INTERNAL_ERROR


def _nul_in_text(exc: BaseException) -> bool:
    # psycopg refuses to send a NUL (U+0000) in a text value; PostgreSQL cannot store one.
    orig = getattr(exc, "orig", None)
    return type(orig).__name__ == "DataError" and "NUL (0x00)" in str(orig)


# SQLSTATEs that mean "busy, retry": lock wait timed out, deadlock victim, serialization
# failure. The transaction was rolled back whole, so the same request can simply be retried.
_BUSY_SQLSTATES = {"55P03", "40P01", "40001"}
_STATEMENT_TIMEOUT = "57014"
# admin shutdown, crash shutdown, cannot connect now (PostgreSQL restarting)
_GONE_SQLSTATES = {"57P01", "57P02", "57P03"}
_BUSY = "nothing was changed, retry shortly"


def _database_problem(exc: BaseException) -> Problem | None:
    """The problem for a database failure (unreachable, busy, timed out), or None when `exc`
    is not one."""
    if isinstance(exc, PoolTimeoutError):  # every pooled connection in use for pool_timeout
        return Problem.about(
            "database-busy",
            f"No database connection became free in time; {_BUSY}",
            headers={"Retry-After": "1"},
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
        return Problem.about(
            "database-busy",
            f"The data is locked by another operation; {_BUSY}",
            headers={"Retry-After": "1"},
        )
    if sqlstate == _STATEMENT_TIMEOUT:
        return Problem.about(
            "database-timeout",
            "The database did not answer within the statement timeout; nothing was changed",
        )
    if unreachable:
        return Problem.about(
            "database-unavailable",
            "The database is unreachable; retry shortly",
            headers={"Retry-After": "2"},
        )
    return None


def _is_connection_error(exc: DBAPIError) -> bool:
    # psycopg's OperationalError covers lost and refused connections; SQLSTATE class 08 is
    # "connection exception", 57P01-57P03 are admin shutdown / crash / cannot connect now.
    # Subclasses count: a connection attempt that timed out is psycopg's ConnectionTimeout, an
    # OperationalError without a SQLSTATE (found by bench/cluster.py during a failover).
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is None:
        return isinstance(exc.orig, psycopg.OperationalError | psycopg.InterfaceError)
    return sqlstate.startswith("08") or sqlstate in _GONE_SQLSTATES


# ---------------------------------------------------------------- rendering


def request_id_in(scope: Scope) -> str | None:
    """The request id the request-id middleware assigned, if any."""
    value = scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def problem_response(
    problem: Problem, *, instance: str | None, request_id: str | None
) -> JSONResponse:
    """Render `problem` as an `application/problem+json` response."""
    return JSONResponse(
        problem.body(instance=instance, request_id=request_id),
        problem.status,
        headers=dict(problem.headers),
        media_type=PROBLEM_MEDIA_TYPE,
    )


async def send_problem(scope: Scope, send: Send, problem: Problem) -> None:
    """Send `problem` as the whole response from ASGI code (middleware, the gateway's edge)."""
    response = problem_response(
        problem, instance=scope.get("path", ""), request_id=request_id_in(scope)
    )
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})
