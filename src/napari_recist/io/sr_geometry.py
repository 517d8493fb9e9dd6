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
    """The image plane; ValueError when its attributes are not a valid plane.

    PS3.3 C.7.6.2: Image Position (3 finite numbers), Image Orientation (two unit direction
    cosines, perpendicular) and Pixel Spacing (two positive numbers) in mm.
    """
    origin = np.asarray(image.ImagePositionPatient, dtype=float)
    orientation = np.asarray(image.ImageOrientationPatient, dtype=float)
    spacing = np.asarray(image.PixelSpacing, dtype=float)
    if origin.shape != (3,) or orientation.shape != (6,) or spacing.shape != (2,):
        raise ValueError("Image Position/Orientation (Patient) or Pixel Spacing has the wrong "
                         "number of values")
    if not (np.all(np.isfinite(origin)) and np.all(np.isfinite(orientation))
            and np.all(np.isfinite(spacing)) and np.all(spacing > 0)):
        raise ValueError(f"Pixel Spacing {spacing.tolist()} or the position/orientation is "
                         "not finite and positive")
    row_dir, col_dir = orientation[:3], orientation[3:]
    if (abs(np.linalg.norm(row_dir) - 1) > 1e-3 or abs(np.linalg.norm(col_dir) - 1) > 1e-3
            or abs(float(row_dir @ col_dir)) > 1e-3):
        raise ValueError("Image Orientation (Patient) is not two perpendicular unit vectors")
    return origin, row_dir, col_dir, float(spacing[0]), float(spacing[1])


def has_plane(image: Dataset) -> bool:
    """True when the image header carries its position, orientation and pixel spacing."""
    return all(k in image for k in ("ImagePositionPatient", "ImageOrientationPatient",
                                    "PixelSpacing"))


Plane = tuple[np.ndarray, np.ndarray, np.ndarray, float, float]


def image_plane(image: Dataset) -> Plane:
    """Image Position, the row and column directions and the spacings of an image header.

    Raises
    ------
    ValueError
        When the image's plane attributes are not a valid plane (see `_plane`).
    """
    return _plane(image)


def plane_to_lps(plane: Plane, pixels: np.ndarray) -> tuple[tuple[float, float, float], ...]:
    """`pixel_to_lps` on a plane already read (`image_plane`)."""
    origin, row_dir, col_dir, row_spacing, column_spacing = plane
    pixels = np.asarray(pixels, dtype=float)
    points = (origin + np.outer(pixels[:, 0] - 0.5, row_dir) * column_spacing
              + np.outer(pixels[:, 1] - 0.5, col_dir) * row_spacing)
    return tuple((float(x), float(y), float(z)) for x, y, z in points)


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

    Raises
    ------
    ValueError
        When the image's plane attributes are not a valid plane (see `_plane`).
    """
    return plane_to_lps(_plane(image), pixels)


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
    try:
        origin, row_dir, col_dir, row_spacing, column_spacing = _plane(image)
    except (ValueError, TypeError):
        return None
    offsets = np.asarray(points, dtype=float) - origin
    if np.max(np.abs(offsets @ np.cross(row_dir, col_dir))) > PLANE_TOLERANCE_MM:
        return None
    columns = offsets @ row_dir / column_spacing + 0.5
    rows = offsets @ col_dir / row_spacing + 0.5
    return np.stack([columns, rows], axis=1)
