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


def fmt_mm(value: float) -> str:
    """Format millimetres without float noise: 43, 42.5, 4.25.

    The digits are those of ``f"{value:.2f}"`` with trailing zeros (and a bare point)
    dropped, ``-0`` written ``0``; below `_DIRECT_LIMIT` they come from `_units` (the
    rounding ``.2f`` does, without it). A larger, infinite or NaN value goes to the library.
    """
    if not -_DIRECT_LIMIT < value < _DIRECT_LIMIT:
        return _format_mm(value)
    hundredths = _units(value, 100.0)
    sign = ""
    if hundredths < 0:
        sign, hundredths = "-", -hundredths
    whole, cents = hundredths // 100, hundredths % 100
    if not cents:
        return f"{sign}{whole}"
    if cents % 10:
        return f"{sign}{whole}.{cents // 10}{cents % 10}"
    return f"{sign}{whole}.{cents // 10}"


def _format_mm(value: float) -> str:
    """`fmt_mm` through the library's ``.2f`` (raises on NaN and the infinities as before)."""
    if value == int(value):
        return str(int(value))
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt_signed_mm(value: float) -> str:
    """Format a change in millimetres with its sign: +8, -3.5."""
    text = fmt_mm(value)
    return text if text.startswith("-") else f"+{text}"


# Below this magnitude tenths and hundredths are found from ``value * 10`` or ``value * 100``
# directly (`_units`).
_DIRECT_LIMIT: Final = 1e6
# ``abs(value) * scale`` (10 or 100) is within 7.5e-9 of the exact product below the limit
# (half an ulp of a number below 2**27); a fraction this close to one half is left to the
# correctly rounding library.
_HALF_MARGIN: Final = 1e-6


def _units(value: float, scale: float) -> int:
    """Return ``round(value, d) * scale`` as an int, for ``scale = 10 ** d`` (10 or 100).

    That is the decimal rounding ``round`` and the ``.1f`` / ``.2f`` formats make: half to
    even on the exact binary value. The product ``abs(value) * scale`` is rounded once, by
    less than 7.5e-9 below the limit, so unless its fraction lies within ``_HALF_MARGIN`` of
    one half it falls on the same side of the half as the exact product, and rounding it up
    or down gives the correctly rounded decimal of the exact value. A fraction that close to
    the half (the ties 0.25, 0.75... among them) goes to ``round`` itself. Neither ``round``
    nor a format is used on the common path: both run David Gay's correctly rounding
    conversion, which cost most of a reason's time. The caller keeps `value` strictly inside
    ``±_DIRECT_LIMIT`` (which also keeps out NaN and the infinities).
    """
    value = float(value)  # interpreted, a numpy float32 would keep its own precision below
    magnitude = value if value >= 0.0 else -value
    scaled = magnitude * scale
    whole = int(scaled)
    fraction = scaled - whole  # exact: `whole` and `scaled` share their leading bits
    if -_HALF_MARGIN < fraction - 0.5 < _HALF_MARGIN:
        return _library_units(value, scale)
    if fraction > 0.5:
        whole += 1
    return -whole if value < 0.0 else whole


def _library_units(value: float, scale: float) -> int:
    """`_units` through ``round`` (correctly rounded).

    ``round(value, d)`` is the double nearest n / scale; times `scale` it is within an ulp
    of n.
    """
    return int(round(round(value, 1 if scale == 10.0 else 2) * scale))


def fmt_pct(value: float | None) -> str:
    """Format a percentage with its sign and one decimal: +22.9 %, -35.7 %.

    The digits are those of ``round(value, 1)`` (`_units`); a change that rounds to zero is
    written ``+0.0 %``, never ``-0.0 %``. A value too large for the direct path (`_units`) is
    formatted with ``.1f``, which rounds as ``round`` does.
    """
    if value is None:
        return "n/a %"
    if not -_DIRECT_LIMIT < value < _DIRECT_LIMIT:
        text = f"{value:+.1f} %"
        return "+0.0 %" if text == "-0.0 %" else text
    tenths = _units(value, 10.0)
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


def round_mm(value: float | None) -> float | None:
    """Round millimetres for output (removes float noise, keeps the measured precision).

    ``round(value, 2)``: below `_DIRECT_LIMIT` from `_units` (n / 100 is the double nearest
    the decimal n/100, which is what ``round`` returns; a value that rounds to zero keeps its
    sign, as with ``round``); NaN and infinities refused (`finite`).
    """
    if value is None:
        return None
    if not -_DIRECT_LIMIT < value < _DIRECT_LIMIT:
        return finite(float(round(value, 2)))
    hundredths = _units(value, 100.0)
    return hundredths / 100.0 if hundredths else value * 0.0


def round_pct(value: float | None) -> float | None:
    """Round a percentage for output to one decimal, as the JSON contract shows."""
    if value is None:
        return None
    return _rounded_tenths(value)


def _rounded_tenths(value: float) -> float:
    """``round(value, 1)`` with -0.0 written 0.0; NaN and infinities refused (`finite`)."""
    if not -_DIRECT_LIMIT < value < _DIRECT_LIMIT:
        rounded = finite(float(round(value, 1)))
        return 0.0 if rounded == 0 else rounded
    tenths = _units(value, 10.0)
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
