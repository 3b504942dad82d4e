"""The errors the API answers with: the `DomainError` hierarchy and the problem type URIs.

Domain code raises these; `shared.problems` decides how every exception, these and others,
is answered, and renders the RFC 9457 problem document. A class names its problem type by
`slug`; status and title come from the catalogue (`shared.problem_catalogue`), so one type has
one title wherever it is raised, and a class whose slug is not catalogued fails at import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from shared.integers import INTEGER_MESSAGE
from shared.problem_catalogue import kind

PROBLEM_BASE = "/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_type(slug: str) -> str:
    """Return the `type` URI of the problem named `slug`."""
    return PROBLEM_BASE + slug


class DomainError(Exception):
    """An error the API reports as a problem document; a subclass sets `slug` (its type) and
    may set `default_detail`, said when it is raised without a detail."""

    slug: str = "bad-request"
    status: int = 400
    title: str = "Bad request"
    default_detail: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        entry = kind(cls.slug)  # KeyError at import for an uncatalogued slug
        for name in ("status", "title"):
            if name in vars(cls) and vars(cls)[name] != getattr(entry, name):
                raise TypeError(f"{cls.__name__}.{name} differs from the catalogue's {cls.slug}")
        if entry.status is not None:
            cls.status = entry.status
        cls.title = entry.title

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        detail = detail or self.default_detail or self.title
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class NotFound(DomainError):
    slug = "not-found"


class Conflict(DomainError):
    slug = "conflict"


class InvalidTransition(DomainError):
    slug = "invalid-transition"


class PreconditionFailed(DomainError):
    slug = "precondition-failed"


class Unprocessable(DomainError):
    slug = "validation-error"


class InvalidCursor(DomainError):
    slug = "invalid-cursor"


REALM = "innocredit"


def _quotable(text: str) -> str:
    """`text` as RFC 6750 §3 allows inside error_description: printable ASCII but `"` and `\\`."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)


class Unauthorized(DomainError):
    """401 with the RFC 6750 §3 challenge. A request that sent no bearer token gets a bare
    challenge (`error_code=None`); one whose token was refused gets `error="invalid_token"`
    and an `error_description` equal to the problem's detail."""

    slug = "unauthorized"

    def __init__(
        self,
        detail: str = "The access token is invalid",
        *,
        error_code: str | None = "invalid_token",
    ) -> None:
        challenge = f'Bearer realm="{REALM}"'
        if error_code is not None:
            challenge = f'Bearer error="{error_code}", error_description="{_quotable(detail)}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class InsufficientScope(DomainError):
    slug = "insufficient-scope"

    def __init__(self, required: Sequence[str]) -> None:
        scope = " ".join(required)
        super().__init__(
            f"This call needs the scope(s): {scope}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
            extra={"required_scopes": list(required)},
        )


class Forbidden(DomainError):
    slug = "forbidden"


class PayloadTooLarge(DomainError):
    slug = "payload-too-large"


class UnsupportedMediaType(DomainError):
    slug = "unsupported-media-type"


class RateLimited(DomainError):
    slug = "rate-limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Rate limit exceeded; retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


class ServiceUnavailable(DomainError):
    slug = "service-unavailable"


def _jsonable_loc(loc: Sequence[Any]) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in loc]


def validation_errors(raw: Sequence[Any]) -> list[dict[str, Any]]:
    """Turn pydantic/FastAPI error dicts into the contract's `errors` items (no input echoed).

    A strict integer's refusal says what to send instead of pydantic's "a valid integer"."""
    out: list[dict[str, Any]] = []
    for err in raw:
        error_type = str(err.get("type", ""))
        out.append(
            {
                "loc": _jsonable_loc(err.get("loc", ())),
                "msg": INTEGER_MESSAGE if error_type == "int_type" else str(err.get("msg", "")),
                "type": error_type,
            }
        )
    return out
