"""Errors the gateway reports."""

from __future__ import annotations

from shared.errors import Conflict, DomainError, NotFound
from shared.problem_catalogue import kind


class ClientNotFound(NotFound):
    slug = "client-not-found"


class UserNotFound(NotFound):
    slug = "user-not-found"


class UserNameTaken(Conflict):
    slug = "user-name-taken"


class RotationPending(Conflict):
    slug = "key-rotation-pending"


class OAuthError(DomainError):
    """An RFC 6749 §5.2 token error, rendered as a problem with `error` and `error_description`;
    its type is `oauth-<error>` (e.g. `/problems/oauth-invalid-client`, 401)."""

    def __init__(self, error: str, description: str, *, basic_challenge: bool = False) -> None:
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if basic_challenge:
            headers["WWW-Authenticate"] = 'Basic realm="innocredit", charset="UTF-8"'
        super().__init__(
            description,
            headers=headers,
            extra={"error": error, "error_description": description},
        )
        self.slug = "oauth-" + error.replace("_", "-")
        entry = kind(self.slug)
        self.status, self.title = entry.status or 400, entry.title
