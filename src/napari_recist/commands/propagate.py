"""`napari-recist propagate PATIENT_DIR`: baseline lesions proposed and measured on follow-ups.

Each follow-up CT of the patient folder is registered to the baseline CT
(`napari_recist.imaging.registration`, cached per pair of series), every baseline lesion
with lines is mapped onto it and measured semi-automatically there
(`napari_recist.imaging.propagation`). The result is a draft for a reader to review: a lesion
table whose follow-up rows (``source = proposal``) have ``method = semi-automatic``, a
confidence, the registration status and the proposed lines, after the reader's baseline rows
(``source = reader``, unchanged); it is written to its own file, never into the reader's
session or SRs.
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from napari_recist.commands._output import log_read_problems
from napari_recist.errors import InputError, Problem
from napari_recist.model import Assessment, LesionState, Measurement, PatientRecord

if TYPE_CHECKING:
    from napari_recist.imaging.propagation import LesionProposal
    from napari_recist.io.dicom_scan import SeriesInfo
    from napari_recist.io.patient import OpenedPatient


def read_reader_record(folder: Path, *, lenient: bool) -> tuple[PatientRecord, OpenedPatient]:
    """The reader's lesions and the scans of a patient folder, through the one loader.

    Raises
    ------
    InputError
        Problems in the SRs or the record (all of them), unless `lenient`.
    """
    from napari_recist.io.patient import open_patient

    opened = open_patient(folder)
    ready = opened.for_classification(lenient)
    log_read_problems(ready)
    return ready.record, opened


def _ct_by_date(opened: OpenedPatient) -> dict[dt.date, SeriesInfo]:
    """The CT series of each scan date, as the one loader chose it."""
    return {scan.date: scan.series for scan in opened.scans if scan.series is not None}


def run_propagate(args: argparse.Namespace) -> int:
    """Propose and measure every baseline lesion on each follow-up; print and write a draft.

    Parameters
    ----------
    args
        ``patient_dir``, ``csv`` (optional), ``refine``, ``cache_dir``, ``no_cache``,
        ``lenient``.

    Returns
    -------
    int
        0 on success.

    Raises
    ------
    InputError
        No baseline measurements, no baseline CT, no follow-up CT, SimpleITK missing.
    """
    from napari_recist.imaging._sitk import require_sitk
    from napari_recist.imaging.propagation import propagate_lesions
    from napari_recist.imaging.registration import RegistrationCache, default_cache_folder
    from napari_recist.io.table import write_table
    from napari_recist.io.volume import load_series

    require_sitk()
    folder = Path(args.patient_dir)
    if not folder.is_dir():
        raise InputError([Problem(str(folder), "not a folder")])
    record, opened = read_reader_record(folder, lenient=args.lenient)
    baseline = record.baseline
    if baseline is None or not baseline.measurements:
        raise InputError([Problem(str(folder), "no baseline measurements: nothing to "
                                  "propagate")])
    series = _ct_by_date(opened)
    if baseline.date not in series:
        raise InputError([Problem(str(folder), f"no CT series of the baseline date "
                                  f"{baseline.date}")])
    follow_dates = sorted(d for d in series if d > baseline.date)
    if not follow_dates:
        raise InputError([Problem(str(folder), f"no CT series after the baseline "
                                  f"({baseline.date}): nothing to propagate to")])
    numbers = {scan.date: scan.timepoint for scan in opened.scans}
    cache = RegistrationCache(None if args.no_cache else Path(args.cache_dir or
                                                              default_cache_folder()))
    baseline_volume = load_series(series[baseline.date])
    drafts: list[Assessment] = []
    used: set[int] = set()
    for position, date in enumerate(follow_dates, start=1):
        number = numbers.get(date, position)
        while number in used:
            number += 1
        used.add(number)
        volume = load_series(series[date])
        registration = cache.get(baseline_volume, volume)
        print(f"TP{number} {date}: {registration.status}: {registration.message}")
        proposals = propagate_lesions(record.lesions, baseline, baseline_volume, volume,
                                      registration, refine=args.refine)
        measurements = {}
        for proposal in proposals:
            draft = proposal.to_measurement()
            measurements[draft.lesion_id] = draft
            print("  " + _describe(proposal, draft))
        drafts.append(Assessment(number, date, measurements))
    # The reader's baseline rows come first, marked source = reader (so the draft is a lesion
    # table that reads and classifies); every follow-up row is source = proposal.
    reader_rows = {lesion_id: replace(m, extra={**m.extra, "source": "reader"})
                   for lesion_id, m in baseline.measurements.items()}
    for assessment in drafts:
        for lesion_id, m in assessment.measurements.items():
            assessment.measurements[lesion_id] = replace(m, extra={**m.extra,
                                                                   "source": "proposal"})
    draft_record = PatientRecord(
        record.patient_id, {i: record.lesions[i] for i in sorted(reader_rows)},
        [Assessment(0, baseline.date, reader_rows), *drafts])
    if args.csv:
        try:
            write_table([draft_record], args.csv)
        except OSError as error:
            raise InputError([Problem(str(args.csv), f"cannot write ({error})")]) from error
        print(f"draft lesion table (method = semi-automatic, for review) -> {args.csv}")
    return 0


def _describe(proposal: LesionProposal, draft: Measurement) -> str:
    """One line per lesion: id, sizes or state, confidence, slice, note."""
    if draft.state is LesionState.MEASURED:
        size = f"{draft.long_axis_mm:g} x {draft.short_axis_mm:g} mm"
    else:
        size = draft.state.value
    where = "" if proposal.slice_index is None else f" slice {proposal.slice_index + 1}"
    note = draft.extra.get("note", "")
    text = f"{draft.lesion_id:6s} {size:18s} confidence {draft.extra['confidence']}{where}"
    return f"{text}  ({note})" if note else text
