"""Dependencies of the gateway's endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.gateway.crypto import KeyEncryptor
from shared.app import AppSettings
from shared.auth.deps import require_scopes
from shared.auth.principal import Principal

Admin = Annotated[Principal, Depends(require_scopes("admin"))]


def get_encryptor(request: Request) -> KeyEncryptor:
    """The signing-key encryptor."""
    encryptor: KeyEncryptor = request.app.state.key_encryptor
    return encryptor


Settings = AppSettings
Encryptor = Annotated[KeyEncryptor, Depends(get_encryptor)]
