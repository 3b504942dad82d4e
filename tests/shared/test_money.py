from __future__ import annotations

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
