"""The webhooks in the OpenAPI document (3.1's top-level `webhooks`): one entry per event type,
the request a bank's endpoint receives — its Standard Webhooks headers and its body — and what
the endpoint's answer means.

The entries are documentation only: FastAPI describes an operation of `app.webhooks` from a
function's signature, and nothing ever calls it (the worker sends; services/loans/webhooks/
sender.py). This module has no `from __future__ import annotations` on purpose: each
function's body model is a variable of the loop, read when the function is defined."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import BaseModel

from services.loans.webhooks.payloads import (
    ApplicationData,
    Envelope,
    EventType,
    PingData,
    WaiverData,
)


class ApplicationEvent(Envelope[ApplicationData]):
    """An `application.*` event: `data.application` as the API showed it then."""


class WaiverEvent(Envelope[WaiverData]):
    """`enterprise.waiver_changed`: the waiver now and as it stood before."""


class PingEvent(Envelope[PingData]):
    """`webhook.test`: sent to the tested endpoint alone."""


_BODY: dict[EventType, type[BaseModel]] = {
    **{t: ApplicationEvent for t in EventType if t.value.startswith("application.")},
    EventType.WAIVER_CHANGED: WaiverEvent,
    EventType.TEST: PingEvent,
}

_WHEN: dict[EventType, str] = {
    EventType.SUBMITTED: "A bank's system submitted an application.",
    EventType.DECIDED: "An application was approved or rejected.",
    EventType.DISBURSED: "An approved loan was disbursed.",
    EventType.REPAYMENT_STATUS_CHANGED: "A repayment status was reported (every report).",
    EventType.WITHDRAWN: "An undecided application was withdrawn.",
    EventType.DEADLINE_RECOMPUTED: "A calendar load moved an open application's deadline.",
    EventType.DECISION_DUE_SOON: "An undecided application's deadline is near "
    "(`INNOCREDIT_WEBHOOK_DUE_SOON_SECONDS` before it; 4 hours by default).",
    EventType.DECISION_OVERDUE: "An application is still undecided at its deadline "
    "(the bureau may receive every bank's).",
    EventType.WAIVER_CHANGED: "A new ranking moved an enterprise with an open application "
    "of the bank into or out of the top 100 (its 泰信保 waiver next year).",
    EventType.TEST: "`POST /v1/loans/webhooks/{name}/test` asked for a ping.",
}

_ANSWERS: dict[int | str, dict[str, Any]] = {
    410: {"description": "Gone: the endpoint is disabled, and its pending deliveries cancelled."},
    429: {"description": "Retried no sooner than its `Retry-After` (so is 503)."},
    "default": {
        "description": "Anything else, a redirect, a timeout or no connection: retried "
        "(5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 20 h; ±10 %) for up to 72 hours."
    },
}

router = APIRouter()


def _describe(type_: EventType, body: type[BaseModel]) -> Callable[..., None]:
    def receive(
        event: body,  # type: ignore[valid-type]
        webhook_id: Annotated[
            str, Header(description="`evt_…`: the event's id, the same on every retry")
        ],
        webhook_timestamp: Annotated[
            str, Header(description="Unix seconds when this attempt was signed")
        ],
        webhook_signature: Annotated[
            str,
            Header(
                description="`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, space-separated; "
                "two during a secret's rotation overlap"
            ),
        ],
    ) -> None:
        """The request the worker sends (Standard Webhooks)."""

    return receive


for _type, _body in _BODY.items():
    router.post(
        _type.value,
        summary=_type.value,
        operation_id="on_" + _type.value.replace(".", "_"),
        description=_WHEN[_type],
        responses=_ANSWERS,
        status_code=204,
        response_description="Delivered: any 2xx within 10 s (at most 512 bytes of it are read)",
    )(_describe(_type, _body))
