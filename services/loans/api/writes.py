"""How the API answers a change to an application: its entity tag, the `If-Match`
precondition, and Idempotency-Key replay of money-relevant writes.

The domain checks the precondition while it holds the application's row lock, so a change
made between a client's read and its write is always seen; this module only says what the
header asks for and how the answer looks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from services.loans import idempotency
from services.loans.applications import Actor, Elapsed, application_out
from services.loans.idempotency import Stored
from services.loans.models import Application
from services.loans.schedule import work_calendar
from shared.auth.deps import LoansWriter
from shared.auth.principal import Principal
from shared.db import DbSession
from shared.errors import PreconditionFailed
from shared.openapi_headers import with_headers


def etag(app: Application) -> str:
    """The application's entity tag (changes with every state change)."""
    return f'"{app.id}-{app.version}"'


@dataclass(frozen=True, slots=True)
class IfMatch:
    """The entity tags of an `If-Match` header: a change applies only to a version it names."""

    tags: frozenset[str]

    @classmethod
    def parse(cls, header: str) -> IfMatch:
        """The comma-separated tags of a header value."""
        return cls(frozenset(t.strip() for t in header.split(",")))

    def __call__(self, app: Application) -> None:
        """412 unless the header names `app`'s current tag, weak (`W/`) or not, or is `*`."""
        tag = etag(app)
        if "*" not in self.tags and tag not in self.tags and f"W/{tag}" not in self.tags:
            raise PreconditionFailed(f"The application changed: its ETag is now {tag}")


async def _if_match(
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=1000)] = None,
) -> IfMatch | None:
    return None if if_match is None else IfMatch.parse(if_match)


IfMatchHeader = Annotated[IfMatch | None, Depends(_if_match)]
"""The request's `If-Match` precondition, or None without the header."""


def actor(request: Request, principal: Principal) -> Actor:
    """Who acts, for the application's events: the client and the request id."""
    return Actor(principal.client_id, request.scope.get("state", {}).get("request_id"))


def elapsed_in(session: Session) -> Elapsed:
    """Working days waited until today, by the calendar in force read from `session` when an
    undecided application first needs it."""
    return Elapsed(lambda: work_calendar(session))


# The document declares the header required (a write without one is 400), which FastAPI
# cannot say for a header it does not validate itself.
IDEMPOTENT_WRITE: dict[str, Any] = {"parameters": [idempotency.PARAMETER]}
"""`openapi_extra` of an idempotent write."""
CREATED: dict[int | str, dict[str, Any]] = {
    201: with_headers(
        "Location",
        "ETag",
        "Idempotent-Replayed",
        description="Created. A replay (the same Idempotency-Key and body) answers the same "
        "201 and body again, with `Idempotent-Replayed: true`",
    )
}
"""`responses=` of an idempotent creation: 201 the first time and on every replay."""
CHANGED: dict[int | str, dict[str, Any]] = {
    200: with_headers(
        "ETag",
        "Idempotent-Replayed",
        description="Changed. A replay (the same Idempotency-Key and body) answers the same "
        "200 and body again, with `Idempotent-Replayed: true`",
    )
}
"""`responses=` of an idempotent change of an application."""
TAGGED: dict[int | str, dict[str, Any]] = {200: with_headers("ETag")}
"""`responses=` of an answer with the application's `ETag`."""


@dataclass(frozen=True, slots=True)
class WriteOnce:
    """A money-relevant write of one request: done at most once per Idempotency-Key."""

    request: Request
    session: Session
    principal: Principal

    def __call__(
        self,
        body: BaseModel,
        change: Callable[[Session, Actor], Application],
        *,
        created: bool = False,
    ) -> JSONResponse:
        """Apply `change` and answer with the application and its `ETag` (`created`: 201 with
        its `Location`); with a key already used for this request, replay that answer."""

        def run() -> Stored:
            app = change(self.session, actor(self.request, self.principal))
            headers = {"ETag": etag(app)}
            if created:
                headers["Location"] = f"/v1/loans/applications/{app.id}"
            return Stored(
                201 if created else 200,
                application_out(app, elapsed_in(self.session)).model_dump(mode="json"),
                headers,
            )

        stored, replayed = idempotency.run(
            self.session,
            client_id=self.principal.client_id,
            # Checked by `idempotency.run` (400 when missing or bad), after the body is valid.
            key=self.request.headers.get("idempotency-key"),
            endpoint=f"{self.request.method} {self.request.url.path}",
            payload=body.model_dump(mode="json"),
            work=run,
        )
        headers = dict(stored.headers)
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return JSONResponse(stored.body, status_code=stored.status, headers=headers)


def _write_once(request: Request, session: DbSession, principal: LoansWriter) -> WriteOnce:
    return WriteOnce(request, session, principal)


IdempotentWrite = Annotated[WriteOnce, Depends(_write_once)]
"""The handler's idempotent write (and the `loans:write` scope it needs)."""
