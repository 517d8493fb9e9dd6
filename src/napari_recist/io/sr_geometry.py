"""SCOORD image coordinates <-> patient LPS millimetres, from an image's plane attributes.

PS3.3 C.18.6.1.2 (SCOORD Graphic Data): image coordinates are (column, row) with the
top-left corner of the top-left pixel at (0, 0), so the centre of the first pixel is at
(0.5, 0.5). Image Orientation (Patient) gives the direction of increasing column (first
triplet) and of increasing row (second); Pixel Spacing is (row spacing, column spacing).
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset

# A line is "on" a slice when its points are within this distance of the image plane (mm).
PLANE_TOLERANCE_MM = 1e-3


def _plane(image: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    origin = np.asarray(image.ImagePositionPatient, dtype=float)
    row_dir = np.asarray(image.ImageOrientationPatient[:3], dtype=float)
    col_dir = np.asarray(image.ImageOrientationPatient[3:], dtype=float)
    row_spacing, column_spacing = (float(v) for v in image.PixelSpacing)
    return origin, row_dir, col_dir, row_spacing, column_spacing


def has_plane(image: Dataset) -> bool:
    """True when the image header carries its position, orientation and pixel spacing."""
    return all(k in image for k in ("ImagePositionPatient", "ImageOrientationPatient",
                                    "PixelSpacing"))


def pixel_to_lps(image: Dataset, pixels: np.ndarray) -> tuple[tuple[float, float, float], ...]:
    """Convert SCOORD (column, row) points on an image to patient LPS millimetres.

    Parameters
    ----------
    image
        Header with Image Position/Orientation (Patient) and Pixel Spacing.
    pixels
        (n, 2) array of (column, row).

    Returns
    -------
    tuple
        The points in LPS.
    """
    origin, row_dir, col_dir, row_spacing, column_spacing = _plane(image)
    pixels = np.asarray(pixels, dtype=float)
    points = (origin + np.outer(pixels[:, 0] - 0.5, row_dir) * column_spacing
              + np.outer(pixels[:, 1] - 0.5, col_dir) * row_spacing)
    return tuple((float(x), float(y), float(z)) for x, y, z in points)


def lps_to_pixel(image: Dataset, points: np.ndarray) -> np.ndarray | None:
    """Return the (column, row) SCOORD coordinates of LPS points lying on an image.

    Parameters
    ----------
    image
        Header with Image Position/Orientation (Patient) and Pixel Spacing.
    points
        (n, 3) array in LPS millimetres.

    Returns
    -------
    numpy.ndarray or None
        (n, 2) pixel coordinates; None when the image has no plane attributes or a point
        is farther than `PLANE_TOLERANCE_MM` from the image plane.
    """
    if not has_plane(image):
        return None
    origin, row_dir, col_dir, row_spacing, column_spacing = _plane(image)
    offsets = np.asarray(points, dtype=float) - origin
    if np.max(np.abs(offsets @ np.cross(row_dir, col_dir))) > PLANE_TOLERANCE_MM:
        return None
    columns = offsets @ row_dir / column_spacing + 0.5
    rows = offsets @ col_dir / row_spacing + 0.5
    return np.stack([columns, rows], axis=1)
