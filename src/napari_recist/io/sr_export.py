"""Write a patient's measurements as one TID 1500 SR per scan: the one export of the project.

Used by `napari-recist write-sr` and the viewer's Export widget, so both name and refuse files
the same way: ``P1_TP2_2024-03-12_SR.dcm`` (patient, time point, date), and nothing is written
when a measured scan has no CT images to reference (an SR must reference the images it was
measured on; the lesion table keeps table-only data).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from napari_recist.errors import InputError, Problem
from napari_recist.io.sr_write import write_timepoint_sr
from napari_recist.model import Assessment, PatientRecord


def sr_file_name(patient_id: str, assessment: Assessment) -> str:
    """A file name that says whose scan and which time point: ``P1_TP2_2024-03-12_SR.dcm``."""
    label = assessment.label.replace(" ", "-")
    patient = re.sub(r"[^A-Za-z0-9._-]+", "_", patient_id).strip("._")[:64] or "patient"
    return f"{patient}_{label}_{assessment.date.isoformat()}_SR.dcm"


def write_patient_srs(
    record: PatientRecord,
    images: Mapping[int, Sequence[Path]],
    out: Path,
    *,
    responses: Mapping[int, Mapping[str, str]] | None = None,
    where: str = "",
    progress: Callable[[int], None] | None = None,
) -> list[Path]:
    """Write one Comprehensive 3D SR per assessment that has measurements.

    Parameters
    ----------
    record
        The patient.
    images
        CT image files by time point number (the series each scan was measured on).
    out
        Output folder (created if missing).
    responses
        Lesion-level responses by time point, written in each lesion's group.
    where
        Where the images were looked for, named in the refusal.
    progress
        Called with 1 after each file.

    Returns
    -------
    list of Path
        The files written, in time point order.

    Raises
    ------
    InputError
        Nothing to write, or measured time points without CT images (all listed; nothing
        is written).
    """
    measured = [a for a in record.assessments if a.measurements]
    if not measured:
        raise InputError([Problem(record.patient_id, "nothing to export: no scan has "
                                  "measurements yet")])
    missing = [
        Problem(where or record.patient_id, f"no CT series dated {a.date} for {a.label} of "
                f"patient {record.patient_id}: an SR must reference the images it was "
                "measured on (the lesion table keeps table-only data)")
        for a in measured
        if not images.get(a.timepoint)
    ]
    if missing:
        raise InputError(missing)
    written = []
    for assessment in measured:
        path = out / sr_file_name(record.patient_id, assessment)
        written.append(
            write_timepoint_sr(
                record,
                assessment.timepoint,
                list(images[assessment.timepoint]),
                path,
                responses=(responses or {}).get(assessment.timepoint),
            )
        )
        if progress is not None:
            progress(1)
    return written
