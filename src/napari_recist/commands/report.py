"""`napari-recist report`: the tumour-board HTML page of a patient folder or of a lesion table."""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

from tqdm.auto import tqdm

from napari_recist.commands.pacs import resolve_source
from napari_recist.errors import InputError, Problem

NO_IMAGES_FROM_TABLE = (
    "This report was made from a lesion table: it has no CT images. Run the report on the "
    "patient folder of DICOM (CT and SR) to see each lesion cropped from its CT."
)


def _file_name(patient_id: str) -> str:
    """A file name for any patient id: safe characters, at most 80 of them.

    An id that had to be changed keeps a hash of the whole id, so two ids never share a page.
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", patient_id).strip("._") or "patient"
    if safe != patient_id or len(safe) > 80:
        # Changed or shortened: a hash of the whole id keeps two patients apart.
        digest = hashlib.sha1(patient_id.encode("utf-8")).hexdigest()[:8]
        safe = f"{safe[:70]}-{digest}"
    return f"{safe}.html"


def write_patient_report(
    out: Path,
    record: object,
    criteria: object,
    opened: object | None,
    notes: list[str] | None = None,
    show_progress: bool = True,
) -> Path:
    """Classify one patient and write their tumour-board page.

    Parameters
    ----------
    out
        Output folder (created if missing).
    record
        `napari_recist.model.PatientRecord`.
    criteria
        `napari_recist.criteria.settings.Criteria`.
    opened
        `napari_recist.io.patient.OpenedPatient` of the patient folder, for key images; None
        for a lesion table.
    notes
        Remarks on the inputs, shown at the end of the page.
    show_progress
        Show a progress bar while key images are cropped.

    Returns
    -------
    Path
        The HTML file written (atomically); the spider / trajectory plot is also written
        beside it as a PNG of the same name.
    """
    from napari_recist.criteria.report import classify_patient
    from napari_recist.io.atomic import atomic_write_bytes, atomic_write_text
    from napari_recist.model import PatientRecord
    from napari_recist.report.figures import figure_png, patient_figure
    from napari_recist.report.keyimages import key_images, volumes_for
    from napari_recist.report.page import patient_page
    from napari_recist.report.trajectories import lesion_series

    assert isinstance(record, PatientRecord)
    try:
        patient = classify_patient(record, criteria).to_json()  # type: ignore[arg-type]
    except ValueError as error:
        raise InputError([Problem(record.patient_id, str(error))]) from None
    notes = list(notes or [])
    plot = figure_png(patient_figure(patient, lesion_series(record, criteria)))  # type: ignore[arg-type]
    images = None
    why_none = NO_IMAGES_FROM_TABLE
    if opened is not None:
        volumes, volume_notes = volumes_for(record, opened)
        notes += volume_notes
        responses = {
            (int(tp["timepoint"]), lesion_id): response
            for tp in patient["timepoints"]
            for lesion_id, response in (tp.get("lesions") or {}).items()
        }
        total = sum(len(a.measurements) for a in record.assessments if a.timepoint >= 0)
        with tqdm(total=total, desc="key images", unit="lesion", disable=not show_progress) as bar:
            images = key_images(record, volumes, responses, bar.update)
        why_none = "No CT series matches the assessments' dates."
    out.mkdir(parents=True, exist_ok=True)
    path = out / _file_name(record.patient_id)
    atomic_write_bytes(path.with_suffix(".png"), plot)  # the plot alone, for slides
    atomic_write_text(path, patient_page(patient, plot, images, why_none, notes))
    return path


def run_report(args: argparse.Namespace) -> int:
    """Run `napari-recist report` (see cli.py for the arguments)."""
    from napari_recist.criteria.settings import Criteria

    try:
        criteria = Criteria.from_toml(args.criteria) if args.criteria else Criteria()
    except ValueError as error:
        raise InputError([str(error)]) from None
    source = resolve_source(args.source)
    out = Path(args.out)
    if not source.exists():
        raise InputError([Problem(str(source), "no such file or folder")])
    written: list[Path] = []
    if source.is_dir():
        from napari_recist.io.patient import open_patient

        opened = open_patient(source)
        ready = opened.for_classification(args.lenient)
        notes = [str(p) for p in [*ready.skipped, *ready.remarks]] + opened.notes
        written.append(
            write_patient_report(
                out, ready.record, criteria, opened, notes, show_progress=not args.quiet
            )
        )
    else:
        from napari_recist.commands.classify import load_records

        records = load_records(str(source), args.lenient)
        if args.patient is not None:
            records = [r for r in records if r.patient_id == args.patient]
            if not records:
                raise InputError([Problem(str(source), f"no patient '{args.patient}'")])
        quiet = len(records) < 2 or args.quiet
        for record in tqdm(records, desc="reports", unit="patient", disable=quiet):
            written.append(write_patient_report(out, record, criteria, None, show_progress=False))
    for path in written:
        print(f"report: {path}", file=sys.stdout)
    return 0
