"""SimpleITK, imported on first use, and the one conversion of a `Volume` to a SimpleITK image."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from napari_recist.errors import InputError, Problem
from napari_recist.io.volume import Volume

INSTALL_HINT = "install napari-recist[imaging] (it brings SimpleITK)"


def require_sitk() -> ModuleType:
    """Return the SimpleITK module.

    Raises
    ------
    InputError
        SimpleITK is not installed; the message says how to install it.
    """
    try:
        import SimpleITK as sitk  # noqa: N813 (SimpleITK's own spelling)
    except ImportError as error:
        raise InputError([Problem("SimpleITK", f"lesion propagation and semi-automatic "
                                  f"measurement need SimpleITK: {INSTALL_HINT}")]) from error
    return sitk


def volume_image(volume: Volume, array: np.ndarray | None = None,
                 box: tuple[tuple[int, int], ...] | None = None,
                 dtype: type = np.float32) -> Any:
    """Return a volume (or a z range of it) as a float32 SimpleITK image in patient LPS.

    Parameters
    ----------
    volume
        The CT; its geometry gives origin, spacing and direction. A gantry tilt (a shear in
        the affine) is not represented: SimpleITK images have orthogonal axes.
    array
        Voxels to use instead of ``volume.array`` (same shape), e.g. already in memory.
    box
        ``((z0, z1), (y0, y1), (x0, x1))`` index ranges (stop excluded) to convert; default
        the whole volume. Ranges are clipped to the volume.
    dtype
        Voxel type of the image (float32 for processing; int16 keeps a big volume small).

    Returns
    -------
    SimpleITK.Image
        Index ``(x, y, z)`` = array ``[z, y, x]``, physical points in LPS mm.
    """
    sitk = require_sitk()
    voxels = np.asarray(volume.array if array is None else array)
    start = (0, 0, 0)
    if box is not None:
        clipped = clip_box(box, voxels.shape)
        start = tuple(low for low, _ in clipped)
        voxels = voxels[tuple(slice(low, high) for low, high in clipped)]
    image = sitk.GetImageFromArray(np.ascontiguousarray(voxels, dtype=dtype))
    spacing_z, spacing_y, spacing_x = volume.spacing
    image.SetSpacing((float(spacing_x), float(spacing_y), float(spacing_z)))
    image.SetOrigin(tuple(float(v) for v in volume.index_to_lps(start)))
    # Volume.direction's columns are the z, y, x index axes; SimpleITK wants x, y, z.
    direction = np.asarray(volume.direction, dtype=float)[:, [2, 1, 0]]
    image.SetDirection(tuple(float(v) for v in direction.ravel()))
    return image


def clip_box(box: tuple[tuple[int, int], ...],
             shape: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """Clip ``((low, stop), ...)`` index ranges to an array shape (each keeps >= 1 index)."""
    clipped = []
    for (low, high), size in zip(box, shape, strict=True):
        low = int(min(max(low, 0), size - 1))
        clipped.append((low, int(min(max(high, low + 1), size))))
    return tuple(clipped)


def image_array(image: Any) -> np.ndarray:
    """The voxels of a SimpleITK image as a numpy array ``[z, y, x]`` (a copy)."""
    return require_sitk().GetArrayFromImage(image)
