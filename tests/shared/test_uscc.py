from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shared.uscc import ALPHABET, Uscc, check_char, is_valid_uscc, uscc_error


class Body(BaseModel):
    uscc: Uscc


# Real published codes (check digits computed by their issuers).
@pytest.mark.parametrize(
    "code",
    ["91110000802100433B", "91440300708461136T"],
)
def test_known_real_codes_are_valid(code: str) -> None:
    assert is_valid_uscc(code)


def test_check_char_matches_the_standard_formula() -> None:
    first17 = "91321200MA1N2X3Y4"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, weights, strict=True))
    assert check_char(first17) == ALPHABET[(31 - total % 31) % 31]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91321200MA1N2X3Y4", "must be 18 characters"),
        ("91321200MA1N2X3Y4I", "may contain only"),  # I is not in the alphabet
        ("91321200MA1N2X3Y4O", "may contain only"),
        ("91321200MA1N2X3Y47", "check digit does not match"),
    ],
)
def test_bad_codes_say_why(code: str, reason: str) -> None:
    error = uscc_error(code)
    assert error is not None
    assert reason in error


def test_pydantic_type_uppercases_and_reports_invalid_uscc() -> None:
    assert Body(uscc="91321200ma1n2x3y46").uscc == "91321200MA1N2X3Y46"
    with pytest.raises(ValidationError) as info:
        Body(uscc="91321200MA1N2X3Y47")
    assert info.value.errors()[0]["type"] == "invalid_uscc"


@given(st.text(alphabet=ALPHABET, min_size=17, max_size=17))
def test_any_code_with_its_check_char_is_valid_and_one_change_breaks_it(first17: str) -> None:
    code = first17 + check_char(first17)
    assert is_valid_uscc(code)
    other = ALPHABET[(ALPHABET.index(code[17]) + 1) % len(ALPHABET)]
    assert not is_valid_uscc(code[:17] + other)


def test_the_openapi_schema_says_what_the_type_takes() -> None:
    # The fuzz suite holds the server to its document: the pattern (charset, length, either
    # case) and the `uscc` format (the check digit) are exactly what the type accepts.
    schema = Body.model_json_schema()["properties"]["uscc"]
    assert schema["format"] == "uscc"
    assert re.fullmatch(schema["pattern"].strip("^$"), "91321200ma1n2x3y46")
    assert Body(uscc="91321200ma1n2x3y46").uscc == "91321200MA1N2X3Y46"
    for padded in (" 91321200MA1N2X3Y46", "91321200MA1N2X3Y46\n"):
        assert not re.fullmatch(schema["pattern"].strip("^$"), padded)
        with pytest.raises(ValidationError):
            Body(uscc=padded)
