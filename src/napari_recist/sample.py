"""A synthetic patient: a chest-abdomen CT phantom at three time points with known lesions.

`napari-recist sample DIR` writes real DICOM CT Image Storage files (one study per time
point), a TID 1500 SR per time point with the true lesion measurements, and the same
measurements as a lesion table (``lesions.csv``). The lesions follow a dissociated response:
the lung lesion and the lymph node shrink by more than 30 %, the liver lesion grows by more
than 20 % and 5 mm, and a new liver lesion appears at the last time point; a lytic bone
lesion is followed as a non-target lesion.

Everything is deterministic: the phantom is drawn analytically (no random noise) and every
UID is derived from `UID_SEED`, so regenerating gives byte-identical CT files and table.
`write_ct_series` is the piece that writes any HU volume as a CT series (the benchmark
uses it for its 300-slice series).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)

from napari_recist import __version__
from napari_recist.errors import InputError, Problem
from napari_recist.io.atomic import atomic_open
from napari_recist.model import (
    Assessment,
    AxisGeometry,
    Lesion,
    LesionState,
    Measurement,
    PatientRecord,
    Role,
    build_record,
)

UID_SEED = "napari-recist synthetic sample patient v1"

# Grid: 60 axial slices of 256 x 256 pixels, 1.5 mm pixels, 5 mm slices (chest + upper
# abdomen, 384 mm field of view, 300 mm along the table).
SLICES, ROWS, COLUMNS = 60, 256, 256
PIXEL_MM = 1.5
SLICE_MM = 5.0
# LPS position of the centre of the first pixel of the most inferior slice.
FIRST_VOXEL_LPS = (-(COLUMNS - 1) * PIXEL_MM / 2, -(ROWS - 1) * PIXEL_MM / 2, -295.0)

# Hounsfield units of the tissues (typical unenhanced/portal-venous values).
AIR_HU, LUNG_HU, FAT_HU, SOFT_TISSUE_HU, LIVER_HU = -1000, -850, -100, 40, 60
CANCELLOUS_BONE_HU, CORTICAL_BONE_HU, CSF_HU = 250, 700, 10


@dataclass(frozen=True)
class TimepointSpec:
    """One study of the sample patient."""

    timepoint: int
    date: dt.date
    label: str


TIMEPOINTS: tuple[TimepointSpec, ...] = (
    TimepointSpec(0, dt.date(2024, 1, 15), "baseline"),
    TimepointSpec(1, dt.date(2024, 3, 11), "week08"),
    TimepointSpec(2, dt.date(2024, 5, 6), "week16"),
)


@dataclass(frozen=True)
class LesionSpec:
    """A lesion drawn as an ellipsoid: its place, contrast and size at each time point.

    ``semi_axes_mm`` holds, per time point, the semi-axes (long, short, cranio-caudal) in
    mm or None when the lesion is not there. The long axis is rotated in the axial plane
    by ``angle_deg`` from the patient's left (+x) towards posterior (+y). The centre lies
    exactly on a slice centre so that slice holds the largest cross-section.
    """

    lesion: Lesion
    centre_lps: tuple[float, float, float]
    hu: int
    angle_deg: float
    semi_axes_mm: tuple[tuple[float, float, float] | None, ...]


LESIONS: tuple[LesionSpec, ...] = (
    # Right lung nodule (patient right = -x): 32 -> 20 -> 14 mm, a response (> 30 %).
    LesionSpec(Lesion("L1", Role.TARGET, "lung"), (-85.0, 0.0, -60.0), 30, 30.0,
               ((16.0, 12.0, 12.0), (10.0, 7.5, 8.0), (7.0, 5.0, 6.0))),
    # Liver metastasis, hypodense: 40 -> 44 -> 56 mm, grows > 20 % and > 5 mm.
    LesionSpec(Lesion("L2", Role.TARGET, "liver"), (-60.0, 10.0, -215.0), 5, -20.0,
               ((20.0, 15.0, 15.0), (22.0, 17.0, 16.0), (28.0, 21.0, 20.0))),
    # Mediastinal lymph node in fat, short axis 20 -> 12 -> 8 mm (normal below 10 mm).
    LesionSpec(Lesion("L3", Role.TARGET, "lymph node", nodal=True), (10.0, -25.0, -75.0),
               45, 0.0, ((14.0, 10.0, 10.0), (9.0, 6.0, 7.0), (6.0, 4.0, 5.0))),
    # Lytic lesion in a vertebral body, followed as non-target, unchanged.
    LesionSpec(Lesion("L4", Role.NON_TARGET, "bone"), (0.0, 70.0, -180.0), 20, 0.0,
               ((8.0, 6.0, 7.0), (8.0, 6.0, 7.0), (8.0, 6.0, 7.0))),
    # New liver lesion at the last time point, a sphere of 14 mm.
    LesionSpec(Lesion("N1", Role.NEW, "liver"), (-100.0, -25.0, -240.0), 5, 0.0,
               (None, None, (7.0, 7.0, 7.0))),
)

PATIENT = {
    "PatientName": "Sample^Dissociated",
    "PatientID": "NRS-SAMPLE-001",
    "PatientBirthDate": "19600101",
    "PatientSex": "F",
}


def sample_uid(*parts: object) -> str:
    """Return a UID derived from `UID_SEED` and `parts` (the same every run).

    A name-based (version 5) UUID as a ``2.25.`` UID (DICOM PS3.5 B.2).
    """
    name = "|".join([UID_SEED, *map(str, parts)])
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, name).int}"


# ----------------------------------------------------------------------------- phantom


def _axes_grid(grid: PhantomGrid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LPS x, y of each pixel centre (rows, columns) and z of each slice, in mm."""
    x0, y0, z0 = grid.first_voxel_lps
    x = x0 + grid.pixel_mm * np.arange(grid.columns)
    y = y0 + grid.pixel_mm * np.arange(grid.rows)
    z = z0 + grid.slice_mm * np.arange(grid.slices)
    yy, xx = np.meshgrid(y, x, indexing="ij")
    return xx, yy, z


