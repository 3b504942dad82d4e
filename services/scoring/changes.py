"""The scoring's governed actions (four eyes, `shared.changes`): publishing a model version and
recomputing a period's ranking. A publish links to the draft's impact report; a recompute is
proposed with its model resolved, so it runs with exactly the model the checker saw."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services.scoring import model_versions
from services.scoring import recompute as pipeline
from services.scoring.errors import (
    ModelNotFound,
    ModelNotPublished,
    ModelPublished,
    NoIndicators,
)
from services.scoring.models import IndicatorRow, PointsModel, Ranking, RecomputeRun
from services.scoring.pointsmodel import ModelDefinition
from services.scoring.schemas import ModelOut, RunOut
from shared.changes.diff import json_diff
from shared.changes.kinds import ChangeKind, Decision, Proposal, require_unmoved
from shared.timestamps import format_instant


def model_out(model: PointsModel) -> ModelOut:
    """A model version as the API shows it."""
    return ModelOut(
        version=model.version,
        status=model.status,
        created_at=model.created_at,
        published_at=model.published_at,
        definition=ModelDefinition.model_validate(model.definition),
    )


def impact_link(version: str, period: int, baseline: str) -> str:
    """The what-if report of `version` against `baseline` for `period`'s firms."""
    return f"/v1/scoring/models/{version}/impact?period={period}&baseline={baseline}"


def _latest_ranking(session: Session) -> Ranking | None:
    return session.scalars(select(Ranking).order_by(Ranking.period.desc()).limit(1)).first()


# ---------------------------------------------------------------- model publish


def _model_state(model: PointsModel) -> dict[str, Any]:
    canonical = json.dumps(model.definition, sort_keys=True, separators=(",", ":"))
    return {"status": model.status, "sha256": hashlib.sha256(canonical.encode()).hexdigest()}


def _describe_publish(session: Session, params: Mapping[str, Any]) -> Proposal:
    version = params["version"]
    model = model_versions.get_model(session, version)
    if model.status == "published":
        raise ModelPublished(f"Model {version} is already published")
    try:
        current: dict[str, Any] = model_versions.latest_published(session).definition
    except ModelNotFound:  # nothing published yet: everything is new
        current = {}
    ranking = _latest_ranking(session)
    links = {}
    if ranking is not None:
        links["impact"] = impact_link(version, ranking.period, ranking.model_version)
    return Proposal(
        target=f"model:{version}",
        summary=f"Publish points model {version}",
        expected=_model_state(model),
        diff=json_diff(current, model.definition),
        links=links,
    )


def _apply_publish(
    session: Session, params: Mapping[str, Any], expected: Mapping[str, Any], _: Decision
) -> dict[str, Any]:
    version = params["version"]
    require_unmoved(
        expected, _model_state(model_versions.get_model(session, version, for_update=True))
    )
    return model_out(model_versions.publish_model(session, version)).model_dump(mode="json")


MODEL_PUBLISH = ChangeKind("model-publish", "scoring", _describe_publish, _apply_publish)

# ---------------------------------------------------------------- points recompute


def _ranking_state(session: Session, period: int) -> dict[str, Any]:
    return {"run_id": session.scalar(select(Ranking.run_id).where(Ranking.period == period))}


def _describe_recompute(session: Session, params: Mapping[str, Any]) -> Proposal:
    period = int(params["period"])
    requested = params.get("model_version")
    model = (
        model_versions.get_model(session, requested)
        if requested
        else model_versions.latest_published(session)
    )
    if model.status != "published":
        raise ModelNotPublished(f"Model {model.version} is a draft; publish it first")
    count, updated = session.execute(
        select(func.count(), func.max(IndicatorRow.updated_at)).where(IndicatorRow.period == period)
    ).one()
    if not count:
        raise NoIndicators(f"No indicator data for period {period}: load it first")
    before = session.execute(
        select(Ranking.model_version, RecomputeRun)
        .join(RecomputeRun, RecomputeRun.id == Ranking.run_id)
        .where(Ranking.period == period)
    ).first()
    ranking_before = None
    links = {}
    if before is not None:
        baseline, run = before
        ranking_before = {
            "run_id": run.id,
            "model_version": baseline,
            "enterprise_count": run.enterprise_count,
            "finished_at": format_instant(run.finished_at),
        }
        if baseline != model.version:
            links["impact"] = impact_link(model.version, period, baseline)
    return Proposal(
        target=f"ranking:{period}",
        summary=f"Recompute {period}'s points and ranking with {model.version}",
        expected=_ranking_state(session, period),
        diff={
            "period": period,
            "ranking_before": ranking_before,
            "model_after": model.version,
            "indicators": {
                "count": count,
                "max_updated_at": None if updated is None else format_instant(updated),
            },
        },
        links=links,
    )


def _apply_recompute(
    session: Session, params: Mapping[str, Any], expected: Mapping[str, Any], decision: Decision
) -> dict[str, Any]:
    period = int(params["period"])
    # The recompute's own lock, taken first (it is re-entrant), waited for as it waits for it.
    session.execute(text("SET LOCAL lock_timeout = 0"))
    session.execute(text("SELECT pg_advisory_xact_lock(7263002, :period)"), {"period": period})
    require_unmoved(expected, _ranking_state(session, period))
    run = pipeline.recompute(
        session, period, model_version=params["model_version"], requested_by=decision.maker
    )
    return RunOut.model_validate(run, from_attributes=True).model_dump(mode="json")


def recompute_params(session: Session, period: int, model_version: str | None) -> dict[str, Any]:
    """A recompute's params with its model resolved (the latest published when none is named)."""
    if model_version is None:
        model_version = model_versions.latest_published(session).version
    return {"period": period, "model_version": model_version}


POINTS_RECOMPUTE = ChangeKind("points-recompute", "scoring", _describe_recompute, _apply_recompute)

KINDS = (MODEL_PUBLISH, POINTS_RECOMPUTE)
