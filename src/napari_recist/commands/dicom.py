"""`napari-recist table` (SRs -> lesion table) and `napari-recist write-sr` (table -> SRs)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from napari_recist.commands._output import is_stdout, log_read_problems, write_via_file
from napari_recist.errors import InputError, Problem
from napari_recist.model import PatientRecord

log = logging.getLogger(__name__)


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
        Problems in the SRs or the record (all listed), unless ``--lenient``.
    """
    from napari_recist.io.axis_columns import record_with_axis_columns
    from napari_recist.io.patient import open_patient
    from napari_recist.io.table import write_table

    opened = open_patient(_existing_folder(args.patient_dir), use_session=False,
                          radius_as_diameter=getattr(args, "radius_as_diameter", False))
    ready = opened.for_classification(args.lenient)
    log_read_problems(ready)
    for note in opened.notes:
        log.warning("note: %s", note)  # how an input was read: shown even with --quiet
    record = ready.record
    # The axis end points, slice UIDs and frame of reference go in the table as the session
    # table keeps them (io/axis_columns.py), so `write-sr` rebuilds the lines.
    table_record = record_with_axis_columns(record)
    write_via_file(args.csv, lambda path: write_table([table_record], path))
    dates = ", ".join(f"{a.label} {a.date}" for a in record.assessments)
    summary = (
        f"{record.patient_id}: {len(record.lesions)} lesions at {len(record.assessments)} "
        f"time points ({dates}) from {len(opened.sr_results)} SR files -> {args.csv}"
    )
    if is_stdout(args.csv):
        log.info("%s", summary)  # stdout carries the table
    else:
        print(summary)
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
    from napari_recist.io.axis_columns import record_from_axis_columns
    from napari_recist.io.patient import open_patient
    from napari_recist.io.sr_export import write_patient_srs
    from napari_recist.io.table import read_table

    table = read_table(args.table, lenient=args.lenient)
    for problem in table.skipped:
        log.warning("skipped: %s", problem)
    for problem in table.warnings:
        log.warning("warning: %s", problem)
    opened = open_patient(_existing_folder(args.patient_dir), read_lesions=False)
    record = record_from_axis_columns(
        _patient_of(table.records, opened.patient_id, args.table, args.patient_dir), args.table)
    images: dict[int, list[Path]] = {}
    for assessment in record.assessments:
        scan = opened.scan_on(assessment.date)
        images[assessment.timepoint] = scan.image_files() if scan is not None else []
    responses = _lesion_responses(record) if args.responses else {}
    with tqdm(total=len(record.assessments), desc="write SR", unit="SR", disable=args.quiet,
              file=sys.stderr) as bar:
        written = write_patient_srs(record, images, Path(args.out), responses=responses,
                                    where=str(args.patient_dir), progress=bar.update)
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
