"""A synthetic immunotherapy cohort (lesion records and clinical table) for demos and benchmarks.

Patients follow one of five courses seen in the seeds: response (every lesion shrinks),
stable disease, progression (lesions grow and a new lesion may appear), dissociated response
(some lesions shrink while others grow or a new lesion appears, seeds 000-002) and
pseudoprogression (growth, then shrinkage). Assessments every 8 weeks until progression plus one
confirmation scan. Survival is exponential with a hazard set by the course (responders live
longest, true progressors shortest, DR in between, as in seeds 000 and 002), censored
administratively. Deterministic for a given seed. Not real data: it exercises the pipeline.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

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

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

SITES = ("lung", "liver", "lymph node", "adrenal", "bone", "peritoneum", "soft tissue")
# Course: (weight in the cohort, per-visit relative size change of (shrinking, growing) lesions,
# median OS in days). The OS medians echo seed 002 (true response longest, true PD ~5 months).
COURSES: dict[str, tuple[float, tuple[float, float], float]] = {
    "response": (0.25, (-0.22, -0.15), 900.0),
    "stable": (0.30, (-0.05, 0.04), 480.0),
    "progression": (0.25, (0.12, 0.25), 170.0),
    "dissociated": (0.12, (-0.25, 0.30), 700.0),
    "pseudoprogression": (0.08, (0.30, -0.30), 650.0),
}
VISIT_DAYS = 56
ADMINISTRATIVE_CENSOR_DAYS = 1100.0


@dataclass(frozen=True)
class SyntheticClinical:
    """The clinical table row of one synthetic patient."""

    patient_id: str
    os_days: int
    os_event: bool
    sex: str
    ecog: str


def _course(rng: random.Random) -> str:
    draw = rng.random()
    total = 0.0
    for name, (weight, _, _) in COURSES.items():
        total += weight
        if draw <= total:
            return name
    return "stable"


def synthetic_patient(
    index: int, rng: random.Random, start: dt.date
) -> tuple[PatientRecord, SyntheticClinical]:
    """One synthetic patient and their clinical row.

    Parameters
    ----------
    index
        Patient number, used in the id (``SYN0001``).
    rng
        Random source.
    start
        Baseline date of the first patient; later patients start later.

    Returns
    -------
    tuple
        The patient record and the clinical row.
    """
    patient_id = f"SYN{index:04d}"
    course = _course(rng)
    _, (shrink, grow), median_os = COURSES[course]
    baseline = start + dt.timedelta(days=rng.randrange(0, 365))
    n_targets = rng.randint(2, 4)
    sites = rng.sample(SITES, n_targets)
    targets = [
        Lesion(f"T{k + 1}", Role.TARGET, site, nodal=(site == "lymph node"))
        for k, site in enumerate(sites)
    ]
    lesions = list(targets)
    sizes = [rng.uniform(16.0, 55.0) for _ in targets]
    # Which lesions shrink: all for response, some for DR, per visit phase for pseudoprogression.
    if course == "dissociated":
        shrinking = [k % 2 == 0 for k in range(n_targets)]
    else:
        shrinking = [course in ("response", "stable")] * n_targets
    # Progressors are scanned until progression is confirmed; others for 3-6 visits.
    visits = rng.randint(2, 3) if course == "progression" else rng.randint(3, 6)
    assessments: list[Assessment] = []
    new_lesion_visit = (
        rng.randint(1, 2)
        if course == "progression" and rng.random() < 0.5
        else (2 if course == "dissociated" and rng.random() < 0.5 else None)
    )
    for visit in range(visits + 1):
        date = baseline + dt.timedelta(
            days=visit * VISIT_DAYS + (rng.randint(-4, 4) if visit else 0)
        )
        measurements: dict[str, Measurement] = {}
        for k, lesion in enumerate(targets):
            if visit:
                if course == "pseudoprogression":
                    rate = shrink if visit == 1 else grow  # grows once, then shrinks
                else:
                    rate = shrink if shrinking[k] else grow
                sizes[k] = max(0.0, sizes[k] * (1 + rate + rng.uniform(-0.03, 0.03)))
            size = round(sizes[k], 1)
            if lesion.nodal:
                measurements[lesion.lesion_id] = Measurement(
                    lesion.lesion_id, LesionState.MEASURED, round(size * 1.3, 1), size
                )
            elif size < 5.0:
                measurements[lesion.lesion_id] = Measurement(lesion.lesion_id, LesionState.ABSENT)
            else:
                measurements[lesion.lesion_id] = Measurement(
                    lesion.lesion_id, LesionState.MEASURED, size, round(size * 0.7, 1)
                )
        if new_lesion_visit is not None and visit >= new_lesion_visit:
            if visit == new_lesion_visit:
                lesions.append(Lesion("N1", Role.NEW, rng.choice(("liver", "bone", "brain"))))
            measurements["N1"] = Measurement("N1", LesionState.PRESENT)
        assessments.append(Assessment(visit, date, measurements))
    record = build_record(patient_id, lesions, assessments)
    os_days = rng.expovariate(math.log(2) / median_os)
    event = os_days < ADMINISTRATIVE_CENSOR_DAYS
    last_scan = (assessments[-1].date - baseline).days
    os_days = max(os_days if event else ADMINISTRATIVE_CENSOR_DAYS, last_scan + 1.0)
    clinical = SyntheticClinical(
        patient_id=patient_id,
        os_days=int(round(os_days)),
        os_event=event,
        sex=rng.choice(("male", "female")),
        ecog=rng.choice(("0-1", "0-1", "0-1", "2-4")),
    )
    return record, clinical


def synthetic_cohort(
    size: int, seed: int = 0, start: dt.date = dt.date(2023, 1, 9)
) -> tuple[list[PatientRecord], list[SyntheticClinical]]:
    """A deterministic synthetic cohort.

    Parameters
    ----------
    size
        Number of patients.
    seed
        Random seed.
    start
        Earliest baseline date.

    Returns
    -------
    tuple
        Patient records and clinical rows, in the same order.
    """
    rng = random.Random(seed)
    pairs = [synthetic_patient(i + 1, rng, start) for i in range(size)]
    return [r for r, _ in pairs], [c for _, c in pairs]


def clinical_csv(rows: list[SyntheticClinical]) -> str:
    """The clinical table of synthetic patients as CSV text."""
    lines = ["patient_id,os_days,os_event,sex,ecog"]
    lines += [f"{r.patient_id},{r.os_days},{int(r.os_event)},{r.sex},{r.ecog}" for r in rows]
    return "\n".join(lines) + "\n"


# A one-slice CT per scan is enough evidence for an SR: 64 x 64 pixels of 4 mm (256 mm field).
CT_PIXELS = 64
CT_PIXEL_MM = 4.0


def _ct_slice(folder: Path, record: PatientRecord, assessment: Assessment) -> Dataset:
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    key = [record.patient_id, assessment.date.isoformat()]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[*key, "image"])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = folder / "ct_001.dcm"
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = record.patient_id
    ds.PatientName = f"Synthetic^{record.patient_id}"
    ds.PatientBirthDate = "19600101"
    ds.PatientSex = "O"
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[*key, "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[*key, "series"])
    ds.FrameOfReferenceUID = generate_uid(entropy_srcs=[record.patient_id, "frame"])
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = assessment.date.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "090000"
    ds.AccessionNumber = f"A{assessment.timepoint}"
    ds.StudyID = str(assessment.timepoint + 1)
    ds.ReferringPhysicianName = ""
    ds.Modality = "CT"
    ds.Manufacturer = "napari-recist synthetic cohort"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    half = CT_PIXELS * CT_PIXEL_MM / 2
    ds.ImagePositionPatient = [-half, -half, 0.0]
    ds.PixelSpacing = [CT_PIXEL_MM, CT_PIXEL_MM]
    ds.SliceThickness = 5.0
    ds.KVP = 120
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = CT_PIXELS
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "HU"
    ds.PixelData = np.full((CT_PIXELS, CT_PIXELS), 40, dtype=np.int16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return ds


def _with_axes(measurement: Measurement, index: int, image: Dataset) -> Measurement:
    """Give a measured lesion long and short axes on the image, centred on a circle of sites."""
    if measurement.long_axis_mm is None:
        return measurement
    angle = 2 * math.pi * index / 6
    centre_x, centre_y = 60.0 * math.cos(angle), 60.0 * math.sin(angle)
    uid = str(image.SOPInstanceUID)
    half_long = measurement.long_axis_mm / 2
    long_axis = AxisGeometry(
        ((centre_x - half_long, centre_y, 0.0), (centre_x + half_long, centre_y, 0.0)), uid
    )
    short_axis = None
    if measurement.short_axis_mm is not None:
        half_short = measurement.short_axis_mm / 2
        short_axis = AxisGeometry(
            ((centre_x, centre_y - half_short, 0.0), (centre_x, centre_y + half_short, 0.0)), uid
        )
    return replace(measurement, long_axis=long_axis, short_axis=short_axis)


def write_patient_folder(record: PatientRecord, root: str | os.PathLike[str]) -> Path:
    """Write a synthetic patient as DICOM: per scan a one-slice CT and a TID 1500 SR.

    The SRs are written by `napari_recist.io.sr.write_timepoint_sr`, with each measured
    lesion's axes drawn on the CT slice, so that reading the folder back gives the record.

    Parameters
    ----------
    record
        The patient (e.g. from `synthetic_cohort`).
    root
        Folder to create; one sub-folder per scan date.

    Returns
    -------
    Path
        The patient folder.
    """
    from napari_recist.io.sr import write_timepoint_sr

    folder = Path(root)
    order = {lesion_id: i for i, lesion_id in enumerate(sorted(record.lesions))}
    for assessment in record.assessments:
        scan = folder / f"{assessment.date.isoformat()}_tp{assessment.timepoint}"
        image = _ct_slice(scan / "CT", record, assessment)
        assessment.measurements = {
            lesion_id: _with_axes(m, order[lesion_id], image)
            for lesion_id, m in assessment.measurements.items()
        }
        write_timepoint_sr(record, assessment.timepoint, [image], scan / "SR" / "sr.dcm")
    return folder
