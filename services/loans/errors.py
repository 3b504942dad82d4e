"""Errors the loans service reports."""

from __future__ import annotations

from shared.errors import Conflict, DomainError, InvalidTransition, NotFound, Unprocessable


class BankNotFound(NotFound):
    status, title, slug = 404, "Bank not found", "bank-not-found"


class ProductNotFound(NotFound):
    status, title, slug = 404, "Product not found", "product-not-found"


class ApplicationNotFound(NotFound):
    status, title, slug = 404, "Application not found", "application-not-found"


class EnterpriseUnknown(NotFound):
    status, title, slug = 404, "Enterprise not found", "enterprise-not-found"


class Ineligible(Unprocessable):
    status, title, slug = 422, "Not eligible for this product", "ineligible"


class AmountOverQuote(Unprocessable):
    status, title, slug = 422, "Amount over the quote", "amount-over-quote"


class TermsOutOfRange(Unprocessable):
    status, title, slug = 422, "Outside the product's terms", "terms-out-of-range"


class OverApproved(Unprocessable):
    status, title, slug = 422, "Disbursements would exceed the approved amount", "over-approved"


class BadTiming(Unprocessable):
    status, title, slug = 422, "Impossible timestamp", "bad-timing"


class BadCalendar(Unprocessable):
    status, title, slug = 422, "Inconsistent working-day schedule", "bad-calendar"


class WrongTransition(InvalidTransition):
    """A state change not allowed from the current state (409 invalid-transition)."""


class IdempotencyKeyRequired(DomainError):
    status, title, slug = 400, "Idempotency-Key required", "idempotency-key-required"


class IdempotencyKeyReused(Unprocessable):
    status, title, slug = (
        422,
        "Idempotency-Key reused with another request",
        ("idempotency-key-reused"),
    )


class IdempotencyInProgress(Conflict):
    status, title, slug = (
        409,
        "A request with this Idempotency-Key is in flight",
        ("idempotency-in-progress"),
    )