def _ellipse(xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, ax: float, ay: float,
             scale: float = 1.0) -> np.ndarray:
    """Pixels inside an axis-aligned ellipse whose semi-axes are multiplied by `scale`."""
    if scale <= 0:
        return np.zeros(xx.shape, dtype=bool)
    return ((xx - cx) / (ax * scale)) ** 2 + ((yy - cy) / (ay * scale)) ** 2 <= 1.0


def _ellipsoid_scale(z: float, cz: float, az: float) -> float:
    """In-plane scale of an ellipsoid's cross-section at height `z` (0 outside it)."""
    t = 1.0 - ((z - cz) / az) ** 2
    return float(np.sqrt(t)) if t > 0 else 0.0


def _lesion_mask(xx: np.ndarray, yy: np.ndarray, z: float, spec: LesionSpec,
                 axes: tuple[float, float, float]) -> np.ndarray:
    long_mm, short_mm, cranio_caudal_mm = axes
    cx, cy, cz = spec.centre_lps
    scale = _ellipsoid_scale(z, cz, cranio_caudal_mm)
    if scale == 0:
        return np.zeros(xx.shape, dtype=bool)
    angle = np.radians(spec.angle_deg)
    dx, dy = xx - cx, yy - cy
    along = dx * np.cos(angle) + dy * np.sin(angle)
    across = -dx * np.sin(angle) + dy * np.cos(angle)
    return (along / (long_mm * scale)) ** 2 + (across / (short_mm * scale)) ** 2 <= 1.0


@dataclass(frozen=True)
class PhantomGrid:
    """Where a CT scanner samples the phantom: an axial grid in scanner LPS millimetres.

    Parameters
    ----------
    slices, rows, columns
        Array shape ``(z, y, x)``.
    pixel_mm, slice_mm
        In-plane pixel size and slice spacing.
    first_voxel_lps
        LPS position of the centre of voxel ``(0, 0, 0)`` (most inferior slice).
    """

    slices: int
    rows: int
    columns: int
    pixel_mm: float
    slice_mm: float
    first_voxel_lps: tuple[float, float, float]

    @classmethod
    def centred(cls, slices: int, rows: int, columns: int, pixel_mm: float, slice_mm: float,
                first_z_mm: float) -> PhantomGrid:
        """A grid centred on the patient's axis (x = y = 0), starting at height `first_z_mm`."""
        return cls(slices, rows, columns, pixel_mm, slice_mm,
                   (-(columns - 1) * pixel_mm / 2, -(rows - 1) * pixel_mm / 2, first_z_mm))

    def z_of(self, k: int) -> float:
        """LPS z of the centre of slice `k`."""
        return self.first_voxel_lps[2] + k * self.slice_mm


