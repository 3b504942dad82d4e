"""One rule of a points model compiled for one stage: an enterprise's item (its points in units
of 0.0001 and its JSON text in the stored breakdown) from the indicator's value, equal to
`pointsmodel.item_points` + `breakdown.breakdown_json` byte for byte.

`compiled_model` puts the lines of a model together; the paths search evaluates one line for
many values (`item_units`). Linear rules on counts are integer arithmetic, log rules a float
logarithm that falls back to the Decimal one near a rounding boundary (see `_LogLine`), banded
rules a bisection over precomputed bands; anything outside a line's proven range raises
`Fallback` or is computed by the reference's own functions.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from decimal import Decimal

import orjson

from services.scoring import pointsmodel
from services.scoring.breakdown import MONEY_INDICATORS, show_value
from services.scoring.pointsmodel import (
    Banded,
    IndicatorRule,
    Linear,
    Log,
)

Value = Decimal | int | None
"""An indicator's value: an int stands for `Decimal(int)` (PostgreSQL's integer columns)."""

UNITS = 10_000  # points are kept as integers in units of 0.0001
_SMALL = 10**15  # |int value| below this: every product below stays exact at 34 digits
_MAX_ITEM_UNITS = 10**20  # larger items (a strange model) go through the reference's Decimal
MAX_TOTAL_UNITS = 10**24  # sums beyond 28 digits would round in the reference's `sum`
_FLOAT_MAX = 1e11  # log items below this many points: 4 decimals are exact in a float
_TRUST = 2.0**-44  # the log path's relative error bound, with room (see _LogLine)
CACHE = 4096  # most memoised items per line (linear values, bonus combinations)


class Fallback(Exception):
    """This enterprise is outside the fast path: compute it with the reference."""


def units_of(points: Decimal) -> int:
    """An item's points (a Decimal rounded to 4 places) as integer units of 0.0001.

    A negative zero ("-0.0000", from a linear rule and a value of -0) or a huge item is left
    to the reference, whose text and rounding of the total then apply."""
    if points.is_signed() or not points < _MAX_ITEM_UNITS // UNITS:
        raise Fallback
    return int(points.scaleb(4))


def units_text(units: int) -> str:
    """Units of 0.0001 as `str()` shows a Decimal with 4 places, e.g. 12.3400."""
    return f"{units // UNITS}.{units % UNITS:04d}"


def json_str(text: str) -> str:
    """A string as orjson writes it."""
    return orjson.dumps(text).decode()


def _escaped(text: str) -> str:
    """A string's JSON escaping without the quotes (JSON escapes character by character)."""
    return json_str(text)[1:-1]


def _shown(indicator: str, value: Decimal | int) -> str:
    """`breakdown.show_value`, with shortcuts that give the same text for ordinary values."""
    if type(value) is int and -_SMALL < value < _SMALL:
        return f"{value}.00" if indicator in MONEY_INDICATORS else str(value)
    decimal = Decimal(value)
    if indicator in MONEY_INDICATORS:
        text = str(decimal)
        # Two places and no exponent: quantize to cents changes nothing, and "f" is str().
        if len(text) > 3 and text[-3] == "." and "E" not in text:
            return text
    return show_value(indicator, decimal)


class Line:
    """One rule under one stage: the item's JSON around its value, points and note."""

    __slots__ = ("cap_units", "end_none", "head", "indicator", "multiplier", "rule", "stage")

    def __init__(self, rule: IndicatorRule, multiplier: Decimal, stage: str) -> None:
        self.rule = rule
        self.indicator = rule.indicator
        self.multiplier = multiplier
        self.stage = stage
        cap = pointsmodel.item_cap(rule, multiplier)
        self.cap_units = units_of(cap)
        self.head = '{"indicator":' + json_str(rule.indicator) + ',"value":'
        self.end_none = f',"points":"0.0000","cap":"{cap}","note":'

    def _end(self, units: int) -> str:
        return f',"points":"{units_text(units)}","cap":"{units_text(self.cap_units)}","note":'

    def none(self, note: str) -> tuple[int, str]:
        """The item of a missing value."""
        return 0, self.head + "null" + self.end_none + json_str(note) + "}"

    def item(self, value: Decimal | int) -> tuple[int, str]:
        """The item of a value: the reference's own functions (the general case)."""
        decimal = Decimal(value)
        points, note = pointsmodel.item_points(self.rule, decimal, self.multiplier, self.stage)
        units = units_of(points)
        shown = _shown(self.indicator, value)
        return units, f'{self.head}"{shown}"{self._end(units)}{json_str(note)}}}'

    def suffix(self) -> str:
        """What the reference appends to a weighted item's note."""
        return "" if self.multiplier == 1 else f"; weight {self.multiplier} ({self.stage})"


