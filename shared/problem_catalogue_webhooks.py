"""The problem types of webhooks (`/v1/loans/webhooks`), part of `shared.problem_catalogue`."""

from __future__ import annotations

from shared.problem_kind import ProblemKind

# fmt: off
WEBHOOKS = (
    ProblemKind(
        "webhook-not-found", 404, "Webhook endpoint not found",
        "The caller has no webhook endpoint of this name (a bank sees its own endpoints "
        "only, the bureau its own).",
        "List yours with GET /v1/loans/webhooks; create one with PUT /v1/loans/webhooks/{name}.",
    ),
    ProblemKind(
        "delivery-not-found", 404, "Webhook delivery not found",
        "The endpoint has no delivery with this id (final deliveries are kept "
        "INNOCREDIT_WEBHOOK_RETENTION_DAYS, 30 by default).",
        "List them with GET /v1/loans/webhooks/{name}/deliveries.",
    ),
    ProblemKind(
        "webhook-disabled", 409, "The webhook endpoint is disabled",
        "The endpoint was disabled (it answered 410 Gone, or no delivery succeeded for the "
        "whole retry schedule; `GET /v1/loans/webhooks/{name}` says why), so nothing is sent "
        "to it.",
        "Fix the receiver, then enable the endpoint again with PUT /v1/loans/webhooks/{name} "
        "(the same body is enough).",
    ),
    ProblemKind(
        "webhook-limit", 409, "Too many webhook endpoints",
        "A bank (and the bureau) may have at most 10 webhook endpoints.",
        "Delete one you no longer use (DELETE /v1/loans/webhooks/{name}), or send several "
        "event types to one endpoint.",
    ),
)
# fmt: on