SAMPLE_GRID = PhantomGrid(SLICES, ROWS, COLUMNS, PIXEL_MM, SLICE_MM, FIRST_VOXEL_LPS)

# The organs, painted in this order: (what, centre x, y, semi-axes x, y, (centre z, semi-axis
# z) or None for a cylinder along the table, HU).
ANATOMY: tuple[tuple[str, float, float, float, float, tuple[float, float] | None, int], ...] = (
    ("body outline, subcutaneous fat", 0, 0, 170, 120, None, FAT_HU),
    ("muscle and organs", 0, 0, 158, 108, None, SOFT_TISSUE_HU),
    # Liver: right upper abdomen, its dome under the right lung.
    ("liver", -65, 0, 85, 90, (-205, 75), LIVER_HU),
    # Lungs: two half-ellipsoids above the diaphragm, the mediastinum between them.
    ("right lung", -85, 5, 58, 88, (-40, 115), LUNG_HU),
    ("left lung", 85, 5, 58, 88, (-40, 115), LUNG_HU),
    # Mediastinal fat pad where the lymph node sits.
    ("mediastinal fat", 8, -24, 26, 22, (-75, 40), FAT_HU),
    # Spine: vertebral body (cortex and cancellous bone) and the spinal canal.
    ("vertebral cortex", 0, 72, 20, 17, None, CORTICAL_BONE_HU),
    ("cancellous bone", 0, 72, 17, 14, None, CANCELLOUS_BONE_HU),
    ("spinal canal", 0, 98, 8, 7, None, CSF_HU),
)


def rigid_transform(rotation_deg: Sequence[float] = (0.0, 0.0, 0.0),
                    translation_mm: Sequence[float] = (0.0, 0.0, 0.0),
                    centre_lps: Sequence[float] = (0.0, 0.0, -150.0)) -> np.ndarray:
    """Return a 4x4 rigid motion of the patient in the scanner (LPS mm).

    Parameters
    ----------
    rotation_deg
        Rotations about the x, y and z axes (applied in that order) in degrees.
    translation_mm
        Shift applied after the rotation.
    centre_lps
        The point the patient rotates about.

    Returns
    -------
    numpy.ndarray
        ``M`` with ``scanner = M @ (patient, 1)``.
    """
    ax, ay, az = np.radians(np.asarray(rotation_deg, dtype=float))
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    rotation = rz @ ry @ rx
    centre = np.asarray(centre_lps, dtype=float)
    matrix = np.eye(4)
    matrix[:3, :3] = rotation
    matrix[:3, 3] = centre - rotation @ centre + np.asarray(translation_mm, dtype=float)
    return matrix


