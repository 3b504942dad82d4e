"""Errors the guarantee service reports."""

from __future__ import annotations

from shared.errors import Conflict, DomainError, Forbidden, NotFound


class EnterpriseUnknown(NotFound):
    status, title, slug = 404, "Enterprise not found", "enterprise-not-found"


class ConsentNotFound(NotFound):
    status, title, slug = 404, "Consent not found", "consent-not-found"


class ConsentRevoked(Conflict):
    status, title, slug = 409, "Consent already revoked", "invalid-transition"


class NoFeeRate(DomainError):
    status, title, slug = 409, "No 泰信保 fee rate set", "no-fee-rate"


class NotAFirm(Forbidden):
    status, title, slug = 403, "Only a credit-reporting firm pulls the export", "forbidden"
