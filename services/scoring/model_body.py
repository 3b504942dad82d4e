"""A points model as a request or file body: JSON or YAML, chosen by the media type.

The edge of the service (the admin API and `innocredit models publish`) reads bytes; the
domain only ever sees parsed data (`model_versions.parse_model`).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from services.scoring.errors import InvalidModel
from services.scoring.model_versions import parse_model
from services.scoring.pointsmodel import ModelDefinition
from shared.errors import UnsupportedMediaType

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


def model_from_bytes(body: bytes, media_type: str | None) -> ModelDefinition:
    """Parse a model definition sent as JSON or YAML (UTF-8, BOM optional)."""
    media = (media_type or "").split(";")[0].strip().lower()
    if media in YAML_TYPES:
        loader: Any = yaml.safe_load
    elif media == "application/json" or media.endswith("+json"):
        loader = json.loads
    else:
        raise UnsupportedMediaType("Send the model as application/json or application/yaml")
    try:
        data = loader(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise InvalidModel(
            f"The model is not valid JSON/YAML: {exc}", errors=[{"loc": ["body"], "msg": str(exc)}]
        ) from None
    return parse_model(data)