def phantom_hu(
    timepoint: int,
    *,
    lesions: Sequence[LesionSpec] = LESIONS,
    grid: PhantomGrid = SAMPLE_GRID,
    patient_to_scanner: np.ndarray | None = None,
    supersample: int = 1,
) -> np.ndarray:
    """Draw the phantom at one time point.

    Parameters
    ----------
    timepoint
        Index into each lesion's ``semi_axes_mm`` (0, 1 or 2 for `TIMEPOINTS`).
    lesions
        The lesions to draw (default: the sample patient's).
    grid
        The scanner's sampling grid (default: the sample patient's 60 x 256 x 256).
    patient_to_scanner
        4x4 rigid motion of the patient in the scanner at this scan (`rigid_transform`), or
        None for the patient lying exactly as in the phantom's own coordinates.
    supersample
        Sub-samples per pixel along x and y whose mean gives the pixel value (partial volume
        at edges, as a real CT has); 1 paints each pixel by its centre.

    Returns
    -------
    numpy.ndarray
        int16 HU, shape ``(slices, rows, columns)``, slice 0 the most inferior.
    """
    if patient_to_scanner is not None or supersample > 1:
        return _phantom_sampled(timepoint, lesions, grid, patient_to_scanner, supersample)
    xx, yy, z_positions = _axes_grid(grid)
    volume = np.full((grid.slices, grid.rows, grid.columns), AIR_HU, dtype=np.int16)
    for k, z in enumerate(z_positions):
        plane = volume[k]
        for _what, cx, cy, ax, ay, extent, hu in ANATOMY:
            scale = 1.0 if extent is None else _ellipsoid_scale(z, extent[0], extent[1])
            plane[_ellipse(xx, yy, cx, cy, ax, ay, scale)] = hu
        for spec in lesions:
            axes = spec.semi_axes_mm[timepoint]
            if axes is not None:
                plane[_lesion_mask(xx, yy, float(z), spec, axes)] = spec.hu
    return volume


def _phantom_sampled(timepoint: int, lesions: Sequence[LesionSpec], grid: PhantomGrid,
                     patient_to_scanner: np.ndarray | None, supersample: int) -> np.ndarray:
    """Draw the phantom at sub-pixel samples of a moved patient and average them per pixel."""
    s = max(1, int(supersample))
    to_patient = np.linalg.inv(patient_to_scanner if patient_to_scanner is not None
                               else np.eye(4))
    x0, y0, _ = grid.first_voxel_lps
    offsets = (np.arange(s) + 0.5) / s - 0.5
    x = x0 + grid.pixel_mm * (np.arange(grid.columns)[:, None] + offsets[None, :]).ravel()
    y = y0 + grid.pixel_mm * (np.arange(grid.rows)[:, None] + offsets[None, :]).ravel()
    yy, xx = np.meshgrid(y, x, indexing="ij")
    volume = np.empty((grid.slices, grid.rows, grid.columns), dtype=np.int16)
    for k in range(grid.slices):
        z = grid.z_of(k)
        qx, qy, qz = (
            (to_patient[i, 0] * xx + to_patient[i, 1] * yy + (to_patient[i, 2] * z
                                                              + to_patient[i, 3]))
            .astype(np.float32)
            for i in range(3)
        )
        z_low, z_high = float(qz.min()), float(qz.max())
        plane = np.full(xx.shape, float(AIR_HU), dtype=np.float32)
        for _what, cx, cy, ax, ay, extent, hu in ANATOMY:
            if extent is not None and (z_high < extent[0] - extent[1]
                                       or z_low > extent[0] + extent[1]):
                continue  # the slice misses this organ
            limit = 1.0 if extent is None else 1.0 - ((qz - extent[0]) / extent[1]) ** 2
            plane[((qx - cx) / ax) ** 2 + ((qy - cy) / ay) ** 2 <= limit] = hu
        for spec in lesions:
            axes = spec.semi_axes_mm[timepoint]
            if axes is None:
                continue
            long_mm, short_mm, cranio_caudal_mm = axes
            cx, cy, cz = spec.centre_lps
            if z_high < cz - cranio_caudal_mm or z_low > cz + cranio_caudal_mm:
                continue
            angle = np.radians(spec.angle_deg)
            along = (qx - cx) * np.cos(angle) + (qy - cy) * np.sin(angle)
            across = -(qx - cx) * np.sin(angle) + (qy - cy) * np.cos(angle)
            inside = ((along / long_mm) ** 2 + (across / short_mm) ** 2
                      + ((qz - cz) / cranio_caudal_mm) ** 2) <= 1.0
            plane[inside] = spec.hu
        pixels = plane.reshape(grid.rows, s, grid.columns, s).mean(axis=(1, 3))
        volume[k] = np.rint(pixels).astype(np.int16)
    return volume


