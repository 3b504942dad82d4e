"""The compiled model against the reference: for any model and any facts, `CompiledModel.score`
gives the points, the exact total and the stored breakdown bytes of `pointsmodel.compute` +
`breakdown_json` (orjson) — random models and facts, and the edges the fast path decides
by itself or must hand back (rounding boundaries, caps, band minimums, missing values)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.scoring.breakdown import breakdown_json
from services.scoring.compiled_lines import Value
from services.scoring.compiled_model import CompiledModel
from services.scoring.pointsmodel import Facts, ModelDefinition, compute, derive
from shared import vocab
from tests.scoring.unit_models import unit_model, unit_rule

D = Decimal
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "migrations" / "data" / "tz-2025.1.json"
STAGES = ("seed", "startup", "growth", "mature")
INDUSTRIES = ("health", "ict")


def _same(
    model: ModelDefinition,
    values: Mapping[str, Value],
    *,
    stage: str = "growth",
    industry: str = "health",
    categories: tuple[str, ...] = (),
    notes: Mapping[str, str] | None = None,
) -> None:
    """The compiled model and the reference agree to the byte on these facts."""
    notes = notes or {}
    exact = {k: None if v is None else D(v) for k, v in values.items()}
    want = compute(model, Facts(stage, industry, frozenset(categories), exact, notes))
    got = CompiledModel(model).score(stage, industry, categories, values, notes)
    assert got.breakdown == orjson.dumps(breakdown_json(want.items))
    assert (got.points, str(got.total)) == (want.points, str(want.total))


# ---------------------------------------------------------------- random models and facts

_places = st.integers(min_value=0, max_value=6)
_positive = st.builds(
    lambda n, places: D(n).scaleb(-places),
    st.integers(min_value=1, max_value=10**7),
    _places,
)
_bonus = st.builds(
    lambda n, places: D(n).scaleb(-places), st.integers(min_value=1, max_value=1000), _places
)
_weight = st.sampled_from(["1", "0.5", "0.6", "1.2", "1.25", "1.0", "2", "3.333"])


@st.composite
def _transforms(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["linear", "log", "banded"]))
    if kind == "linear":
        return {"type": "linear", "per_unit": str(draw(_positive)), "cap": str(draw(_positive))}
    if kind == "log":
        return {
            "type": "log",
            "base": str(draw(_positive)),
            "coef": str(draw(_positive)),
            "cap": str(draw(_positive)),
        }
    mins = sorted(draw(st.sets(st.integers(-50, 10**6), min_size=1, max_size=5)))
    scale = draw(st.integers(0, 4))
    return {
        "type": "banded",
        "bands": [{"min": str(D(m).scaleb(-scale)), "points": str(draw(_positive))} for m in mins],
    }


@st.composite
def _models(draw: st.DrawFn) -> ModelDefinition:
    names = draw(st.lists(st.sampled_from(vocab.INDICATORS), min_size=1, max_size=8, unique=True))
    rules = [unit_rule(name, draw(_transforms()), draw(_weight)) for name in names]
    stage_weights = {
        stage: {name: draw(_weight) for name in draw(st.sets(st.sampled_from(names)))}
        for stage in draw(st.sets(st.sampled_from(STAGES)))
    }
    conditions = st.fixed_dictionaries(
        {},
        optional={
            "category": st.sampled_from(vocab.CATEGORIES),
            "stage": st.sampled_from(STAGES),
            "industry": st.sampled_from(INDUSTRIES),
        },
    ).filter(bool)
    bonuses = [
        {"key": f"b{i}", "label": f"bonus “{i}”", "when": when, "points": str(draw(_bonus))}
        for i, when in enumerate(draw(st.lists(conditions, max_size=3)))
    ]
    return unit_model(*rules, stage_weights=stage_weights, bonuses=bonuses)


_value: st.SearchStrategy[Value] = st.one_of(
    st.none(),
    st.integers(min_value=-3, max_value=10**6),  # counts, as PostgreSQL's integers give them
    st.integers(0, 10**13).map(lambda cents: D(cents).scaleb(-2)),  # money
    st.builds(  # derived ratios, as `derive` divides
        lambda a, b: D(a) / D(b), st.integers(0, 10**9), st.integers(1, 10**9)
    ),
    _positive,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=_models(),
    values=st.dictionaries(st.sampled_from(vocab.INDICATORS), _value),
    stage=st.sampled_from(STAGES),
    industry=st.sampled_from(INDUSTRIES),
    categories=st.lists(st.sampled_from(vocab.CATEGORIES), unique=True).map(tuple),
    notes=st.dictionaries(st.sampled_from(vocab.INDICATORS), st.sampled_from(['why "not"', "无"])),
)
def test_random_models_and_facts_give_the_references_bytes(
    model: ModelDefinition,
    values: dict[str, Value],
    stage: str,
    industry: str,
    categories: tuple[str, ...],
    notes: dict[str, str],
) -> None:
    _same(model, values, stage=stage, industry=industry, categories=categories, notes=notes)


_count = st.integers(min_value=0, max_value=10**4)
_cents = st.integers(min_value=0, max_value=10**12)


@settings(max_examples=300, deadline=None)
@given(
    counts=st.lists(_count, min_size=7, max_size=7),
    cents=st.lists(_cents, min_size=4, max_size=4),
    previous=st.one_of(st.none(), _cents),
    stage=st.sampled_from(STAGES),
    categories=st.lists(st.sampled_from(vocab.CATEGORIES), unique=True).map(tuple),
)
@example(  # zero revenue, zero staff, no previous period
    counts=[0] * 7, cents=[0, 0, 0, 0], previous=None, stage="seed", categories=()
)
@example(  # previous revenue zero
    counts=[1] * 7, cents=[100, 100, 100, 100], previous=0, stage="mature", categories=()
)
def test_the_default_model_on_database_rows(
    counts: list[int],
    cents: list[int],
    previous: int | None,
    stage: str,
    categories: tuple[str, ...],
) -> None:
    """Rows as the recompute reads them (ints for counts, 2-place Decimals for money), derived
    as it derives them."""
    model = ModelDefinition.model_validate(json.loads(DEFAULT_MODEL.read_text()))
    money = iter(D(c).scaleb(-2) for c in cents)
    count = iter(counts)
    raw: dict[str, Value] = {
        name: next(money) if name in ("rd_expense", "revenue", "equity_financing",
                                      "jbgs_funds_paid") else next(count)
        for name in vocab.RAW_INDICATORS
    }  # fmt: skip
    raw["rd_staff"] = min(int(raw["rd_staff"] or 0), int(raw["total_staff"] or 0))
    values, notes = derive(raw, None if previous is None else D(previous).scaleb(-2))  # type: ignore[arg-type]
    _same(model, values, stage=stage, categories=categories, notes=notes)


# ---------------------------------------------------------------- chosen edges

_LOG_WEIGHTED = unit_model(
    unit_rule("revenue", {"type": "log", "base": "1000", "coef": "1.23455", "cap": "50"})
)


@pytest.mark.parametrize(
    ("coef", "value", "points"),
    [
        ("1.23455", D("10000.00"), "1.2346"),  # log10(10) = 1: exactly on x.xxxx5, half up
        ("1.23445", D("10000.00"), "1.2345"),  # on a boundary, the other way of half-even
        ("1.234550000001", D("10000.00"), "1.2346"),  # next to the boundary, above
        ("1.234549999999", D("10000.00"), "1.2345"),  # next to the boundary, below
        ("0.411516666666666666666666666667", D("1000000.00"), "1.2346"),  # 3 × coef: 1.23455000…01
        ("3", D("1000.00"), "0.0000"),  # at the base: nothing
        ("3", D("1000.01"), "0.0000"),  # just above the base: 3 × 4.3e-6
    ],
)
def test_log_items_on_and_next_to_a_rounding_boundary(
    coef: str, value: Decimal, points: str
) -> None:
    model = unit_model(
        unit_rule("revenue", {"type": "log", "base": "1000", "coef": coef, "cap": "50"})
    )
    _same(model, {"revenue": value})
    got = CompiledModel(model).score("growth", "health", (), {"revenue": value}, {})
    assert orjson.loads(got.breakdown)[0]["points"] == points


@pytest.mark.parametrize("stage", ["seed", "growth"])
@pytest.mark.parametrize(
    "value",
    [D("100000000.00"), D("99999999.99"), D("100000000.01"), D("1000000000000.00"), D(10**6)],
)
def test_log_items_at_the_cap_and_powers_of_ten(stage: str, value: Decimal) -> None:
    """5 × log10(value / 10^5) reaches the cap of 15 exactly at 10^8; weighted ×0.6 for seed
    (0.6 × 15 = 9 exactly)."""
    model = unit_model(
        unit_rule("revenue", {"type": "log", "base": "100000", "coef": "5", "cap": "15"}),
        stage_weights={"seed": {"revenue": "0.6"}},
    )
    _same(model, {"revenue": value}, stage=stage)


@pytest.mark.parametrize(
    "cap",
    # log10(2) to the reference's 20 digits is 0.30102999566398119521: a cap equal to it, or
    # 1e-20 either side, is the same double as the float logarithm.
    ["0.30102999566398119521", "0.30102999566398119522", "0.30102999566398119520"],
)
def test_log_items_closer_to_the_cap_than_a_float_can_tell(cap: str) -> None:
    model = unit_model(unit_rule("revenue", {"type": "log", "base": "1", "coef": "1", "cap": cap}))
    _same(model, {"revenue": D("2.00")})


@pytest.mark.parametrize("count", [0, 1, 5, 6, 7, -1, 10**15, 10**20])
def test_linear_items_at_and_next_to_the_cap(count: int) -> None:
    """10 × count up to 60: 6 reaches the cap exactly; huge counts go to the reference."""
    model = unit_model(
        unit_rule("invention_patents", {"type": "linear", "per_unit": "10", "cap": "60"}, "1.25"),
        unit_rule("utility_models", {"type": "linear", "per_unit": "0.333", "cap": "2"}),
    )
    _same(model, {"invention_patents": count, "utility_models": count})


@pytest.mark.parametrize(
    "value",
    [D("0.03"), D("0.030000"), D("0.029999"), D("0.0299999999999999999999999999999999"),
     D("0.05"), D("-1"), D("0"), D(1) / D(3), 0, 1],
)  # fmt: skip
def test_banded_items_at_and_next_to_a_band_minimum(value: Decimal | int) -> None:
    model = unit_model(
        unit_rule(
            "rd_intensity",
            {
                "type": "banded",
                "bands": [
                    {"min": "0", "points": "1.00005"},
                    {"min": "0.03", "points": "10"},
                    {"min": "0.05", "points": "20"},
                ],
            },
            "1.2",
        )
    )
    _same(model, {"rd_intensity": value}, stage="startup")


def test_missing_values_say_why() -> None:
    model = ModelDefinition.model_validate(json.loads(DEFAULT_MODEL.read_text()))
    values, notes = derive(dict.fromkeys(vocab.RAW_INDICATORS, D(0)), None)
    values["revenue"] = None
    _same(model, values, notes=notes, categories=("high_tech", "gazelle"))


@pytest.mark.parametrize(
    "values",
    [
        {"invention_patents": D("-0")},  # the reference writes "-0.0000"
        {"invention_patents": D("123456789012345678901")},  # a count past the integer path
        {"invention_patents": D("0.5")},  # not a count: the reference's own functions
        {"revenue": D("1E+20")},  # a power of ten far above the base
    ],
)
def test_what_the_fast_path_leaves_to_the_reference(values: dict[str, Value]) -> None:
    model = unit_model(
        unit_rule("invention_patents", {"type": "linear", "per_unit": "10", "cap": "1E+12"}),
        unit_rule("revenue", {"type": "log", "base": "1", "coef": "7", "cap": "1000"}),
    )
    _same(model, values)


def test_the_default_model_per_stage_and_bonus() -> None:
    model = ModelDefinition.model_validate(json.loads(DEFAULT_MODEL.read_text()))
    raw: dict[str, Value] = {
        "invention_patents": 3, "utility_models": 11, "software_copyrights": 5,
        "rd_expense": D("1234567.89"), "revenue": D("24000000.00"), "rd_staff": 12,
        "total_staff": 40, "equity_financing": D("0.00"), "awards_provincial": 1,
        "awards_national": 2, "jbgs_funds_paid": D("0.00"),
    }  # fmt: skip
    values, notes = derive(raw, D("20000000.00"))  # type: ignore[arg-type]
    compiled = CompiledModel(model)
    for stage in (*STAGES, "unknown"):
        for categories in ((), tuple(vocab.CATEGORIES)):
            _same(model, values, stage=stage, categories=categories, notes=notes)
            again = compiled.score(stage, "health", categories, values, notes)  # memoised
            assert again == compiled.score(stage, "health", categories, values, notes)
