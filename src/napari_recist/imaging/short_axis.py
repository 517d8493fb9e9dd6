"""The short axis of a lesion from a drawn long axis and the image (the bidirectional tool).

RECIST 1.1 (section 3.2 and appendix I; lesion-table.md ``short_axis_mm``): the short axis
is the longest diameter perpendicular to the long axis, in the same axial plane. Given the
reader's long axis on a slice, `short_axis_from_long` finds it on the image:

1. the lesion's HU is the median along the middle half of the long axis; the surroundings'
   HU the median just beyond both ends (from 5 % to 25 % of its length past each end);
2. the edge is where the HU crosses half way between the two (the 50 % edge of a
   partial-volume boundary, as in `measure.py`); a contrast under `MIN_CONTRAST_HU` is no
   edge and nothing is proposed;
3. perpendicular chords through the long axis, every `STEP_MM`, each from the long axis out
   to the edge on both sides (bilinear samples every `STEP_MM / 2`, the crossing
   interpolated); the longest chord is the short axis. It is never longer than the long axis.

Everything is in-plane numpy: ``(row, column)`` pixel positions with the slice's pixel size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_CONTRAST_HU = 30.0  # as measure.MeasureSettings.min_contrast_hu
STEP_MM = 0.5


@dataclass(frozen=True)
class ShortAxis:
    """A short axis found on the image.

    Attributes
    ----------
    start, end
        End points ``(row, column)`` in pixels.
    length_mm
        Its length.
    lesion_hu, surrounding_hu
        The HU either side of the edge.
    """

    start: tuple[float, float]
    end: tuple[float, float]
    length_mm: float
    lesion_hu: float
    surrounding_hu: float


def bilinear(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Values of a 2D image at ``(row, column)`` points (nan outside the image)."""
    rows, columns = points[:, 0], points[:, 1]
    inside = (rows >= 0) & (columns >= 0) & (rows <= image.shape[0] - 1) & (
        columns <= image.shape[1] - 1)
    r = np.clip(rows, 0, image.shape[0] - 1)
    c = np.clip(columns, 0, image.shape[1] - 1)
    r0 = np.minimum(np.floor(r).astype(int), image.shape[0] - 2) if image.shape[0] > 1 else \
        np.zeros(len(r), int)
    c0 = np.minimum(np.floor(c).astype(int), image.shape[1] - 2) if image.shape[1] > 1 else \
        np.zeros(len(c), int)
    fr, fc = r - r0, c - c0
    r1 = np.minimum(r0 + 1, image.shape[0] - 1)
    c1 = np.minimum(c0 + 1, image.shape[1] - 1)
    value = (image[r0, c0] * (1 - fr) * (1 - fc) + image[r1, c0] * fr * (1 - fc)
             + image[r0, c1] * (1 - fr) * fc + image[r1, c1] * fr * fc)
    return np.where(inside, value, np.nan)


def _reach(image: np.ndarray, origin_mm: np.ndarray, direction: np.ndarray,
           spacing: np.ndarray, limit_mm: float, threshold: float, sign: float) -> float | None:
    """Distance (mm) from a point inside the lesion to its edge along a direction."""
    steps = np.arange(0.0, limit_mm + STEP_MM / 2, STEP_MM / 2)
    points_mm = origin_mm[None, :] + steps[:, None] * direction[None, :]
    inside = sign * (bilinear(image, points_mm / spacing[None, :]) - threshold)
    if not inside[0] > 0:
        return None
    out = np.flatnonzero(~(inside > 0))
    if out.size == 0:
        return None  # no edge within the limit (or the image ends first)
    j = int(out[0])
    if np.isnan(inside[j]):
        return None
    a, b = inside[j - 1], inside[j]
    return float(steps[j - 1] + (steps[j] - steps[j - 1]) * a / (a - b))


def short_axis_from_long(image: np.ndarray, start: Sequence[float], end: Sequence[float],
                         spacing_mm: Sequence[float]) -> ShortAxis | None:
    """The longest perpendicular chord of the lesion across a drawn long axis, or None.

    Parameters
    ----------
    image
        The axial slice in HU, ``(rows, columns)``.
    start, end
        The long axis end points ``(row, column)`` in pixels.
    spacing_mm
        Pixel size ``(row, column)`` in mm.

    Returns
    -------
    ShortAxis or None
        None when the lesion has no edge the image shows (too little contrast, or no edge
        on both sides of any chord within the long axis's length).
    """
    spacing = np.asarray(spacing_mm, dtype=float)
    a = np.asarray(start, dtype=float) * spacing
    b = np.asarray(end, dtype=float) * spacing
    length = float(np.linalg.norm(b - a))
    if length < 2 * STEP_MM:
        return None
    image = np.asarray(image, dtype=float)
    u = (b - a) / length
    v = np.array([-u[1], u[0]])
    along = np.linspace(0.25, 0.75, 21)[:, None] * length
    lesion = float(np.nanmedian(bilinear(image, (a + along * u) / spacing)))
    beyond = np.linspace(0.05, 0.25, 9)[:, None] * length
    outside = np.concatenate([(a - beyond * u) / spacing, (b + beyond * u) / spacing])
    values = bilinear(image, outside)
    if np.all(np.isnan(values)):
        return None
    surrounding = float(np.nanmedian(values))
    if abs(lesion - surrounding) < MIN_CONTRAST_HU:
        return None
    threshold = (lesion + surrounding) / 2.0
    sign = 1.0 if lesion > surrounding else -1.0
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for t in np.arange(0.1 * length, 0.9 * length + 1e-9, STEP_MM):
        origin = a + t * u
        left = _reach(image, origin, v, spacing, length, threshold, sign)
        right = _reach(image, origin, -v, spacing, length, threshold, sign)
        if left is None or right is None:
            continue
        chord = left + right
        if chord <= length and (best is None or chord > best[0] + 1e-9):
            best = (chord, origin + left * v, origin - right * v)
    if best is None:
        return None
    chord, p, q = best
    return ShortAxis(tuple(float(x) for x in p / spacing), tuple(float(x) for x in q / spacing),
                     float(chord), lesion, surrounding)


def keep_perpendicular(long_start: Sequence[float], long_end: Sequence[float],
                       fixed: Sequence[float], moved: Sequence[float],
                       spacing_mm: Sequence[float]) -> tuple[float, float]:
    """Where a dragged short-axis end goes: on the perpendicular through its other end.

    The short axis stays perpendicular to the long axis (RECIST 1.1 appendix I) while the
    reader drags one of its ends: the dragged point is projected onto the line through the
    fixed end perpendicular to the long axis. Points are ``(row, column)`` pixels.
    """
    spacing = np.asarray(spacing_mm, dtype=float)
    a = np.asarray(long_start, dtype=float) * spacing
    b = np.asarray(long_end, dtype=float) * spacing
    u = (b - a) / max(float(np.linalg.norm(b - a)), 1e-9)
    v = np.array([-u[1], u[0]])
    f = np.asarray(fixed, dtype=float) * spacing
    m = np.asarray(moved, dtype=float) * spacing
    point = f + float(np.dot(m - f, v)) * v
    return tuple(float(x) for x in point / spacing)  # type: ignore[return-value]
