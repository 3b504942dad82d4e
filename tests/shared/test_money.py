from __future__ import annotations

import re
from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from shared.money import NonNegativeMoney, PositiveMoney, round_cents


class Loan(BaseModel):
    amount: PositiveMoney
    fee: NonNegativeMoney = Decimal("0")


def test_money_is_a_decimal_in_and_a_two_place_string_out() -> None:
    loan = Loan(amount="2850000")
    assert loan.amount == Decimal("2850000.00")
    assert loan.model_dump(mode="json") == {"amount": "2850000.00", "fee": "0.00"}


@pytest.mark.parametrize(
    "bad",
    [
        2850000.1,  # a JSON number: floats lose precision, so numbers are refused
        2850000,
        "1.001",  # more than two decimals
        "-5.00",  # negative
        "0.00",  # a loan of nothing
        "12345678901234.00",  # absurd magnitude
        "1e6",
        "NaN",
        "",
        " 1 000",
    ],
)
def test_bad_amounts_are_rejected(bad: object) -> None:
    with pytest.raises(ValidationError):
        Loan(amount=bad)


def test_round_cents_is_half_up() -> None:
    assert round_cents(Decimal("0.005")) == Decimal("0.01")
    assert round_cents(Decimal("34200.004999")) == Decimal("34200.00")
    assert round_cents(Decimal("2.675")) == Decimal("2.68")


@pytest.mark.parametrize(
    "bad",
    [
        "٣٠٠.٠٠",  # Arabic-Indic digits: Decimal reads them, the document's [0-9] does not
        "１００.００",  # full-width digits
        "100.00\n",  # `$` matched before a trailing newline
        " 100.00",  # the document's pattern has no room for spaces
        "-0.00",  # negative zero is no amount of money either
        "0100.00",  # leading zeros
    ],
)
def test_money_is_exactly_what_the_openapi_pattern_says(bad: str) -> None:
    # Found by the fuzz suite: the document promised [0-9] digits, the parser took more.
    with pytest.raises(ValidationError):
        Loan(amount=bad)
    with pytest.raises(ValidationError):
        Loan(amount="1.00", fee=bad)


def test_the_openapi_patterns_match_the_parser() -> None:
    schema = Loan.model_json_schema()["properties"]
    positive, non_negative = schema["amount"]["pattern"], schema["fee"]["pattern"]
    for text, is_positive, is_non_negative in [
        ("2850000.00", True, True),
        ("0.01", True, True),
        ("0.00", False, True),
        ("0", False, True),
        ("0.1", True, True),
        ("0.0", False, True),
        ("1234567890123.45", True, True),
        ("12345678901234", False, False),
        ("007.00", False, False),  # no leading zeros
        ("-1.00", False, False),
        ("1.001", False, False),
    ]:
        assert bool(re.search(positive, text)) is is_positive, text
        assert bool(re.search(non_negative, text)) is is_non_negative, text
        assert _parses(text, "amount") is is_positive, text
        assert _parses(text, "fee") is is_non_negative, text


def _parses(text: str, field: str) -> bool:
    try:
        Loan.model_validate({"amount": "1.00", field: text})
    except ValidationError:
        return False
    return True
