"""Errors the scoring service reports."""

from __future__ import annotations

from shared.errors import Conflict, NotFound, Unprocessable


class EnterpriseNotFound(NotFound):
    status, title, slug = 404, "Enterprise not found", "enterprise-not-found"


class PointsNotFound(NotFound):
    status, title, slug = 404, "No points for this period", "points-not-found"


class ModelNotFound(NotFound):
    status, title, slug = 404, "Points model not found", "model-not-found"


class ModelExists(Conflict):
    status, title, slug = 409, "Points model version exists", "model-exists"


class ModelPublished(Conflict):
    status, title, slug = 409, "Published model versions are immutable", "model-published"


class ModelNotPublished(Conflict):
    status, title, slug = 409, "Only a published model can compute points", "model-not-published"


class InvalidModel(Unprocessable):
    status, title, slug = 422, "Invalid points model", "invalid-model"


class NoIndicators(Unprocessable):
    status, title, slug = 422, "No indicator data for this period", "no-indicator-data"


class PointsOutOfRange(Unprocessable):
    status, title, slug = 422, "The model gives points out of range", "points-out-of-range"
