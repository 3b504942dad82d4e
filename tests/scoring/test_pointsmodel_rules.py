"""The points model's rules on their own — no HTTP, no database: transforms, caps, weights,
stage weights, bonuses, half-up rounding, derived indicators, the stored breakdown."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.scoring.breakdown import breakdown_json, show_value
from services.scoring.pointsmodel import Facts, ModelDefinition, compute, derive
from services.scoring.ranking import percentile
from shared import vocab
from tests.factories import (
    A_INDICATORS,
    A_POINTS,
    A_PREVIOUS_REVENUE,
    B_INDICATORS,
    B_POINTS,
    indicators,
)
from tests.scoring.unit_models import unit_model, unit_rule

D = Decimal
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "migrations" / "data" / "tz-2025.1.json"


def _facts(
    stage: str = "growth",
    industry: str = "health",
    categories: tuple[str, ...] = (),
    notes: dict[str, str] | None = None,
    **values: Decimal | None,
) -> Facts:
    return Facts(stage, industry, frozenset(categories), values, notes or {})


LINEAR = {"type": "linear", "per_unit": "10", "cap": "60"}
LOG = {"type": "log", "base": "100000", "coef": "8", "cap": "25"}
BANDED = {
    "type": "banded",
    "bands": [{"min": "0.03", "points": "10"}, {"min": "0.05", "points": "20"}],
}


@pytest.mark.parametrize(
    ("value", "points", "note"),
    [
        (D(0), D("0.0000"), "0 × 10"),
        (D(3), D("30.0000"), "3 × 10"),
        (D(6), D("60.0000"), "6 × 10, capped at 60"),  # exactly the cap
        (D(7), D("60.0000"), "7 × 10, capped at 60"),
    ],
)
def test_linear_is_value_times_per_unit_up_to_the_cap(
    value: Decimal, points: Decimal, note: str
) -> None:
    item = compute(
        unit_model(unit_rule("invention_patents", LINEAR)), _facts(invention_patents=value)
    )
    assert (item.items[0].points, item.items[0].cap, item.items[0].note) == (points, D(60), note)


@pytest.mark.parametrize(
    ("value", "points"),
    [
        (D("100000"), D("0.0000")),  # at the base: nothing
        (D("50000"), D("0.0000")),  # below the base: nothing, never negative
        (D("10000000"), D("16.0000")),  # 8 × log10(100)
        (D("1000000"), D("8.0000")),  # 8 × log10(10)
        (D("200000"), D("2.4082")),  # 8 × 0.30103 = 2.40824
        (D("100000000000"), D("25.0000")),  # 8 × 6 = 48, capped at 25
    ],
)
def test_log_is_coef_times_log10_over_the_base_up_to_the_cap(
    value: Decimal, points: Decimal
) -> None:
    result = compute(unit_model(unit_rule("rd_expense", LOG)), _facts(rd_expense=value))
    assert result.items[0].points == points


@pytest.mark.parametrize(
    ("value", "points", "note"),
    [
        (D("0.01"), D("0.0000"), "below the lowest band (0.03)"),
        (D("0.03"), D("10.0000"), "band ≥ 0.03"),  # a band's min is inside it
        (D("0.0499"), D("10.0000"), "band ≥ 0.03"),
        (D("0.2"), D("20.0000"), "band ≥ 0.05"),  # the highest band reached
    ],
)
def test_banded_gives_the_highest_band_reached(value: Decimal, points: Decimal, note: str) -> None:
    result = compute(unit_model(unit_rule("rd_intensity", BANDED)), _facts(rd_intensity=value))
    assert (result.items[0].points, result.items[0].cap, result.items[0].note) == (
        points,
        D(20),
        note,
    )


def test_weight_and_stage_weight_multiply_points_and_cap() -> None:
    model = unit_model(
        unit_rule("invention_patents", LINEAR, weight="1.5"),
        stage_weights={"startup": {"invention_patents": "1.2"}},
    )
    startup = compute(model, _facts(stage="startup", invention_patents=D(2))).items[0]
    assert (startup.points, startup.cap) == (D("36.0000"), D("108.0000"))  # 20 × 1.8, 60 × 1.8
    assert startup.note == "2 × 10; weight 1.80 (startup)"
    growth = compute(model, _facts(stage="growth", invention_patents=D(2))).items[0]
    assert (growth.points, growth.cap) == (D("30.0000"), D("90.0000"))  # only the weight


def test_a_missing_value_scores_zero_and_says_why() -> None:
    model = unit_model(unit_rule("revenue_growth", BANDED), unit_rule("invention_patents", LINEAR))
    result = compute(model, _facts(revenue_growth=None, notes={"revenue_growth": "no data"}))
    assert [(i.value, i.points, i.note) for i in result.items] == [
        (None, D("0.0000"), "no data"),
        (None, D("0.0000"), "no value"),
    ]
    assert result.items[0].cap == D("20.0000")


def test_bonuses_apply_when_every_given_condition_matches() -> None:
    bonuses = [
        {"key": "high_tech", "label": "高新", "when": {"category": "high_tech"}, "points": "20"},
        {
            "key": "young_ict",
            "label": "young ICT",
            "when": {"stage": "startup", "industry": "ict"},
            "points": "2.5",
        },
    ]
    model = unit_model(unit_rule("invention_patents", LINEAR), bonuses=bonuses)
    both = compute(
        model, _facts("startup", "ict", ("high_tech", "tech_sme"), invention_patents=D(1))
    )
    assert [(i.indicator, i.points, i.cap, i.note) for i in both.items[1:]] == [
        ("bonus:high_tech", D("20.0000"), D("20.0000"), "高新"),
        ("bonus:young_ict", D("2.5000"), D("2.5000"), "young ICT"),
    ]
    assert (both.total, both.points) == (D("32.5000"), 33)
    half = compute(model, _facts("startup", "health", ("tech_sme",), invention_patents=D(1)))
    assert [i.indicator for i in half.items] == ["invention_patents"]  # ict not matched


@pytest.mark.parametrize(
    ("per_unit", "value", "item", "points"),
    [
        ("0.00005", D(1), D("0.0001"), 0),  # item half-up to 4 decimals (even would be 0)
        ("0.00025", D(1), D("0.0003"), 0),  # half-even would give 0.0002
        ("0.5", D(1), D("0.5000"), 1),  # integer points half-up (even would be 0)
        ("2.5", D(1), D("2.5000"), 3),  # half-even would give 2
        ("0.49995", D(1), D("0.5000"), 1),  # rounded item, then rounded total
        ("0.4999", D(1), D("0.4999"), 0),
    ],
)
def test_rounding_is_half_up_for_items_and_points(
    per_unit: str, value: Decimal, item: Decimal, points: int
) -> None:
    model = unit_model(
        unit_rule("utility_models", {"type": "linear", "per_unit": per_unit, "cap": "99"})
    )
    result = compute(model, _facts(utility_models=value))
    assert (result.items[0].points, result.total, result.points) == (item, item, points)


def test_the_total_is_the_sum_of_the_rounded_items() -> None:
    thirds = {"type": "linear", "per_unit": "0.33333", "cap": "99"}
    model = unit_model(
        unit_rule("utility_models", thirds), unit_rule("software_copyrights", thirds)
    )
    result = compute(model, _facts(utility_models=D(1), software_copyrights=D(1)))
    assert [i.points for i in result.items] == [D("0.3333"), D("0.3333")]
    assert result.total == D("0.6666")
    assert result.points == 1


def test_the_same_inputs_always_give_the_same_points() -> None:
    model = _default_model()
    facts = _raw_facts(A_INDICATORS, A_PREVIOUS_REVENUE, "growth", ("high_tech", "tech_sme"))
    assert compute(model, facts) == compute(model, facts)


# ---------------------------------------------------------------- derived indicators


def _raw(**values: Any) -> dict[str, Decimal | None]:
    row = indicators("X", **values)
    return {name: D(str(row[name])) for name in vocab.RAW_INDICATORS}


def test_derived_indicators_are_exact_ratios() -> None:
    values, notes = derive(
        _raw(revenue="1000.00", rd_expense="30.00", rd_staff=1, total_staff=3), D("800.00")
    )
    assert values["rd_intensity"] == D("0.03")
    assert values["rd_staff_ratio"] == D("0." + "3" * 34)  # 34 significant digits
    assert values["revenue_growth"] == D("0.25")
    assert notes == {}


def test_zero_denominators_leave_ratios_undefined_with_a_note() -> None:
    values, notes = derive(_raw(revenue="0.00", rd_expense="5.00", total_staff=0), D("0.00"))
    assert values["rd_intensity"] is None
    assert values["rd_staff_ratio"] is None
    assert values["revenue_growth"] is None
    assert notes == {
        "rd_intensity": "no revenue: R&D intensity undefined",
        "rd_staff_ratio": "no staff: R&D staff ratio undefined",
        "revenue_growth": "previous period's revenue is zero: growth undefined",
    }


def test_missing_inputs_leave_ratios_undefined() -> None:
    values, notes = derive({"revenue": None, "rd_expense": None, "total_staff": None}, None)
    assert (values["rd_intensity"], values["rd_staff_ratio"], values["revenue_growth"]) == (
        None,
        None,
        None,
    )
    assert notes["revenue_growth"] == "no indicator data for the previous period"
    growth, _ = derive({"revenue": None}, D("100"))
    assert growth["revenue_growth"] is None


def test_a_shrinking_revenue_is_a_negative_growth() -> None:
    values, _ = derive(_raw(revenue="750.00"), D("1000.00"))
    assert values["revenue_growth"] == D("-0.25")


# ---------------------------------------------------------------- the default model


def _default_model() -> ModelDefinition:
    return ModelDefinition.model_validate(json.loads(DEFAULT_MODEL.read_text(encoding="utf-8")))


def _raw_facts(
    given: dict[str, Any], previous_revenue: str | None, stage: str, categories: tuple[str, ...]
) -> Facts:
    values, notes = derive(_raw(**given), None if previous_revenue is None else D(previous_revenue))
    return Facts(stage, "health", frozenset(categories), values, notes)


def test_the_worked_examples_of_the_readme() -> None:
    model = _default_model()
    a = compute(
        model, _raw_facts(A_INDICATORS, A_PREVIOUS_REVENUE, "growth", ("high_tech", "tech_sme"))
    )
    assert a.points == A_POINTS == 174
    b = compute(model, _raw_facts(B_INDICATORS, None, "startup", ("tech_sme",)))
    assert b.points == B_POINTS == 86
    growth = next(i for i in b.items if i.indicator == "revenue_growth")
    assert (growth.points, growth.note) == (
        D("0.0000"),
        "no indicator data for the previous period",
    )


# ---------------------------------------------------------------- model validation


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"indicators": [unit_rule("revenue", LOG), unit_rule("revenue", LOG)]}, "appear once"),
        ({"stage_weights": {"seed": {"awards_national": "2"}}}, "not in the model"),
        ({"stage_weights": {"seed": {"revenue": "0"}}}, "weights must be in (0, 100]"),
        (
            {
                "indicators": [
                    unit_rule(
                        "rd_intensity",
                        {
                            "type": "banded",
                            "bands": [{"min": "2", "points": "1"}, {"min": "1", "points": "2"}],
                        },
                    )
                ]
            },
            "strictly ascending",
        ),
        ({"bonuses": [{"key": "x", "label": "x", "when": {}, "points": "1"}]}, "condition"),
    ],
)
def test_inconsistent_models_are_refused(change: dict[str, Any], message: str) -> None:
    definition = {"version": "UNIT-1", "name": "unit", "indicators": [unit_rule("revenue", LOG)]}
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace("]", r"\]")):
        ModelDefinition.model_validate({**definition, **change})


# ---------------------------------------------------------------- the stored breakdown


def test_the_stored_breakdown_shows_money_counts_and_ratios() -> None:
    assert show_value("revenue", D("1234.5")) == "1234.50"
    assert show_value("invention_patents", D(3)) == "3"
    assert show_value("rd_staff_ratio", D(1) / D(3)) == "0.333333"
    assert show_value("rd_intensity", D("0.0300000")) == "0.03"
    model = unit_model(unit_rule("invention_patents", LINEAR))
    stored = breakdown_json(compute(model, _facts(invention_patents=D(7))).items)
    assert stored == [
        {
            "indicator": "invention_patents",
            "value": "7",
            "points": "60.0000",
            "cap": "60.0000",
            "note": "7 × 10, capped at 60",
        }
    ]


@pytest.mark.parametrize(
    ("below", "total", "expected"),
    [(0, 0, 0.0), (0, 5, 0.0), (1, 8, 12.5), (1, 3, 33.33), (2, 3, 66.67), (1, 200, 0.5)],
)
def test_percentile_is_half_up_to_two_decimals(below: int, total: int, expected: float) -> None:
    assert percentile(below, total) == expected
