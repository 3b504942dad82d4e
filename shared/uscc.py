"""统一社会信用代码 (GB 32100-2015): check digit, validation, and the pydantic type `Uscc`."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_SHAPE = re.compile(rf"^[{ALPHABET}]{{18}}$")


def check_char(first17: str) -> str:
    """Return the check character for the first 17 characters of a code."""
    if len(first17) != 17 or any(ch not in _VALUE for ch in first17):
        raise ValueError("need 17 characters from the USCC alphabet")
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def uscc_error(code: str) -> str | None:
    """Return why `code` is not a valid USCC, or None when it is."""
    if len(code) != 18:
        return "must be 18 characters"
    if not _SHAPE.match(code):
        return "may contain only 0-9 and A-H J-N P-R T U W-Y"
    if check_char(code[:17]) != code[17]:
        return "check digit does not match"
    return None


def is_valid_uscc(code: str) -> bool:
    """Whether `code` is a well-formed USCC with a correct check digit."""
    return uscc_error(code) is None


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _validate(value: str) -> str:
    reason = uscc_error(value)
    if reason is not None:
        raise PydanticCustomError(
            "invalid_uscc", "invalid unified social credit code: {reason}", {"reason": reason}
        )
    return value


# What the document says (the check digit is the `uscc` format; lower case is accepted).
PATTERN = r"^[0-9A-HJ-NP-RTUW-Ya-hj-np-rtuw-y]{18}$"

Uscc = Annotated[
    str,
    BeforeValidator(_upper),
    AfterValidator(_validate),
    Field(
        description="统一社会信用代码, 18 characters, check digit verified (GB 32100-2015)",
        examples=["91321200MA1N2X3Y46"],
        json_schema_extra={"format": "uscc", "pattern": PATTERN},
    ),
]
