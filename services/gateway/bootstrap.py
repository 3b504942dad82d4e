"""First start: a signing key, and an admin client whose secret is printed once."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.gateway import service
from services.gateway.schemas import ClientCreate
from shared.crypto import KeyEncryptor

ADMIN_NAME = "bootstrap admin"


def bootstrap(session: Session, encryptor: KeyEncryptor) -> tuple[str, str] | None:
    """Ensure a signing key and an admin client; return new admin credentials, if created."""
    service.ensure_signing_key(session, encryptor)
    session.execute(service.ADVISORY_LOCK)
    if service.has_admin_client(session):
        return None
    client, secret = service.create_client(session, ClientCreate(name=ADMIN_NAME, role="admin"))
    return client.client_id, secret
