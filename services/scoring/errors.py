"""Errors the scoring service reports."""

from __future__ import annotations

from shared.errors import Conflict, NotFound, Unprocessable


class EnterpriseNotFound(NotFound):
    slug = "enterprise-not-found"


class PointsNotFound(NotFound):
    slug = "points-not-found"


class ModelNotFound(NotFound):
    slug = "model-not-found"


class ModelExists(Conflict):
    slug = "model-exists"


class ModelPublished(Conflict):
    slug = "model-published"


class ModelNotPublished(Conflict):
    slug = "model-not-published"


class InvalidModel(Unprocessable):
    slug = "invalid-model"


class NoIndicators(Unprocessable):
    slug = "no-indicator-data"


class PointsOutOfRange(Unprocessable):
    slug = "points-out-of-range"


class DocumentNotFound(NotFound):
    slug = "diagnosis-document-not-found"


class DocumentMismatch(Conflict):
    slug = "diagnosis-document-mismatch"


class TargetProductNotFound(NotFound):
    """A `product:CODE` target the caller cannot see (loans' slug: the same meaning)."""

    slug = "product-not-found"


class IndicatorsChanged(Conflict):
    """The firm's indicators were loaded after its ranking: paths would start elsewhere."""

    slug = "indicators-changed"
