"""The bidirectional tool's short axis: the longest chord perpendicular to a drawn long axis.

Hand-computed cases: an ellipse of semi-axes 10 and 6 mm has its longest chord perpendicular
to the major axis through the centre, 12 mm long; rotated, the same; a smooth (anti-aliased)
edge puts the 50 % crossing on the true boundary.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_recist.imaging.short_axis import keep_perpendicular, short_axis_from_long

PIXEL = 0.5  # mm


def _ellipse(angle_deg: float, a: float = 10.0, b: float = 6.0, inside: float = 60.0,
             outside: float = -100.0, size: int = 80, oversample: int = 8) -> np.ndarray:
    """An ellipse centred in the image, partial-volume averaged over sub-pixels."""
    sub = (np.arange(size * oversample) + 0.5) / oversample - 0.5
    rr, cc = np.meshgrid(sub, sub, indexing="ij")
    y, x = (rr - size / 2) * PIXEL, (cc - size / 2) * PIXEL
    t = np.radians(angle_deg)
    along, across = x * np.cos(t) + y * np.sin(t), -x * np.sin(t) + y * np.cos(t)
    mask = (along / a) ** 2 + (across / b) ** 2 <= 1
    fraction = mask.reshape(size, oversample, size, oversample).mean(axis=(1, 3))
    return outside + (inside - outside) * fraction


def _major_axis(angle_deg: float, a: float = 10.0, size: int = 80):
    t = np.radians(angle_deg)
    centre = np.array([size / 2, size / 2])
    direction = np.array([np.sin(t), np.cos(t)]) * a / PIXEL  # (row, column)
    return centre - direction, centre + direction


@pytest.mark.parametrize("angle", [0.0, 30.0, 90.0])
def test_short_axis_of_an_ellipse_is_its_minor_diameter(angle):
    image = _ellipse(angle)
    start, end = _major_axis(angle)
    found = short_axis_from_long(image, start, end, (PIXEL, PIXEL))
    assert found is not None
    assert found.length_mm == pytest.approx(12.0, abs=0.25)
    p, q = np.asarray(found.start) * PIXEL, np.asarray(found.end) * PIXEL
    long_dir = (np.asarray(end) - np.asarray(start)) * PIXEL
    assert abs(np.dot(q - p, long_dir)) < 1e-6  # perpendicular
    centre = np.array([40, 40]) * PIXEL
    assert np.linalg.norm((p + q) / 2 - centre) <= 1.0  # near the centre (ties within 0.1 mm)
    assert found.lesion_hu == pytest.approx(60.0, abs=1)
    assert found.surrounding_hu == pytest.approx(-100.0, abs=1)


def test_a_darker_lesion_works_too():
    image = _ellipse(0.0, inside=5.0, outside=60.0)  # hypodense liver lesion
    start, end = _major_axis(0.0)
    found = short_axis_from_long(image, start, end, (PIXEL, PIXEL))
    assert found is not None and found.length_mm == pytest.approx(12.0, abs=0.25)


def test_no_contrast_no_short_axis():
    image = _ellipse(0.0, inside=40.0, outside=20.0)  # 20 HU: below the 30 HU of an edge
    start, end = _major_axis(0.0)
    assert short_axis_from_long(image, start, end, (PIXEL, PIXEL)) is None
    flat = np.full((80, 80), 40.0)
    assert short_axis_from_long(flat, start, end, (PIXEL, PIXEL)) is None


def test_dragged_short_axis_end_stays_perpendicular():
    moved = keep_perpendicular((0, 0), (0, 10), fixed=(-3, 5), moved=(4, 7), spacing_mm=(1, 1))
    assert moved == pytest.approx((4.0, 5.0))
    # Anisotropic pixels: perpendicular in millimetres, not in pixels.
    moved = keep_perpendicular((0, 0), (10, 10), fixed=(5, 5), moved=(7, 3),
                               spacing_mm=(2.0, 1.0))
    direction = (np.asarray(moved) - (5, 5)) * (2.0, 1.0)
    assert np.dot(direction, np.array([10, 10]) * (2.0, 1.0)) == pytest.approx(0.0, abs=1e-9)