def slice_index_of_z(z_mm: float, grid: PhantomGrid = SAMPLE_GRID) -> int:
    """Return the index of the slice centred at height `z_mm` (LPS z)."""
    index = (z_mm - grid.first_voxel_lps[2]) / grid.slice_mm
    if not float(index).is_integer() or not 0 <= index < grid.slices:
        raise ValueError(f"z = {z_mm} mm is not a slice centre of the sample grid")
    return int(index)


# ----------------------------------------------------------------------------- DICOM


@dataclass(frozen=True)
class CTSeriesIdentity:
    """Who and what a CT series belongs to (the patient, study and series modules)."""

    patient: dict[str, str]
    study_uid: str
    study_date: dt.date
    study_id: str
    accession_number: str
    study_description: str
    series_uid: str
    series_number: int
    series_description: str
    frame_of_reference_uid: str


def _slice_dataset(
    identity: CTSeriesIdentity, sop_uid: str, instance_number: int,
    position: Sequence[float], pixel_mm: float, slice_mm: float,
) -> Dataset:
    """CT Image Storage header of one slice (PS3.3 A.3 modules), without pixel data."""
    ds = Dataset()
    date = identity.study_date.strftime("%Y%m%d")
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = ds.AcquisitionTime = "093000"
    ds.AccessionNumber = identity.accession_number
    ds.Modality = "CT"
    ds.Manufacturer = "napari-recist"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = identity.study_description
    ds.SeriesDescription = identity.series_description
    ds.ManufacturerModelName = "synthetic phantom"
    for keyword, value in identity.patient.items():
        setattr(ds, keyword, value)
    ds.BodyPartExamined = "CHEST"
    ds.SliceThickness = f"{slice_mm:g}"
    ds.KVP = "120"
    ds.SoftwareVersions = __version__
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = identity.study_uid
    ds.SeriesInstanceUID = identity.series_uid
    ds.StudyID = identity.study_id
    ds.SeriesNumber = identity.series_number
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = instance_number
    ds.ImagePositionPatient = [f"{v:g}" for v in position]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.FrameOfReferenceUID = identity.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = f"{position[2]:g}"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelSpacing = [f"{pixel_mm:g}", f"{pixel_mm:g}"]
    # 12-bit unsigned stored values with intercept -1024: HU -1024..3071 (PS3.3 C.8.2.1).
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    return ds


