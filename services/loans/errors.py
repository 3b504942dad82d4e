"""Errors the loans service reports."""

from __future__ import annotations

from shared.errors import Conflict, DomainError, InvalidTransition, NotFound, Unprocessable


class BankNotFound(NotFound):
    slug = "bank-not-found"


class ProductNotFound(NotFound):
    slug = "product-not-found"


class ApplicationNotFound(NotFound):
    slug = "application-not-found"


class EnterpriseUnknown(NotFound):
    slug = "enterprise-not-found"


class Ineligible(Unprocessable):
    slug = "ineligible"


class AmountOverQuote(Unprocessable):
    slug = "amount-over-quote"


class TermsOutOfRange(Unprocessable):
    slug = "terms-out-of-range"


class OverApproved(Unprocessable):
    slug = "over-approved"


class BadTiming(Unprocessable):
    slug = "bad-timing"


class BadCalendar(Unprocessable):
    slug = "bad-calendar"


class WrongTransition(InvalidTransition):
    """A state change not allowed from the current state (409 invalid-transition)."""


class IdempotencyKeyRequired(DomainError):
    slug = "idempotency-key-required"


class IdempotencyKeyInvalid(DomainError):
    """An Idempotency-Key that is too long or not printable ASCII (a bad key, not a missing one)."""

    slug = "invalid-idempotency-key"


class IdempotencyKeyReused(Unprocessable):
    slug = "idempotency-key-reused"


class IdempotencyInProgress(Conflict):
    slug = "idempotency-in-progress"
