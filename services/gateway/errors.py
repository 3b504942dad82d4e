"""Errors the gateway reports."""

from __future__ import annotations

from shared.errors import Conflict, DomainError, NotFound


class ClientNotFound(NotFound):
    status, title, slug = 404, "Client not found", "client-not-found"


class RotationPending(Conflict):
    status, title, slug = 409, "Key rotation already pending", "key-rotation-pending"


class OAuthError(DomainError):
    """An RFC 6749 §5.2 token error, rendered as a problem with `error` and `error_description`."""

    def __init__(
        self, error: str, description: str, *, status: int = 400, basic_challenge: bool = False
    ) -> None:
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if basic_challenge:
            headers["WWW-Authenticate"] = 'Basic realm="innocredit", charset="UTF-8"'
        super().__init__(
            description,
            headers=headers,
            extra={"error": error, "error_description": description},
        )
        self.status = status
        self.title = "OAuth token request failed"
        self.slug = "oauth-" + error.replace("_", "-")