class _LinearLine(Line):
    """`value × per_unit` up to the cap, in integers, for int values (counts): the reference's
    Decimal products are exact there (at most 15 + 10 + 9 digits), so integers give the same."""

    __slots__ = ("cap_end", "cap_num", "memo", "per_num", "scale", "tail", "tail_capped", "unit")

    def __init__(
        self, rule: IndicatorRule, transform: Linear, multiplier: Decimal, stage: str
    ) -> None:
        super().__init__(rule, multiplier, stage)
        per_unit, cap = transform.per_unit, transform.cap
        per_n, per_e = _int_exp(per_unit)
        cap_n, cap_e = _int_exp(cap)
        mul_n, mul_e = _int_exp(multiplier)
        low = min(per_e, cap_e)
        # value × per_unit ≥ cap  ⇔  value × per_num ≥ cap_num (both scaled to 10^low)
        self.per_num = per_n * 10 ** (per_e - low)
        self.cap_num = cap_n * 10 ** (cap_e - low)
        # points units = value × per_n × mul_n × 10^(per_e + mul_e + 4), rounded half up
        self.unit = per_n * mul_n
        self.scale = per_e + mul_e + 4
        suffix = self.suffix()
        self.tail = _escaped(f" × {per_unit}{suffix}")
        self.tail_capped = _escaped(f" × {per_unit}, capped at {cap}{suffix}")
        self.cap_end = self._end(self.cap_units)
        self.memo: dict[int, tuple[int, str]] = {}

    def item(self, value: Decimal | int) -> tuple[int, str]:
        """The item of a value, from the memo when the count was seen before."""
        if type(value) is not int or not -_SMALL < value < _SMALL:
            return super().item(value)
        known = self.memo.get(value)
        if known is not None:
            return known
        if value * self.per_num >= self.cap_num:
            units, end, tail = self.cap_units, self.cap_end, self.tail_capped
        else:
            if value <= 0:
                units = 0
            elif self.scale >= 0:
                units = value * self.unit * 10**self.scale
            else:
                half = 10**-self.scale
                units = (2 * value * self.unit + half) // (2 * half)
            if units >= _MAX_ITEM_UNITS:
                raise Fallback
            end, tail = self._end(units), self.tail
        shown = f"{value}.00" if self.indicator in MONEY_INDICATORS else str(value)
        known = units, f'{self.head}"{shown}"{end}"{value}{tail}"}}'
        if len(self.memo) < CACHE:
            self.memo[value] = known
        return known


class _LogLine(Line):
    """`coef × log10(value / base)` up to the cap, in floats where that is provably exact.

    The reference computes X = q34(q34(coef × r) × m), r = log10(q20(value / base)) rounded
    to 20 digits, m the multiplier; its distance from the true c·m·log10(v/b) is below
    |c·m|·(|L| + 1)·1e-19 (a 20-digit rounding of the quotient moves the logarithm by at most
    2.2e-20, of the logarithm by 5e-20 of it; the 34-digit products by 5e-34 of themselves).
    The float path takes v and b to the nearest double (½ ulp each), divides (½ ulp),
    takes log10 (glibc: at most 2 ulp; 4 assumed) and multiplies by c and m (½ ulp each, after
    their own conversions): with u = 2⁻⁵³ its y is within |c·m|·(|L|·12u + 1.4u) + 2u·|y|
    of c·m·L. Both errors together stay below (|c·m|·(|L| + 1) + |y|)·2⁻⁴⁸; the margin used,
    the same with 2⁻⁴⁴, is 16 times that. So when y·10⁴ is more than the margin × 10⁴ away
    from the half-way point between two 4-decimal values, X rounds half up to the same
    integer as y; when coef × L is more than its margin away from the cap, the reference's
    comparison `raw >= cap` comes out the same. Otherwise (about once in 10⁷ items) the
    reference's Decimal computes the item.
    """

    __slots__ = (
        "base",
        "base_f",
        "cap_f",
        "coef_f",
        "end_base",
        "end_capped",
        "gain",
        "multiplier_f",
        "note",
    )

    def __init__(
        self, rule: IndicatorRule, transform: Log, multiplier: Decimal, stage: str
    ) -> None:
        super().__init__(rule, multiplier, stage)
        self.base = transform.base
        self.base_f = float(transform.base)
        self.coef_f = float(transform.coef)
        self.cap_f = float(transform.cap)
        self.multiplier_f = float(multiplier)
        self.gain = self.coef_f * self.multiplier_f
        if not all(1e-300 < abs(x) < 1e300 for x in (self.base_f, self.coef_f, self.gain)):
            raise ValueError("outside the float path's range")
        suffix = self.suffix()
        base, coef, cap = transform.base, transform.coef, transform.cap
        self.end_base = self._end(0) + json_str(f"at most the base {base}{suffix}") + "}"
        capped = f"{coef} × log10(value / {base}), capped at {cap}{suffix}"
        self.end_capped = self._end(self.cap_units) + json_str(capped) + "}"
        self.note = json_str(f"{coef} × log10(value / {base}){suffix}") + "}"

    def item(self, value: Decimal | int) -> tuple[int, str]:
        """The item of a value: float logarithm, Decimal only near a boundary."""
        if type(value) is int and not -_SMALL < value < _SMALL:
            return super().item(value)
        shown = _shown(self.indicator, value)
        if value <= self.base:
            return 0, f'{self.head}"{shown}"{self.end_base}'
        log = math.log10(float(value) / self.base_f)
        raw = self.coef_f * log
        spread = log + 1.0
        if abs(raw - self.cap_f) <= (self.coef_f * spread + self.cap_f) * _TRUST:
            return super().item(value)  # too close to the cap to tell
        if raw >= self.cap_f:
            return self.cap_units, f'{self.head}"{shown}"{self.end_capped}'
        points = raw * self.multiplier_f
        if not 0.0 <= points < _FLOAT_MAX:
            return super().item(value)
        scaled = points * UNITS
        whole = math.floor(scaled)
        half = scaled - whole - 0.5  # exact: Sterbenz, scaled < 2^52
        if abs(half) <= (self.gain * spread + points) * _TRUST * UNITS:
            return super().item(value)  # too close to a rounding boundary to tell
        units = whole + 1 if half > 0 else whole
        return units, f'{self.head}"{shown}"{self._end(units)}{self.note}'


