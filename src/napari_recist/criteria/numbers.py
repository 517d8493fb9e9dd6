"""Threshold comparisons with a float tolerance, and number formatting for reasons.

shared/spec/criteria.md: comparisons at a threshold are made on decimals or with a 1e-9
tolerance, so 25.2 mm against a 21 mm nadir is +20 % exactly, not 19.999...
"""

from __future__ import annotations

from typing import Final

from napari_recist.criteria.settings import EPSILON


def at_least(value: float, threshold: float) -> bool:
    """Return ``value >= threshold`` within the tolerance."""
    return value >= threshold - EPSILON


def at_most(value: float, threshold: float) -> bool:
    """Return ``value <= threshold`` within the tolerance."""
    return value <= threshold + EPSILON


def above(value: float, threshold: float) -> bool:
    """Return ``value > threshold`` beyond the tolerance (strictly greater)."""
    return value > threshold + EPSILON


def below(value: float, threshold: float) -> bool:
    """Return ``value < threshold`` beyond the tolerance (strictly smaller)."""
    return value < threshold - EPSILON


def percent_change(value: float, reference: float) -> float | None:
    """Return the change of `value` from `reference` in percent, None if the reference is 0."""
    if reference == 0:
        return None
    return (value - reference) / reference * 100.0


def increase_meets(
    value: float, reference: float, min_pct: float, min_mm: float, strict_pct: bool = False
) -> bool:
    """Return whether `value` grew from `reference` by the percentage AND the millimetres.

    Parameters
    ----------
    value, reference
        Sizes in mm.
    min_pct
        Relative increase needed (20 for RECIST 1.1 PD).
    min_mm
        Absolute increase needed (5 for RECIST 1.1 PD).
    strict_pct
        True for "more than" (seed 002), False for "at least" (RECIST 1.1).

    Returns
    -------
    bool
        From a reference of 0, any growth of at least `min_mm` meets the percentage.
    """
    if not at_least(value - reference, min_mm):
        return False
    if reference == 0:
        return value > EPSILON
    pct = (value - reference) / reference * 100.0
    return above(pct, min_pct) if strict_pct else at_least(pct, min_pct)


# Millimetres repeat (sizes are read to 0.1 mm): their text is kept once formatted.
_MM_TEXT: Final[dict[float, str]] = {}
_MM_TEXT_LIMIT: Final = 200_000


def fmt_mm(value: float) -> str:
    """Format millimetres without float noise: 43, 42.5, 4.25."""
    text = _MM_TEXT.get(value)
    if text is None:
        text = _format_mm(value)
        if len(_MM_TEXT) >= _MM_TEXT_LIMIT:
            _MM_TEXT.clear()
        _MM_TEXT[value] = text
    return text


def _format_mm(value: float) -> str:
    if value == int(value):
        return str(int(value))
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt_signed_mm(value: float) -> str:
    """Format a change in millimetres with its sign: +8, -3.5."""
    text = fmt_mm(value)
    return text if text.startswith("-") else f"+{text}"


# Below this magnitude the tenths are found from ``value * 10`` directly (`_tenths`).
_TENTHS_LIMIT: Final = 1e6
# ``abs(value) * 10`` is within 9.3e-10 of the exact product below the limit (half an ulp of
# a number below 2**24); a fraction this close to one half is left to the correctly rounding
# library.
_HALF_MARGIN: Final = 1e-6


