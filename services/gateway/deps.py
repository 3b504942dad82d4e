"""Dependencies of the gateway's endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.gateway.crypto import KeyEncryptor


def get_encryptor(request: Request) -> KeyEncryptor:
    """The signing-key encryptor."""
    encryptor: KeyEncryptor = request.app.state.key_encryptor
    return encryptor


Encryptor = Annotated[KeyEncryptor, Depends(get_encryptor)]
