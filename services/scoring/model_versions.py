"""Points model versions: drafts an operator edits, published versions that compute points.

A definition arrives already parsed (the API and the CLI read JSON or YAML bodies, see
`services.scoring.model_body`); `parse_model` validates it. Never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from services.scoring.errors import InvalidModel, ModelExists, ModelNotFound, ModelPublished
from services.scoring.models import PointsModel
from services.scoring.pointsmodel import ModelDefinition
from shared import clock
from shared.errors import validation_errors


def parse_model(data: Any) -> ModelDefinition:
    """Validate a model definition; problems are `InvalidModel` with every error listed."""
    try:
        return ModelDefinition.model_validate(data)
    except ValidationError as exc:
        raise InvalidModel(
            f"{exc.error_count()} problem(s) in the model definition",
            errors=[
                {**e, "loc": ["body", *e["loc"]]}
                for e in validation_errors(exc.errors(include_input=False))
            ],
        ) from None


def create_draft(session: Session, definition: ModelDefinition) -> PointsModel:
    """Store a new draft model version."""
    if session.get(PointsModel, definition.version) is not None:
        raise ModelExists(f"Model version {definition.version} already exists")
    model = PointsModel(
        version=definition.version, status="draft", definition=definition.model_dump(mode="json")
    )
    session.add(model)
    session.flush()
    session.refresh(model)
    return model


def replace_draft(session: Session, version: str, definition: ModelDefinition) -> PointsModel:
    """Replace a draft's definition (a published version cannot change)."""
    if definition.version != version:
        raise InvalidModel(
            "The body's version must equal the path's version",
            errors=[{"loc": ["body", "version"], "msg": "does not match the path"}],
        )
    model = get_model(session, version, for_update=True)
    if model.status == "published":
        raise ModelPublished(f"Model {version} is published; create a new version instead")
    model.definition = definition.model_dump(mode="json")
    session.flush()
    return model


def publish_model(session: Session, version: str) -> PointsModel:
    """Publish a draft: from now on it is immutable and may compute points."""
    model = get_model(session, version, for_update=True)
    if model.status == "published":
        raise ModelPublished(f"Model {version} is already published")
    model.status = "published"
    model.published_at = clock.now()
    session.flush()
    return model


def get_model(session: Session, version: str, *, for_update: bool = False) -> PointsModel:
    """Return a model version or raise `ModelNotFound`."""
    stmt = select(PointsModel).where(PointsModel.version == version)
    if for_update:
        stmt = stmt.with_for_update()
    model = session.scalars(stmt).one_or_none()
    if model is None:
        raise ModelNotFound(f"No points model {version!r}")
    return model


def list_models(
    session: Session, *, after: tuple[datetime, str] | None = None, limit: int | None = None
) -> Sequence[PointsModel]:
    """Every model version, newest first (created_at, then version, descending): up to
    `limit + 1` after `after`, or all of them when `limit` is None."""
    stmt = select(PointsModel)
    if after is not None:
        stmt = stmt.where(tuple_(PointsModel.created_at, PointsModel.version) < tuple_(*after))
    stmt = stmt.order_by(PointsModel.created_at.desc(), PointsModel.version.desc())
    return session.scalars(stmt if limit is None else stmt.limit(limit + 1)).all()


def latest_published(session: Session) -> PointsModel:
    """The most recently published model version."""
    model = session.scalars(
        select(PointsModel)
        .where(PointsModel.status == "published")
        .order_by(PointsModel.published_at.desc(), PointsModel.version.desc())
        .limit(1)
    ).first()
    if model is None:
        raise ModelNotFound("No published points model")
    return model