def _tenths(value: float) -> int:
    """Return ``round(value, 1) * 10`` as an int (half to even on the exact binary value).

    The product ``abs(value) * 10.0`` is rounded once, by less than 9.3e-10 below the limit,
    so unless its fraction lies within ``_HALF_MARGIN`` of one half it falls on the same side
    of the half as the exact product, and rounding it up or down gives what ``round(value, 1)``
    gives: the correctly rounded decimal of the exact value. A fraction that close to the
    half (the ties 0.25, 0.75... among them) goes to ``round`` itself. Neither ``round`` nor
    the ``.1f`` format is used on the common path: both run David Gay's correctly rounding
    conversion, which cost most of a reason's time. The caller keeps `value` strictly inside
    ``±_TENTHS_LIMIT`` (which also keeps out NaN and the infinities).
    """
    value = float(value)  # interpreted, a numpy float32 would keep its own precision below
    magnitude = value if value >= 0.0 else -value
    scaled = magnitude * 10.0
    whole = int(scaled)
    fraction = scaled - whole  # exact: `whole` and `scaled` share their leading bits
    if -_HALF_MARGIN < fraction - 0.5 < _HALF_MARGIN:
        return _library_tenths(value)
    if fraction > 0.5:
        whole += 1
    return -whole if value < 0.0 else whole


def _library_tenths(value: float) -> int:
    """`_tenths` through ``round`` (correctly rounded).

    ``round(value, 1)`` is the double nearest n/10; times ten it is within an ulp of n.
    """
    return int(round(round(value, 1) * 10.0))


def fmt_pct(value: float | None) -> str:
    """Format a percentage with its sign and one decimal: +22.9 %, -35.7 %.

    The digits are those of ``round(value, 1)`` (`_tenths`); a change that rounds to zero is
    written ``+0.0 %``, never ``-0.0 %``. A value too large for `_tenths`'s direct path is
    formatted with ``.1f``, which rounds as ``round`` does.
    """
    if value is None:
        return "n/a %"
    if not -_TENTHS_LIMIT < value < _TENTHS_LIMIT:
        text = f"{value:+.1f} %"
        return "+0.0 %" if text == "-0.0 %" else text
    tenths = _tenths(value)
    if tenths < 0:
        return f"-{-tenths // 10}.{-tenths % 10} %"
    return f"+{tenths // 10}.{tenths % 10} %"


def finite(value: float) -> float:
    """Return `value`, refusing NaN and infinities: JSON has neither (a bug if one gets here).

    Every float of the JSON contract goes through the rounding helpers below, which call this;
    the JSON writer (orjson) would otherwise write a NaN as ``null``.

    Raises
    ------
    ValueError
        When `value` is NaN or infinite.
    """
    if value - value != 0.0:  # NaN - NaN and inf - inf are NaN; any finite x - x is 0
        raise ValueError(f"a computed number is {value}: JSON has no NaN or Infinity")
    return value


_MM_ROUNDED: Final[dict[float, float]] = {}


def round_mm(value: float | None) -> float | None:
    """Round millimetres for output (removes float noise, keeps the measured precision)."""
    if value is None:
        return None
    rounded = _MM_ROUNDED.get(value)
    if rounded is None:
        rounded = finite(float(round(value, 2)))
        if len(_MM_ROUNDED) >= _MM_TEXT_LIMIT:
            _MM_ROUNDED.clear()
        _MM_ROUNDED[value] = rounded
    return rounded


def round_pct(value: float | None) -> float | None:
    """Round a percentage for output to one decimal, as the JSON contract shows."""
    if value is None:
        return None
    return _rounded_tenths(value)


def _rounded_tenths(value: float) -> float:
    """``round(value, 1)`` with -0.0 written 0.0; NaN and infinities refused (`finite`)."""
    if not -_TENTHS_LIMIT < value < _TENTHS_LIMIT:
        rounded = finite(float(round(value, 1)))
        return 0.0 if rounded == 0 else rounded
    tenths = _tenths(value)
    # n / 10 is the double nearest the decimal n/10: what round(value, 1) returns.
    return tenths / 10.0 if tenths else 0.0


def round_rate(value: float | None) -> float | None:
    """Round a rate (0..1) for output to four decimals."""
    return None if value is None else finite(round(value, 4))


def round_one_decimal(value: float | None) -> float | None:
    """Sums of imRECIST and irRC in the JSON: 1 decimal (lesion-table.md), -0.0 written 0.0."""
    if value is None:
        return None
    return _rounded_tenths(value)
