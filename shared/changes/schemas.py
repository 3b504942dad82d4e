"""The changes API's bodies: a change as it is read (`ChangeOut`) and a rejection (`RejectIn`)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

from shared.timestamps import Instant

ChangeStatus = TypeAliasType("ChangeStatus", Literal["pending", "approved", "rejected"])


class ChangeOut(BaseModel):
    """A proposed change: what it does (`kind`, `target`, the validated `params`, a readable
    `diff` against the state when it was proposed, `links` such as a model's impact report),
    who proposed it and who decided, and how (`reason` of a rejection, `result` of an
    approval: what the direct call would have answered)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    service: str
    target: str
    status: ChangeStatus
    summary: str
    request: dict[str, Any] = Field(description="method, path and media type as received")
    params: dict[str, Any]
    expected: dict[str, Any] = Field(description="the target's state the approval requires")
    diff: Any
    links: dict[str, str]
    maker: str
    made_at: Instant
    maker_request_id: str | None
    checker: str | None
    decided_at: Instant | None
    checker_request_id: str | None
    reason: str | None
    result: dict[str, Any] | None


class RejectIn(BaseModel):
    """Why the change is rejected (kept with it)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000)
