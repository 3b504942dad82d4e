"""The gateway's governed action (four eyes): creating an admin client through the API. A second
admin client is a second pair of eyes, so one operator must not make it alone; the CLI's
`innocredit clients create --role admin` stays direct (host and database access: the
installation, as bootstrap is)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.gateway import service
from services.gateway.models import Client
from services.gateway.schemas import ClientCreate, ClientOut
from shared.changes.kinds import ChangeKind, Decision, Proposal
from shared.changes.locks import lock_target

_TARGET = "client:admin"  # one admin client waits for approval at a time


def _describe(session: Session, params: Mapping[str, Any]) -> Proposal:
    data = ClientCreate.model_validate(params)
    admins = session.scalar(
        select(func.count()).select_from(Client).where(Client.role == "admin", Client.enabled)
    )
    return Proposal(
        target=_TARGET,
        summary=f"Create admin client {data.name!r}",
        expected={},
        diff={
            "created": True,
            "client": data.model_dump(mode="json"),
            "enabled_admin_clients_before": admins,
        },
    )


def _apply(
    session: Session, params: Mapping[str, Any], _expected: Mapping[str, Any], _: Decision
) -> dict[str, Any]:
    lock_target(session, _TARGET)
    client, secret = service.create_client(session, ClientCreate.model_validate(params))
    return {
        "client_id": client.client_id,
        "client_secret": secret,
        "client": ClientOut.model_validate(client).model_dump(mode="json"),
    }


ADMIN_CLIENT = ChangeKind("admin-client", "gateway", _describe, _apply, secret=("client_secret",))

KINDS = (ADMIN_CLIENT,)