class _BandedLine(Line):
    """Tiers: the band is found by bisection on the ascending minimums; each band's weighted
    points and note are the reference's, computed once."""

    __slots__ = ("bands", "mins")

    def __init__(
        self, rule: IndicatorRule, transform: Banded, multiplier: Decimal, stage: str
    ) -> None:
        super().__init__(rule, multiplier, stage)
        self.mins = [band.min for band in transform.bands]
        below = Decimal("-Infinity")  # reaches no band: the reference's "below" item
        self.bands = [self._band(below)] + [self._band(band.min) for band in transform.bands]

    def _band(self, value: Decimal) -> tuple[int, str]:
        points, note = pointsmodel.item_points(self.rule, value, self.multiplier, self.stage)
        units = units_of(points)
        return units, self._end(units) + json_str(note) + "}"

    def item(self, value: Decimal | int) -> tuple[int, str]:
        """The item of a value: its band's precomputed points and note."""
        units, end = self.bands[bisect_right(self.mins, value)]
        return units, f'{self.head}"{_shown(self.indicator, value)}"{end}'


def _int_exp(value: Decimal) -> tuple[int, int]:
    """A finite Decimal as (integer, exponent): value = integer × 10^exponent."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError("not a finite number")
    number = int("".join(map(str, digits)) or "0")
    return (-number if sign else number), exponent


def line_for(rule: IndicatorRule, multiplier: Decimal, stage: str) -> Line:
    transform = rule.transform
    try:
        if isinstance(transform, Linear):
            per_n = _int_exp(transform.per_unit)[0]
            mul_n = _int_exp(multiplier)[0]
            # value (< 10^15) × per_unit × multiplier within 34 digits: the reference's
            # products are exact, so integers give the same.
            if abs(per_n) < 10**10 and abs(mul_n) < 10**9:
                return _LinearLine(rule, transform, multiplier, stage)
        elif isinstance(transform, Log):
            return _LogLine(rule, transform, multiplier, stage)
        else:
            return _BandedLine(rule, transform, multiplier, stage)
    except (ValueError, ArithmeticError, Fallback):
        pass
    return Line(rule, multiplier, stage)


def item_units(rule: IndicatorRule, multiplier: Decimal, stage: str) -> Callable[[Value], int]:
    """One rule's points (units of 0.0001) as a function of its value, exactly as `score`
    counts them (for the paths search, which evaluates many values of a few rules)."""
    line = line_for(rule, multiplier, stage)

    def units(value: Value) -> int:
        if value is None:
            return 0
        try:
            return line.item(value)[0]
        except Fallback:
            return units_of(pointsmodel.item_points(rule, Decimal(value), multiplier, stage)[0])

    return units
