"""How a CT volume is shown: its voxel array in patient millimetres on napari's world axes.

The viewer's world coordinates are patient coordinates in millimetres, ordered like the
array axes: ``(z, y, x) = (LPS S-I, LPS A-P, LPS R-L)``. `DisplayGeometry` maps the indices of
a displayed array to LPS and to that world; an axis that would need a negative scale is
flipped in the displayed array instead (napari misbehaves with negative scales). No napari
import: the reader, the key images of the report and the tests share it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# World axis order (z, y, x) from LPS (x, y, z): world = PERMUTE @ lps.
_PERMUTE = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], dtype=float)


@dataclass(frozen=True)
class DisplayGeometry:
    """How the displayed array of one timepoint maps to the patient.

    Parameters
    ----------
    index_to_lps
        4x4 matrix from voxel index ``(z, y, x, 1)`` of the displayed array to LPS
        ``(x, y, z, 1)`` in millimetres.
    """

    index_to_lps: np.ndarray = field(repr=False)

    @classmethod
    def from_affine(
        cls, affine: np.ndarray, shape: Sequence[int]
    ) -> tuple[DisplayGeometry, tuple[int, ...]]:
        """Build the display geometry of a volume, flipping axes that run backwards.

        napari misbehaves with negative scales (shared/notes.md), so an axis whose world
        direction is negative is flipped in the displayed array instead.

        Parameters
        ----------
        affine
            4x4 voxel ``(z, y, x)`` -> LPS matrix of the volume as loaded.
        shape
            Array shape ``(z, y, x)``.

        Returns
        -------
        geometry
            The geometry of the displayed (possibly flipped) array.
        flip_axes
            Array axes to flip before display (see `flip_for_display`).
        """
        matrix = np.asarray(affine, dtype=float).copy()
        world_linear = _PERMUTE @ matrix[:3, :3]
        flips: list[int] = []
        for axis in range(3):
            column = world_linear[:, axis]
            dominant = int(np.argmax(np.abs(column)))
            if column[dominant] < 0:
                flips.append(axis)
        for axis in flips:
            # index' = n - 1 - index: the origin moves to the far end of that axis.
            flip = np.eye(4)
            flip[axis, axis] = -1.0
            flip[axis, 3] = shape[axis] - 1
            matrix = matrix @ flip
        return cls(matrix), tuple(flips)

    @classmethod
    def patient_space(cls) -> DisplayGeometry:
        """Geometry for lesions without images: data coordinates are world millimetres."""
        matrix = np.eye(4)
        matrix[:3, :3] = _PERMUTE.T
        return cls(matrix)

    @property
    def world_matrix(self) -> np.ndarray:
        """4x4 matrix from voxel index ``(z, y, x)`` to world ``(z, y, x)`` in mm."""
        world = np.eye(4)
        world[:3, :] = _PERMUTE @ self.index_to_lps[:3, :]
        return world

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size along each array axis in millimetres."""
        norms = np.linalg.norm(self.index_to_lps[:3, :3], axis=0)
        return (float(norms[0]), float(norms[1]), float(norms[2]))

    def layer_transform(self) -> dict[str, Any]:
        """Return the napari layer keywords that place the array in the world.

        Returns
        -------
        dict
            ``scale`` and ``translate`` for an axis-aligned volume (the usual axial CT),
            otherwise ``affine`` (oblique acquisitions keep their orientation).
        """
        world = self.world_matrix
        linear = world[:3, :3]
        if np.allclose(linear, np.diag(np.diag(linear)), atol=1e-6):
            return {"scale": tuple(np.diag(linear)), "translate": tuple(world[:3, 3])}
        return {"affine": world}

    def lps_to_data(self, points: np.ndarray) -> np.ndarray:
        """Convert LPS points (N, 3) in mm to data coordinates (N, 3) ``(z, y, x)``."""
        homogeneous = np.c_[np.asarray(points, dtype=float), np.ones(len(points))]
        return (np.linalg.inv(self.index_to_lps) @ homogeneous.T).T[:, :3]

    def data_to_lps(self, points: np.ndarray) -> np.ndarray:
        """Convert data coordinates (N, 3) ``(z, y, x)`` to LPS points (N, 3) in mm."""
        homogeneous = np.c_[np.asarray(points, dtype=float), np.ones(len(points))]
        return (self.index_to_lps @ homogeneous.T).T[:, :3]


def flip_for_display(array: Any, flip_axes: Sequence[int]) -> Any:
    """Reverse the given axes of a numpy or dask array (a view; no copy, stays lazy).

    Parameters
    ----------
    array
        ``(z, y, x)`` array.
    flip_axes
        Axes to reverse, from `DisplayGeometry.from_affine`.

    Returns
    -------
    array
        The same type of array with those axes reversed.
    """
    index = [slice(None)] * 3
    for axis in flip_axes:
        index[axis] = slice(None, None, -1)
    return array[tuple(index)]
