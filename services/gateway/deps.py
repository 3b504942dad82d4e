"""Dependencies of the gateway's endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.gateway.service import BankExists
from shared.crypto import KeyEncryptor


def get_encryptor(request: Request) -> KeyEncryptor:
    """The signing-key encryptor."""
    encryptor: KeyEncryptor = request.app.state.key_encryptor
    return encryptor


Encryptor = Annotated[KeyEncryptor, Depends(get_encryptor)]


def get_bank_exists(request: Request) -> BankExists:
    """The check that a bank code names a partner bank (given by the composition root)."""
    bank_exists: BankExists = request.app.state.bank_exists
    return bank_exists


KnownBanks = Annotated[BankExists, Depends(get_bank_exists)]
