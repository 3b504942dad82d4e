"""Small points models for unit tests of the model's rules (the reference and the compiled form)."""

from __future__ import annotations

from typing import Any

from services.scoring.pointsmodel import ModelDefinition


def unit_model(*rules: dict[str, Any], **extra: Any) -> ModelDefinition:
    """A model of the given indicator rules (and any other fields)."""
    return ModelDefinition.model_validate(
        {"version": "UNIT-1", "name": "unit", "indicators": list(rules), **extra}
    )


def unit_rule(indicator: str, transform: dict[str, Any], weight: str = "1") -> dict[str, Any]:
    """One indicator rule of a technology-group indicator."""
    return {
        "indicator": indicator,
        "label": indicator,
        "group": "technology",
        "transform": transform,
        "weight": weight,
    }
