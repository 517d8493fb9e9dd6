"""A tiny synthetic patient for the viewer tests: real CT DICOM files written with pydicom."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from pydicom.uid import generate_uid

from napari_recist.sample import CTSeriesIdentity, write_ct_series

SIZE = 40  # pixels per side
PIXEL_MM = 0.75
SLICE_MM = 2.5
N_SLICES = 5
ORIGIN = (-15.0, -20.0, -50.0)  # LPS of voxel (0, 0, 0)
DATES = (dt.date(2024, 1, 10), dt.date(2024, 3, 6), dt.date(2024, 5, 2))
PATIENT = "VIEWER1"


def write_ct(
    folder: Path,
    date: dt.date,
    n_slices: int = N_SLICES,
    patient_id: str = PATIENT,
    lesion_radius_px: float = 6.0,
) -> list[Path]:
    """Write an axial CT series: soft tissue disc with a brighter round lesion.

    Files are named in reverse order of position (as scanners number them): the loader must
    sort by position.
    """
    identity = CTSeriesIdentity(
        patient={
            "PatientID": patient_id,
            "PatientName": f"Viewer^{patient_id}",
            "PatientBirthDate": "19600101",
            "PatientSex": "M",
        },
        study_uid=generate_uid(entropy_srcs=[patient_id, date.isoformat(), "study"]),
        study_date=date,
        study_id="1",
        accession_number="",
        study_description="viewer test",
        series_uid=generate_uid(entropy_srcs=[patient_id, date.isoformat(), "series"]),
        series_number=2,
        series_description="viewer test CT",
        frame_of_reference_uid=generate_uid(entropy_srcs=[patient_id, date.isoformat(), "frame"]),
    )
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    body = (yy - SIZE / 2) ** 2 + (xx - SIZE / 2) ** 2 < (SIZE / 2 - 2) ** 2
    lesion = (yy - 15) ** 2 + (xx - 22) ** 2 < lesion_radius_px**2
    hu = np.where(body, 40, -1000) + np.where(lesion, 60, 0)
    return write_ct_series(
        np.repeat(hu[None], n_slices, axis=0),
        folder,
        identity,
        first_voxel_lps=ORIGIN,
        pixel_mm=PIXEL_MM,
        slice_mm=SLICE_MM,
        compress=False,
    )


def write_patient(root: Path, dates: tuple[dt.date, ...] = DATES) -> Path:
    """Write one CT series per date under ``root/<date>/CT`` and return ``root``."""
    for date in dates:
        write_ct(root / date.isoformat() / "CT", date)
    return root


def pixel_to_lps(column: float, row: float, slice_index: int) -> tuple[float, float, float]:
    """LPS (mm) of a pixel position of the test CT (axial, identity orientation)."""
    return (
        ORIGIN[0] + column * PIXEL_MM,
        ORIGIN[1] + row * PIXEL_MM,
        ORIGIN[2] + slice_index * SLICE_MM,
    )


def record_with_one_target(sizes_px: tuple[float, ...] = (20, 12, 28)):
    """A target lung lesion L1 measured at each date along row 15 of slice 2."""
    from napari_recist.model import (
        Assessment,
        AxisGeometry,
        Lesion,
        LesionState,
        Measurement,
        PatientRecord,
        Role,
    )

    assessments = []
    for timepoint, (date, size) in enumerate(zip(DATES, sizes_px, strict=False)):
        start = 22 - size / 2
        axis = AxisGeometry((pixel_to_lps(start, 15, 2), pixel_to_lps(start + size, 15, 2)))
        measurement = Measurement(
            "L1", LesionState.MEASURED, long_axis_mm=round(size * PIXEL_MM, 1), long_axis=axis
        )
        assessments.append(Assessment(timepoint, date, {"L1": measurement}))
    return PatientRecord(PATIENT, {"L1": Lesion("L1", Role.TARGET, "lung")}, assessments)


def write_patient_with_sr(root: Path, sr_folder: Path | None = None) -> Path:
    """Write the CT scans and one TID 1500 SR per date (the SRs in `sr_folder` if given)."""
    from napari_recist.io.sr import write_timepoint_sr

    record = record_with_one_target()
    for assessment in record.assessments:
        date = assessment.date
        files = write_ct(root / date.isoformat() / "CT", date)
        target = (sr_folder or root) / date.isoformat() / "SR"
        target.mkdir(parents=True, exist_ok=True)
        write_timepoint_sr(record, assessment.timepoint, files, target / "sr.dcm")
    return root
