"""A points model sent as a body (API) or a file (CLI): JSON or YAML by media type — no HTTP,
no database."""

from __future__ import annotations

import json

import pytest

from services.scoring.errors import InvalidModel
from services.scoring.model_body import model_from_bytes
from shared.errors import UnsupportedMediaType

MODEL = {
    "version": "BODY-1",
    "name": "模型",
    "indicators": [
        {
            "indicator": "invention_patents",
            "label": "发明专利",
            "group": "technology",
            "transform": {"type": "linear", "per_unit": "10", "cap": "60"},
        }
    ],
}
YAML = """\
version: BODY-1
name: 模型
indicators:
  - indicator: invention_patents
    label: 发明专利
    group: technology
    transform: {type: linear, per_unit: "10", cap: "60"}
"""


@pytest.mark.parametrize(
    ("body", "media_type"),
    [
        (json.dumps(MODEL).encode(), "application/json"),
        (json.dumps(MODEL).encode(), "application/json; charset=utf-8"),
        (json.dumps(MODEL).encode(), "application/merge-patch+json"),
        (b"\xef\xbb\xbf" + json.dumps(MODEL, ensure_ascii=False).encode(), "application/json"),
        (YAML.encode(), "application/yaml"),
        (YAML.encode(), "application/x-yaml"),
        (YAML.encode(), "Text/YAML"),
    ],
)
def test_json_and_yaml_give_the_same_model(body: bytes, media_type: str) -> None:
    model = model_from_bytes(body, media_type)
    assert (model.version, model.name, model.indicators[0].indicator) == (
        "BODY-1",
        "模型",
        "invention_patents",
    )


@pytest.mark.parametrize("media_type", [None, "", "text/plain", "text/csv", "application/xml"])
def test_other_media_types_are_415(media_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        model_from_bytes(json.dumps(MODEL).encode(), media_type)
    assert caught.value.status == 415


@pytest.mark.parametrize(
    ("body", "media_type"),
    [
        (b'{"version": ', "application/json"),
        (b"version: [unclosed", "application/yaml"),
        (b"\xff\xfe", "application/json"),
    ],
)
def test_unparseable_bodies_are_invalid_models(body: bytes, media_type: str) -> None:
    with pytest.raises(InvalidModel) as caught:
        model_from_bytes(body, media_type)
    assert caught.value.status == 422
    assert [e["loc"] for e in caught.value.errors or []] == [["body"]]


def test_every_problem_of_a_definition_is_listed_under_body() -> None:
    bad = {**MODEL, "version": "", "indicators": []}
    with pytest.raises(InvalidModel) as caught:
        model_from_bytes(json.dumps(bad).encode(), "application/json")
    assert sorted(tuple(e["loc"]) for e in caught.value.errors or []) == [
        ("body", "indicators"),
        ("body", "version"),
    ]
