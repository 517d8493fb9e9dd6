"""`napari-recist table` (SRs -> lesion table) and `napari-recist write-sr` (table -> SRs)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from tqdm import tqdm

from napari_recist.errors import InputError, Problem
from napari_recist.model import Assessment, PatientRecord


def run_table(args: argparse.Namespace) -> int:
    """Read every SR of a patient folder and write the lesion table.

    Parameters
    ----------
    args
        ``patient_dir``, ``csv``, ``lenient``.

    Returns
    -------
    int
        0 on success.

    Raises
    ------
    InputError
        Problems in the SRs (all listed), unless ``--lenient``.
    """
    from napari_recist.io.study import read_patient_record
    from napari_recist.io.table import write_table

    folder = _existing_folder(args.patient_dir)
    result = read_patient_record(folder)
    if result.problems and not args.lenient:
        raise InputError(result.problems)
    for problem in result.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    record = result.record
    write_table([record], args.csv)
    dates = ", ".join(f"{a.label} {a.date}" for a in record.assessments)
    print(
        f"{record.patient_id}: {len(record.lesions)} lesions at {len(record.assessments)} "
        f"time points ({dates}) from {len(result.sr_results)} SR files -> {args.csv}"
    )
    return 0


def run_write_sr(args: argparse.Namespace) -> int:
    """Write one TID 1500 SR per time point of a lesion table, referencing the patient's CT.

    Every time point must have CT images of its date in the patient folder; otherwise
    nothing is written and every missing date is listed.

    Parameters
    ----------
    args
        ``table``, ``patient_dir``, ``out``, ``lenient``, ``responses``, ``quiet``.

    Returns
    -------
    int
        0 on success.

    Raises
    ------
    InputError
        Bad table, no matching patient, time points without CT.
    """
    from napari_recist.io.sr import write_timepoint_sr
    from napari_recist.io.study import load_patient
    from napari_recist.io.table import read_table

    table = read_table(args.table, lenient=args.lenient)
    for problem in table.skipped:
        print(f"skipped: {problem}", file=sys.stderr)
    for problem in table.warnings:
        print(f"warning: {problem}", file=sys.stderr)
    study = load_patient(_existing_folder(args.patient_dir))
    record = _patient_of(table.records, study.patient_id, args.table, args.patient_dir)
    images: dict[int, list[Path]] = {}
    missing = []
    for assessment in record.assessments:
        timepoint = study.timepoint_on(assessment.date)
        files = timepoint.image_files() if timepoint else []
        if not files:
            missing.append(
                Problem(
                    str(args.patient_dir),
                    (
                        f"no CT series dated {assessment.date} for {assessment.label} of patient "
                        f"{record.patient_id}: an SR must reference the images it was measured on "
                        "(the lesion table keeps table-only data)"
                    ),
                )
            )
        images[assessment.timepoint] = files
    if missing:
        raise InputError(missing)
    responses = _lesion_responses(record) if args.responses else {}
    out = Path(args.out)
    written = []
    for assessment in tqdm(
        record.assessments, desc="write SR", unit="SR", disable=args.quiet, file=sys.stderr
    ):
        path = out / _file_name(record.patient_id, assessment)
        written.append(
            write_timepoint_sr(
                record,
                assessment.timepoint,
                images[assessment.timepoint],
                path,
                responses=responses.get(assessment.timepoint),
            )
        )
    for path in written:
        print(path)
    if args.store:
        from napari_recist.commands.pacs import store_paths

        store_paths(args.store, written, quiet=args.quiet)
    return 0


def _existing_folder(text: str) -> Path:
    folder = Path(text)
    if not folder.is_dir():
        raise InputError([Problem(text, "no such folder")])
    return folder


def _patient_of(
    records: list[PatientRecord], patient_id: str, table: str, folder: str
) -> PatientRecord:
    """The table's record of the folder's patient."""
    for record in records:
        if record.patient_id == patient_id:
            return record
    found = ", ".join(r.patient_id for r in records) or "none"
    raise InputError(
        [
            Problem(
                table,
                f"no rows for patient {patient_id!r}, whose images are in "
                f"{folder} (patients in the table: {found})",
                column="patient_id",
            )
        ]
    )


def _lesion_responses(record: PatientRecord) -> dict[int, dict[str, str]]:
    """Per time point, the lesion-level responses of the default criteria."""
    from napari_recist.criteria.report import classify_patient

    try:
        result = classify_patient(record).to_json()
    except ValueError as error:  # no baseline
        raise InputError(
            [Problem(record.patient_id, f"cannot compute responses: {error}")]
        ) from error
    return {tp["timepoint"]: dict(tp.get("lesions") or {}) for tp in result["timepoints"]}


def _file_name(patient_id: str, assessment: Assessment) -> str:
    """A file name that says whose scan and which time point: ``P1_TP2_2024-03-12_SR.dcm``."""
    label = assessment.label.replace(" ", "-")
    patient = re.sub(r"[^A-Za-z0-9._-]+", "_", patient_id) or "patient"
    return f"{patient}_{label}_{assessment.date.isoformat()}_SR.dcm"
