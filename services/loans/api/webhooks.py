"""Endpoints of a bank's (and the bureau's) webhooks: `/v1/loans/webhooks`.

A bank manages its own endpoints, the bureau its programme-wide ones (`WebhookOwner`);
receiving events is reading, so `loans:read` is the scope. Secrets are answered once, with
`Cache-Control: no-store`."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from services.loans.webhooks import subscriptions
from services.loans.webhooks.models import Delivery, Subscription
from services.loans.webhooks.payloads import event_id
from services.loans.webhooks.schemas import (
    NAME_PATTERN,
    AttemptOut,
    DeliveryEvent,
    DeliveryOut,
    DeliveryState,
    PingOut,
    RotateIn,
    SecretOut,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
)
from shared.app import AppSettings
from shared.auth.deps import LoansReader, WebhookOwner
from shared.crypto import KeyEncryptor
from shared.db import DbSession
from shared.openapi import problems
from shared.openapi_headers import with_headers
from shared.pagination import Page, PageParams
from shared.settings import CoreSettings

Name = Annotated[str, Path(pattern=NAME_PATTERN, description="the endpoint's name")]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1)]

router = APIRouter(prefix="/v1/loans/webhooks", tags=["webhooks"])

_NO_STORE = {"Cache-Control": "no-store"}


def _out(sub: Subscription, pending: int) -> dict[str, Any]:
    return WebhookOut(
        name=sub.name,
        url=sub.url,
        events=sub.events,
        description=sub.description,
        version=sub.version,
        enabled=sub.enabled,
        disabled_at=sub.disabled_at,
        disabled_reason=sub.disabled_reason,
        previous_secret_valid_until=sub.previous_valid_until,
        last_success_at=sub.last_success_at,
        failing_since=sub.failing_since,
        pending=pending,
        created_at=sub.created_at,
        updated_at=sub.updated_at,
    ).model_dump()


def _encryptor(settings: CoreSettings) -> KeyEncryptor:
    return KeyEncryptor(settings.key_encryption_key)


@router.put(
    "/{name}",
    response_model=WebhookOut,
    summary="Create or change a webhook endpoint",
    status_code=200,
    responses={
        201: {
            "model": WebhookCreated,
            **with_headers("Location", description="Created, with its secret (shown once)"),
        },
        **problems(409, 422),
    },
)
def put_webhook(
    name: Name,
    body: WebhookIn,
    session: DbSession,
    principal: LoansReader,
    owner: WebhookOwner,
    settings: AppSettings,
) -> Response:
    """201 with the signing secret (shown this once) when new; 200 when changed (the secret
    kept). Changing a disabled endpoint enables it again. The URL must be https to a public
    address; a bank may subscribe to any event type, the bureau to
    `application.decision_overdue` (every bank's) only. At most 10 endpoints each."""
    sub, secret = subscriptions.put(
        session,
        owner,
        name,
        body,
        encryptor=_encryptor(settings),
        allow_loopback=settings.webhook_allow_loopback,
        actor=principal.client_id,
    )
    pending = subscriptions.pending_counts(session, [sub]).get(sub.id, 0)
    if secret is None:
        return JSONResponse(WebhookOut.model_validate(_out(sub, pending)).model_dump(mode="json"))
    created = WebhookCreated.model_validate({**_out(sub, pending), "secret": secret})
    return JSONResponse(
        created.model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/v1/loans/webhooks/{name}", **_NO_STORE},
    )


@router.get("", response_model=Page[WebhookOut], summary="The caller's webhook endpoints")
def list_webhooks(
    session: DbSession, _: LoansReader, owner: WebhookOwner, paging: PageParams
) -> Page[WebhookOut]:
    """By name: a bank's own endpoints, or the bureau's."""
    keyset = paging.keyset(f"webhooks:{subscriptions.owner_key(owner)}")
    after = keyset.first(str)
    rows = subscriptions.list_subscriptions(session, owner, after=after, limit=paging.limit)
    pending = subscriptions.pending_counts(session, rows)
    return keyset.page(
        rows, lambda s: [s.name], lambda s: WebhookOut.model_validate(_out(s, pending.get(s.id, 0)))
    )


@router.get(
    "/{name}", response_model=WebhookOut, summary="One webhook endpoint", responses=problems(404)
)
def get_webhook(name: Name, session: DbSession, _: LoansReader, owner: WebhookOwner) -> WebhookOut:
    """With why it is disabled, if it is, and how many deliveries wait."""
    sub = subscriptions.get(session, owner, name)
    pending = subscriptions.pending_counts(session, [sub]).get(sub.id, 0)
    return WebhookOut.model_validate(_out(sub, pending))


@router.delete(
    "/{name}", status_code=204, summary="Delete a webhook endpoint", responses=problems(404)
)
def delete_webhook(name: Name, session: DbSession, _: LoansReader, owner: WebhookOwner) -> Response:
    """Nothing more is sent to it; its deliveries and their attempts are deleted with it."""
    subscriptions.delete(session, owner, name)
    return Response(status_code=204)


@router.post(
    "/{name}/rotate-secret",
    response_model=SecretOut,
    summary="Replace an endpoint's signing secret",
    responses=problems(404),
)
def rotate_secret(
    name: Name,
    body: RotateIn,
    session: DbSession,
    _: LoansReader,
    owner: WebhookOwner,
    settings: AppSettings,
) -> JSONResponse:
    """The new secret, shown this once (`{}` takes the default overlap). For
    `overlap_seconds` (default 86400, at most 7
    days) every delivery carries two signatures, by the new and the old secret, so a
    receiver can switch without losing one; a second rotation within an overlap drops the
    oldest secret."""
    overlap = timedelta(seconds=body.overlap_seconds)
    sub, secret = subscriptions.rotate(
        session, owner, name, overlap, encryptor=_encryptor(settings)
    )
    answer = SecretOut(secret=secret, previous_secret_valid_until=sub.previous_valid_until)
    return JSONResponse(answer.model_dump(mode="json"), headers=_NO_STORE)


@router.post(
    "/{name}/test",
    status_code=202,
    response_model=PingOut,
    summary="Send a test event to an endpoint",
    responses=problems(404, 409),
)
def ping_webhook(name: Name, session: DbSession, _: LoansReader, owner: WebhookOwner) -> PingOut:
    """A `webhook.test` event for this endpoint alone, delivered like any other: follow it
    in `GET …/{name}/deliveries`."""
    emitted = subscriptions.ping(session, owner, name)
    return PingOut(event=event_id(emitted.event_id), delivery=emitted.deliveries[0])


def _deliveries_out(session: Session, shown: list[Delivery]) -> list[DeliveryOut]:
    attempts = subscriptions.attempts_of(session, shown)
    events = subscriptions.occurred(session, shown)
    return [
        DeliveryOut(
            id=d.id,
            event=DeliveryEvent(
                id=event_id(d.event_id), type=d.event_type, occurred_at=events[d.event_id][1]
            ),
            state=d.state,
            attempt_count=d.attempts,
            attempts=[AttemptOut.model_validate(a) for a in attempts[d.id]],
            next_attempt_at=d.next_attempt_at if d.state == "pending" else None,
            give_up_at=d.give_up_at,
            delivered_at=d.delivered_at,
            last_status=d.last_status,
            last_error=d.last_error,
        )
        for d in shown
    ]


@router.get(
    "/{name}/deliveries",
    response_model=Page[DeliveryOut],
    summary="An endpoint's deliveries",
    responses=problems(404),
)
def list_deliveries(
    name: Name,
    session: DbSession,
    _: LoansReader,
    owner: WebhookOwner,
    paging: PageParams,
    state: Annotated[DeliveryState | None, Query(description="only this state")] = None,
) -> Page[DeliveryOut]:
    """Newest first: each event sent (or to send) to the endpoint, its state, and its latest
    attempts (status code, latency, outcome, error) — with the next retry while pending."""
    keyset = paging.keyset(f"webhook-deliveries:{subscriptions.owner_key(owner)}:{name}:{state}")
    after = keyset.first(int)
    rows = list(
        subscriptions.deliveries(session, owner, name, state=state, after=after, limit=paging.limit)
    )
    items = _deliveries_out(session, rows[: paging.limit])
    return Page[DeliveryOut](
        items=items, next_cursor=keyset.page(rows, lambda d: [d.id], lambda d: d.id).next_cursor
    )


@router.post(
    "/{name}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryOut,
    summary="Send a delivery again",
    responses=problems(404, 409),
)
def redeliver(
    name: Name,
    delivery_id: DeliveryId,
    session: DbSession,
    _: LoansReader,
    owner: WebhookOwner,
) -> DeliveryOut:
    """A delivered, dead or cancelled delivery is sent again from a fresh schedule (the same
    `webhook-id`: a receiver that deduplicates ignores it); a pending one is sent at once."""
    found = subscriptions.redeliver(session, owner, name, delivery_id)
    return _deliveries_out(session, [found])[0]