def write_ct_series(
    hu: np.ndarray,
    folder: str | os.PathLike[str],
    identity: CTSeriesIdentity,
    *,
    first_voxel_lps: Sequence[float],
    pixel_mm: float,
    slice_mm: float,
    compress: bool = True,
    sop_uid: Callable[[int], str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Path]:
    """Write an HU volume as a CT Image Storage series, one file per axial slice.

    Parameters
    ----------
    hu
        ``(z, y, x)`` Hounsfield units within -1024..3071, slice 0 the most inferior, rows
        towards posterior, columns towards the patient's left (axial, head first supine).
    folder
        Created if needed; files are named ``CT0001.dcm``... by Instance Number, which
        counts from the most superior slice (as scanners usually do), so file order is
        the reverse of position order.
    identity
        Patient, study and series attributes.
    first_voxel_lps
        LPS position (mm) of the centre of voxel ``(0, 0, 0)``.
    pixel_mm, slice_mm
        In-plane pixel size and slice spacing (= thickness) in mm.
    compress
        RLE Lossless (small, lossless) when True, else Explicit VR Little Endian.
    sop_uid
        SOP Instance UID of slice index ``k``; default derived from the series UID.
    progress
        Called with 1 after each file.

    Returns
    -------
    list of Path
        The files, in slice (z) order.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    stored = np.asarray(hu, dtype=np.int32) + 1024
    if stored.min() < 0 or stored.max() > 4095:
        raise ValueError("HU values must lie within -1024..3071 (12-bit stored values)")
    stored = stored.astype(np.uint16)
    depth = stored.shape[0]
    uid_of = sop_uid or (lambda k: str(generate_uid(entropy_srcs=[f"{identity.series_uid}/{k}"])))
    paths: list[Path] = []
    for k in range(depth):
        instance = depth - k
        position = (first_voxel_lps[0], first_voxel_lps[1], first_voxel_lps[2] + k * slice_mm)
        ds = _slice_dataset(identity, uid_of(k), instance, position, pixel_mm, slice_mm)
        ds.Rows, ds.Columns = stored.shape[1:]
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.ImplementationClassUID = sample_uid("implementation")
        meta.ImplementationVersionName = f"NAPARI_RECIST_{__version__}"[:16]
        ds.file_meta = meta
        if compress:
            ds.compress(
                RLELossless, stored[k], encoding_plugin="pydicom", generate_instance_uid=False
            )
        else:
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.PixelData = stored[k].tobytes()
        path = out / f"CT{instance:04d}.dcm"
        with atomic_open(path, "wb") as handle:
            ds.save_as(handle, enforce_file_format=True)
        paths.append(path)
        if progress is not None:
            progress(1)
    return paths


# ----------------------------------------------------------------------------- record


def _axis(centre: np.ndarray, direction: np.ndarray, half_mm: float, sop_uid: str,
          frame_uid: str) -> AxisGeometry:
    ends = (centre - half_mm * direction, centre + half_mm * direction)
    return AxisGeometry(
        points=tuple((float(p[0]), float(p[1]), float(p[2])) for p in ends),
        referenced_sop_uid=sop_uid,
        frame_of_reference_uid=frame_uid,
    )


def true_centre_lps(spec: LesionSpec, patient_to_scanner: np.ndarray | None = None) -> np.ndarray:
    """Return where a lesion's centre lies in the scanner (LPS mm) when the patient is moved."""
    centre = np.array(spec.centre_lps, dtype=float)
    if patient_to_scanner is None:
        return centre
    return patient_to_scanner[:3, :3] @ centre + patient_to_scanner[:3, 3]


def _measurement(spec: LesionSpec, timepoint: int, slice_uids: Sequence[str],
                 frame_uid: str, grid: PhantomGrid = SAMPLE_GRID,
                 patient_to_scanner: np.ndarray | None = None) -> Measurement | None:
    axes = spec.semi_axes_mm[timepoint]
    if axes is None:
        return None
    if spec.lesion.role is Role.NON_TARGET:
        # Non-target lesions are followed qualitatively (RECIST 1.1 section 4.3.2).
        return Measurement(spec.lesion.lesion_id, LesionState.PRESENT)
    centre = np.array(spec.centre_lps, dtype=float)
    angle = np.radians(spec.angle_deg)
    long_direction = np.array([np.cos(angle), np.sin(angle), 0.0])
    short_direction = np.array([-np.sin(angle), np.cos(angle), 0.0])
    if patient_to_scanner is None:
        sop_uid = slice_uids[slice_index_of_z(spec.centre_lps[2], grid)]
    else:
        # The lines a reader draws on the axial slice nearest the moved centre: the true
        # directions turned with the patient and laid into that slice.
        centre = true_centre_lps(spec, patient_to_scanner)
        k = int(np.clip(round((centre[2] - grid.first_voxel_lps[2]) / grid.slice_mm), 0,
                        grid.slices - 1))
        centre[2] = grid.z_of(k)
        sop_uid = slice_uids[k]
        turned = [patient_to_scanner[:3, :3] @ d for d in (long_direction, short_direction)]
        long_direction, short_direction = (
            np.array([d[0], d[1], 0.0]) / np.hypot(d[0], d[1]) for d in turned)
    return Measurement(
        spec.lesion.lesion_id,
        LesionState.MEASURED,
        long_axis_mm=round(2 * axes[0], 1),
        short_axis_mm=round(2 * axes[1], 1),
        long_axis=_axis(centre, long_direction, axes[0], sop_uid, frame_uid),
        short_axis=_axis(centre, short_direction, axes[1], sop_uid, frame_uid),
    )


@dataclass(frozen=True)
class PhantomPatient:
    """Everything that makes one synthetic patient: lesions, scans, grid and patient motion.

    The default (`SAMPLE_PATIENT`) is the committed sample patient; other values make test
    patients, e.g. follow-ups where the patient lies shifted and turned on the table.

    Parameters
    ----------
    lesions, timepoints
        What is drawn and when.
    grid
        The scanner grid of every scan.
    motions
        Per time point, the 4x4 rigid motion of the patient in the scanner
        (`rigid_transform`); missing or None: the patient lies as in phantom coordinates.
    supersample
        Sub-samples per pixel along x and y (partial volume at edges); 1: none.
    patient
        Patient module attributes.
    variant
        Mixed into every UID when not empty, so test patients never share the sample's UIDs.
    sr_timepoints
        The time points that get a TID 1500 SR with the true sizes; None: all.
    """

    lesions: tuple[LesionSpec, ...] = LESIONS
    timepoints: tuple[TimepointSpec, ...] = TIMEPOINTS
    grid: PhantomGrid = SAMPLE_GRID
    motions: Mapping[int, np.ndarray | None] = field(default_factory=dict)
    supersample: int = 1
    patient: Mapping[str, str] = field(default_factory=lambda: dict(PATIENT))
    variant: str = ""
    sr_timepoints: tuple[int, ...] | None = None

    def uid(self, *parts: object) -> str:
        """A UID of this patient (the sample's own UIDs when `variant` is empty)."""
        return sample_uid(self.variant, *parts) if self.variant else sample_uid(*parts)

    def motion(self, timepoint: int) -> np.ndarray | None:
        """The patient's motion in the scanner at a time point, or None."""
        return self.motions.get(timepoint)

    def hu(self, timepoint: int) -> np.ndarray:
        """The CT of one time point (`phantom_hu` with this patient's settings)."""
        return phantom_hu(timepoint, lesions=self.lesions, grid=self.grid,
                          patient_to_scanner=self.motion(timepoint),
                          supersample=self.supersample)


SAMPLE_PATIENT = PhantomPatient()


def _identity(spec: TimepointSpec, patient: PhantomPatient = SAMPLE_PATIENT) -> CTSeriesIdentity:
    return CTSeriesIdentity(
        patient=dict(patient.patient),
        study_uid=patient.uid("study", spec.timepoint),
        study_date=spec.date,
        study_id=f"S{spec.timepoint + 1}",
        accession_number=f"NRS{spec.date:%Y%m%d}",
        study_description=f"CT chest abdomen ({spec.label})",
        series_uid=patient.uid("series", spec.timepoint),
        series_number=2,
        series_description=f"CT chest abdomen {patient.grid.slice_mm:g} mm (synthetic phantom)",
        frame_of_reference_uid=patient.uid("frame of reference", spec.timepoint),
    )


def _slice_uids(spec: TimepointSpec, patient: PhantomPatient = SAMPLE_PATIENT) -> list[str]:
    return [patient.uid("image", spec.timepoint, k) for k in range(patient.grid.slices)]


def sample_record(patient: PhantomPatient = SAMPLE_PATIENT) -> PatientRecord:
    """Return the true lesion measurements of the sample patient (or of another phantom).

    Parameters
    ----------
    patient
        Which phantom patient; default the sample patient.

    Returns
    -------
    PatientRecord
        Lesions with roles, sites and nodal flags; one assessment per time point with the
        long and short axes (mm) and their end points in LPS on the slice they lie in.
    """
    assessments = []
    for spec in patient.timepoints:
        identity = _identity(spec, patient)
        uids = _slice_uids(spec, patient)
        measurements = {}
        for lesion_spec in patient.lesions:
            measurement = _measurement(
                lesion_spec, spec.timepoint, uids, identity.frame_of_reference_uid,
                patient.grid, patient.motion(spec.timepoint),
            )
            if measurement is not None:
                measurements[measurement.lesion_id] = measurement
        assessments.append(Assessment(spec.timepoint, spec.date, measurements))
    return build_record(patient.patient["PatientID"], [s.lesion for s in patient.lesions],
                        assessments)


def study_folder(root: str | os.PathLike[str], spec: TimepointSpec) -> Path:
    """Return the folder of one time point's study: ``ROOT/<date>_<label>``."""
    return Path(root) / f"{spec.date.isoformat()}_{spec.label}"


@dataclass(frozen=True)
class SampleFiles:
    """What `write_sample` wrote."""

    ct_series: dict[int, list[Path]]
    sr_files: dict[int, Path]
    table: Path
    record: PatientRecord


def write_sample(root: str | os.PathLike[str], *, show_progress: bool = False,
                 patient: PhantomPatient = SAMPLE_PATIENT) -> SampleFiles:
    """Write the sample patient: CT, one TID 1500 SR per time point and the lesion table.

    Layout: ``ROOT/<date>_<label>/CT/CT0001.dcm...``, ``ROOT/<date>_<label>/SR/recist.dcm``
    and ``ROOT/lesions.csv``.

    Parameters
    ----------
    root
        Output folder, created if needed; existing files of the sample are replaced.
    show_progress
        Show a progress bar (tqdm) on stderr.
    patient
        Which phantom patient (default the sample patient; `PhantomPatient` makes others,
        e.g. with the patient moved between scans).

    Returns
    -------
    SampleFiles
        The files written and the true `PatientRecord`.
    """
    from tqdm import tqdm

    from napari_recist.io.sr import write_timepoint_sr
    from napari_recist.io.table import write_table

    out = Path(root)
    out.mkdir(parents=True, exist_ok=True)
    record = sample_record(patient)
    grid = patient.grid
    ct_series: dict[int, list[Path]] = {}
    sr_files: dict[int, Path] = {}
    with tqdm(total=grid.slices * len(patient.timepoints), desc="sample CT", unit="slice",
              disable=not show_progress) as bar:
        for spec in patient.timepoints:
            folder = study_folder(out, spec)
            uids = _slice_uids(spec, patient)
            ct_series[spec.timepoint] = write_ct_series(
                patient.hu(spec.timepoint),
                folder / "CT",
                _identity(spec, patient),
                first_voxel_lps=grid.first_voxel_lps,
                pixel_mm=grid.pixel_mm,
                slice_mm=grid.slice_mm,
                sop_uid=uids.__getitem__,
                progress=bar.update,
            )
            if patient.sr_timepoints is not None and spec.timepoint not in patient.sr_timepoints:
                continue
            sr_folder = folder / "SR"
            sr_folder.mkdir(exist_ok=True)
            sr_files[spec.timepoint] = write_timepoint_sr(
                record, spec.timepoint, ct_series[spec.timepoint], sr_folder / "recist.dcm",
                series_description=f"RECIST measurements ({spec.label}, true sizes)",
                # Fixed UIDs and time: regenerating the sample gives identical SR files too.
                series_instance_uid=patient.uid("sr-series", spec.timepoint),
                sop_instance_uid=patient.uid("sr", spec.timepoint),
                content_datetime=dt.datetime.combine(spec.date, dt.time(12, 0)),
            )
    table = out / "lesions.csv"
    write_table([record], table)
    return SampleFiles(ct_series, sr_files, table, record)


def run_sample(args: argparse.Namespace) -> int:
    """Command line: ``napari-recist sample DIR``; print what was written.

    Parameters
    ----------
    args
        Parsed arguments with ``folder``.

    Returns
    -------
    int
        0 on success.

    Raises
    ------
    InputError
        When the folder cannot be written.
    """
    root = Path(args.folder)
    try:
        written = write_sample(root, show_progress=not getattr(args, "quiet", False))
    except OSError as error:
        raise InputError([Problem(str(root), f"cannot write the sample here ({error})")]) from error
    total = sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
    for spec in TIMEPOINTS:
        ct = written.ct_series[spec.timepoint]
        print(f"{spec.label:9s} {spec.date}  {len(ct)} CT slices in {ct[0].parent}  "
              f"SR {written.sr_files[spec.timepoint]}")
    print(f"lesion table {written.table}")
    for spec in LESIONS:
        sizes = [
            "absent" if axes is None else f"{2 * axes[0]:g}x{2 * axes[1]:g}"
            for axes in spec.semi_axes_mm
        ]
        lesion = spec.lesion
        print(f"  {lesion.lesion_id}  {lesion.role.value:10s} {lesion.site:10s} "
              f"{' -> '.join(sizes)} mm")
    print(f"{total / 1e6:.1f} MB written to {root}")
    return 0
