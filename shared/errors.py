"""The errors the API answers with: the `DomainError` hierarchy and the problem type URIs.

Domain code raises these; `shared.problems` decides how every exception, these and others,
is answered, and renders the RFC 9457 problem document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PROBLEM_BASE = "/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


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
