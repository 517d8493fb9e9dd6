"""Small phantom patients with known lesions, the follow-ups moved by a known motion."""

from __future__ import annotations

import datetime as dt

import numpy as np

from napari_recist.io.volume import Volume
from napari_recist.model import Lesion, Role
from napari_recist.sample import (
    LesionSpec,
    PhantomGrid,
    PhantomPatient,
    TimepointSpec,
    rigid_transform,
)

# 128 x 128 x 64 voxels of 3 mm: the body (340 x 240 mm) fits, the volumes take a second.
GRID = PhantomGrid.centred(64, 128, 128, 3.0, 3.0, -250.0)

# Semi-axes (long, short, cranio-caudal) at baseline and at the follow-up.
LESIONS: tuple[LesionSpec, ...] = (
    # A sphere in the right lung: 20 mm -> 14 mm.
    LesionSpec(Lesion("L1", Role.TARGET, "lung"), (-85.0, 10.0, -100.0), 30, 0.0,
               ((10.0, 10.0, 10.0), (7.0, 7.0, 7.0))),
    # A turned ellipsoid in the liver, hypodense: 36 x 24 -> 30 x 20 mm.
    LesionSpec(Lesion("L2", Role.TARGET, "liver"), (-60.0, 10.0, -202.0), 5, 30.0,
               ((18.0, 12.0, 12.0), (15.0, 10.0, 10.0))),
    # A sphere at the liver's medial edge, bulging 2 mm into the soft tissue beside it.
    LesionSpec(Lesion("L3", Role.TARGET, "liver"), (12.0, 0.0, -175.0), 5, 0.0,
               ((12.0, 12.0, 12.0), (12.0, 12.0, 12.0))),
    # A mediastinal lymph node in fat: short axis 16 -> 12 mm.
    LesionSpec(Lesion("L4", Role.TARGET, "lymph node", nodal=True), (8.0, -24.0, -91.0), 45,
               0.0, ((11.0, 8.0, 8.0), (9.0, 6.0, 6.0))),
)

TIMEPOINTS = (
    TimepointSpec(0, dt.date(2025, 1, 6), "baseline"),
    TimepointSpec(1, dt.date(2025, 3, 3), "week08"),
)

# Follow-up motions: shifts up to 30 mm and turns up to 5 degrees.
MOTIONS = {
    "shift-and-turn": rigid_transform((3.0, -2.0, 5.0), (25.0, -15.0, 10.0)),
    "shift-30-turn-5": rigid_transform((0.0, 0.0, -5.0), (30.0, 0.0, 0.0)),
    "tilt-5": rigid_transform((5.0, 0.0, 0.0), (0.0, 10.0, -20.0)),
}


def patient(motion: np.ndarray | None, variant: str, *, supersample: int = 3,
            sr_timepoints: tuple[int, ...] | None = (0,)) -> PhantomPatient:
    return PhantomPatient(
        lesions=LESIONS, timepoints=TIMEPOINTS, grid=GRID, motions={1: motion},
        supersample=supersample,
        patient={"PatientName": "Moved^Phantom", "PatientID": f"NRS-MOVED-{variant}",
                 "PatientBirthDate": "19600101", "PatientSex": "M"},
        variant=variant, sr_timepoints=sr_timepoints,
    )


def volume_of(hu: np.ndarray, series_uid: str, grid: PhantomGrid = GRID) -> Volume:
    """An in-memory `Volume` on a phantom grid (axial, head first supine)."""
    affine = np.zeros((4, 4))
    affine[0, 2] = affine[1, 1] = grid.pixel_mm
    affine[2, 0] = grid.slice_mm
    affine[:3, 3] = grid.first_voxel_lps
    affine[3, 3] = 1.0
    direction = np.zeros((3, 3))
    direction[2, 0] = direction[1, 1] = direction[0, 2] = 1.0
    return Volume(hu, (grid.slice_mm, grid.pixel_mm, grid.pixel_mm), grid.first_voxel_lps,
                  direction, affine, "P", None, "study", series_uid, "frame", "phantom",
                  tuple(f"{series_uid}.{k}" for k in range(grid.slices)), (), None, None)
