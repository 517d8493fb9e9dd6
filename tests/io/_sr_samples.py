"""Small synthetic CT series and lesion records for the SR tests (real DICOM files, 32x32)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileDataset
from pydicom.uid import generate_uid

from napari_recist.model import (
    Assessment,
    AxisGeometry,
    Lesion,
    LesionState,
    Measurement,
    PatientRecord,
    Role,
)
from napari_recist.sample import CTSeriesIdentity, write_ct_series

SIZE = 32
PIXEL_MM = 0.8
SLICE_MM = 2.5
ORIGIN = (-12.4, -20.0, 100.0)


def make_ct_series(
    folder: Path,
    patient_id: str = "P1",
    study_date: dt.date = dt.date(2024, 1, 10),
    n_slices: int = 4,
) -> list[FileDataset]:
    """Write a small axial CT series (one file per slice) and return the datasets."""
    identity = CTSeriesIdentity(
        patient={
            "PatientID": patient_id,
            "PatientName": f"Test^{patient_id}",
            "PatientBirthDate": "19600101",
            "PatientSex": "F",
        },
        study_uid=generate_uid(entropy_srcs=[patient_id, study_date.isoformat(), "study"]),
        study_date=study_date,
        study_id="1",
        accession_number=f"A{study_date:%Y%m%d}",
        study_description="SR test",
        series_uid=generate_uid(entropy_srcs=[patient_id, study_date.isoformat(), "series"]),
        series_number=1,
        series_description="SR test CT",
        frame_of_reference_uid=generate_uid(entropy_srcs=[patient_id, "frame"]),
    )
    hu = np.full((n_slices, SIZE, SIZE), -1000, dtype=np.int16)
    hu[:, 8:24, 8:24] = 40
    paths = write_ct_series(
        hu, folder, identity, first_voxel_lps=ORIGIN, pixel_mm=PIXEL_MM, slice_mm=SLICE_MM,
        compress=False,
    )
    return [pydicom.dcmread(path) for path in paths]


def pixel_to_lps(ds: FileDataset, column: float, row: float) -> tuple[float, float, float]:
    """Return the LPS point of a pixel position (SCOORD convention: pixel centre at +0.5)."""
    origin = np.asarray(ds.ImagePositionPatient, dtype=float)
    row_dir = np.asarray(ds.ImageOrientationPatient[:3], dtype=float)
    col_dir = np.asarray(ds.ImageOrientationPatient[3:], dtype=float)
    spacing = [float(v) for v in ds.PixelSpacing]
    point = origin + row_dir * (column - 0.5) * spacing[1] + col_dir * (row - 0.5) * spacing[0]
    return (float(point[0]), float(point[1]), float(point[2]))


def axis_on(ds: FileDataset, start: tuple[float, float], end: tuple[float, float]) -> AxisGeometry:
    """Return an axis drawn on one CT slice between two pixel positions."""
    return AxisGeometry(
        points=(pixel_to_lps(ds, *start), pixel_to_lps(ds, *end)),
        referenced_sop_uid=str(ds.SOPInstanceUID),
        frame_of_reference_uid=str(ds.FrameOfReferenceUID),
    )


def every_state_record(patient_id: str = "P1") -> PatientRecord:
    """A record whose follow-up uses every role and every lesion state at least once."""
    lesions = [
        Lesion("L1", Role.TARGET, "lung"),
        Lesion("L2", Role.TARGET, "lymph node", nodal=True, thoracic=True),
        Lesion("L3", Role.NON_TARGET, "liver"),
        Lesion("L4", Role.NON_TARGET, "bone"),
        Lesion("L5", Role.TARGET, "left psoas muscle"),
        Lesion("N1", Role.NEW, "brain"),
        Lesion("N2", Role.NEW, "peritoneum"),
        Lesion("L6", Role.NON_TARGET, "pleura", thoracic=False),
        Lesion("L7", Role.NON_TARGET, "spleen"),
    ]
    baseline = Assessment(0, dt.date(2024, 1, 10), {
        "L1": Measurement("L1", LesionState.MEASURED, 32.0, 20.5),
        "L2": Measurement("L2", LesionState.MEASURED, 25.0, 17.0),
        "L3": Measurement("L3", LesionState.PRESENT),
        "L4": Measurement("L4", LesionState.PRESENT),
        "L5": Measurement("L5", LesionState.MEASURED, 14.2),
        "L6": Measurement("L6", LesionState.PRESENT),
        "L7": Measurement("L7", LesionState.PRESENT),
    })
    follow_up = Assessment(1, dt.date(2024, 3, 12), {
        "L1": Measurement("L1", LesionState.MEASURED, 20.0, 12.25),
        "L2": Measurement("L2", LesionState.TOO_SMALL),
        "L3": Measurement("L3", LesionState.ABSENT),
        "L4": Measurement("L4", LesionState.PROGRESSION),
        "L5": Measurement("L5", LesionState.NOT_EVALUATED),
        "L6": Measurement("L6", LesionState.INCREASE),
        "L7": Measurement("L7", LesionState.PRESENT),
        "N1": Measurement("N1", LesionState.EQUIVOCAL),
        "N2": Measurement("N2", LesionState.MEASURED, 11.0, 8.0),
    })
    return PatientRecord(patient_id, {lesion.lesion_id: lesion for lesion in lesions},
                         [baseline, follow_up])


def record_with_lines(ct_by_timepoint: dict[int, list[FileDataset]]) -> PatientRecord:
    """`every_state_record` with lines: Bidirectional on L1, Length on L5, SCOORD3D on N2."""
    record = every_state_record()
    baseline, follow_up = record.assessments
    ct0, ct1 = ct_by_timepoint[0], ct_by_timepoint[1]
    base = baseline.measurements
    base["L1"] = replace(base["L1"], long_axis=axis_on(ct0[1], (5, 5), (25, 20)),
                         short_axis=axis_on(ct0[1], (10, 20), (20, 10)),
                         extra={"method": "semi-automatic, adjusted by reader"})
    base["L5"] = replace(base["L5"], long_axis=axis_on(ct0[2], (3, 3), (10, 20)))
    follow = follow_up.measurements
    follow["L1"] = replace(follow["L1"], long_axis=axis_on(ct1[2], (6.5, 7.25), (22, 19)),
                           short_axis=axis_on(ct1[2], (10, 18), (18, 10)),
                           extra={"method": "manual"})
    follow["N2"] = replace(follow["N2"], long_axis=AxisGeometry(
        ((0.5, -1.0, 101.0), (5.0, 5.5, 104.0)), None, str(ct1[0].FrameOfReferenceUID)))
    return record


def write_patient(root: Path) -> tuple[PatientRecord, dict[int, list[FileDataset]], list[Path]]:
    """Write CT for both time points and one SR each under ``root``; return what was written."""
    from napari_recist.io.sr import write_timepoint_sr

    template = every_state_record()
    ct = {a.timepoint: make_ct_series(root / f"ct_{a.timepoint}", study_date=a.date)
          for a in template.assessments}
    record = record_with_lines(ct)
    paths = [
        write_timepoint_sr(record, a.timepoint, ct[a.timepoint], root / f"sr_{a.timepoint}.dcm",
                           responses=RESPONSES.get(a.timepoint))
        for a in record.assessments
    ]
    return record, ct, paths


RESPONSES = {1: {"L1": "PR", "L2": "CR", "L3": "CR", "L4": "PD", "L5": "NE", "L6": "PD",
                 "L7": "NON-CR/NON-PD", "N1": "NEW", "N2": "NEW"}}
