"""Dependencies of the gateway's endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.gateway.crypto import KeyEncryptor
from shared.auth.deps import require_scopes
from shared.auth.principal import Principal
from shared.settings import CoreSettings

Admin = Annotated[Principal, Depends(require_scopes("admin"))]


def get_settings(request: Request) -> CoreSettings:
    """The settings the gateway was built with."""
    settings: CoreSettings = request.app.state.settings
    return settings


def get_encryptor(request: Request) -> KeyEncryptor:
    """The signing-key encryptor."""
    encryptor: KeyEncryptor = request.app.state.key_encryptor
    return encryptor


Settings = Annotated[CoreSettings, Depends(get_settings)]
Encryptor = Annotated[KeyEncryptor, Depends(get_encryptor)]
