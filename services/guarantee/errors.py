"""Errors the guarantee service reports."""

from __future__ import annotations

from shared.errors import Conflict, DomainError, Forbidden, NotFound


class EnterpriseUnknown(NotFound):
    slug = "enterprise-not-found"


class ConsentNotFound(NotFound):
    slug = "consent-not-found"


class ConsentRevoked(Conflict):
    """A revoked consent is revoked for good (409 invalid-transition)."""

    slug = "invalid-transition"
    default_detail = "The consent is already revoked"


class NoFeeRate(DomainError):
    slug = "no-fee-rate"


class NotAFirm(Forbidden):
    """The export is pulled by credit-reporting firms only (403 forbidden)."""

    default_detail = "Only a credit-reporting firm pulls the export"
