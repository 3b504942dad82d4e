"""Errors of the webhook endpoints' API."""

from __future__ import annotations

from shared.errors import Conflict, NotFound


class WebhookNotFound(NotFound):
    slug = "webhook-not-found"


class DeliveryNotFound(NotFound):
    slug = "delivery-not-found"


class WebhookDisabled(Conflict):
    slug = "webhook-disabled"


class WebhookLimit(Conflict):
    slug = "webhook-limit"
