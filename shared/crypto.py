"""Secrets at rest that a process must read back: Fernet under the key-encryption key.

The gateway's signing keys and the loans service's webhook signing secrets are sealed with
it (`INNOCREDIT_KEY_ENCRYPTION_KEY`); hashes of secrets that are only ever verified live with
the gateway (services/gateway/crypto.py)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class KeyEncryptor:
    """Encrypt and decrypt keys and secrets with the key-encryption key from the settings."""

    def __init__(self, key_encryption_key: str) -> None:
        self._fernet = Fernet(key_encryption_key.encode())

    def encrypt(self, plaintext: bytes) -> bytes:
        """Encrypt (authenticated) `plaintext`."""
        return self._fernet.encrypt(plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        """Decrypt `ciphertext`; a wrong key-encryption key raises `KeyDecryptionError`."""
        try:
            return self._fernet.decrypt(ciphertext)
        except InvalidToken as exc:
            raise KeyDecryptionError from exc


class KeyDecryptionError(Exception):
    """A key or secret cannot be decrypted: INNOCREDIT_KEY_ENCRYPTION_KEY is not the one used."""
