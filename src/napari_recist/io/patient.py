"""Open a patient: ONE scan of its files -> scans by date -> the lesion record, checked.

`open_patient(paths)` is the one loader of the project: the viewer, `classify`, `table`,
`report`, `write-sr`, `cohort` and the batch all take it. It walks every path once
(`napari_recist.io.dicom_scan.scan_dicom_folder`, headers kept), sorts CT series and SRs by
study date, reads the SRs with the CT headers already in hand (no CT file is read again to
place a line), numbers the time points with one rule, chooses one series per date with one
rule, and applies one precedence: the autosaved session table of the viewer, when the patient
folder has one, wins over the SRs. `OpenedPatient.for_classification` runs the one checker
(`napari_recist.checks.check_record`) and names every problem by SR file and tracking
identifier (or session table row).

Rules (one place each):
- Series per date: the series holding the images the SR lines reference, else the one with
  the most slices (the diagnostic series, not a scout or a thick reconstruction).
- Time points (`number_timepoints`): the numbers the SRs or the session table state, when
  they cover every date and increase with it; otherwise by date order around the baseline:
  the date stated as baseline (time point 0), or the date a stated follow-up number counts
  from, or the first date with lesions, or the first date. A date with a damaged SR still
  counts as a date, so an unreadable baseline SR never makes the next scan the baseline.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from napari_recist.checks import CheckedRecord, RecordIssue, check_record
from napari_recist.errors import InputError, Problem
from napari_recist.io.axis_columns import geometry_from_extra
from napari_recist.io.dicom_scan import (
    DicomScan,
    ReferencedImages,
    SeriesInfo,
    SRFileInfo,
    ascii_value,
    scan_dicom_folder,
)
from napari_recist.io.session_file import (
    SESSION_FILE,
    keep_rejected,
    remove_stale_temporaries,
)
from napari_recist.io.sr_read import SRReadResult, read_sr
from napari_recist.io.sr_revisions import later_of, resolve_revisions
from napari_recist.model import Assessment, Lesion, Measurement, PatientRecord

RECORD_FROM_SESSION = "session table"
RECORD_FROM_SR = "SR"
RECORD_NONE = "none"


@dataclass
class Scan:
    """One scan date of the patient.

    Attributes
    ----------
    date
        Study date.
    timepoint
        Time point number (0 = baseline, negative = pre-baseline).
    series
        The CT series used for this date (see the module's series rule), or None.
    other_series
        The other CT series of that date, not used.
    sr_files
        The structured reports of that date.
    """

    date: dt.date
    timepoint: int = 0
    series: SeriesInfo | None = None
    other_series: list[SeriesInfo] = field(default_factory=list)
    sr_files: list[SRFileInfo] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``baseline``, ``TP2``, ``pre-baseline 1``..."""
        return Assessment(self.timepoint, self.date).label

    def image_files(self) -> list[Path]:
        """The files of the chosen CT series (empty without one)."""
        return list(self.series.files) if self.series is not None else []


@dataclass
class OpenedPatient:
    """What `open_patient` found: the scans, the lesion record and what went wrong.

    Attributes
    ----------
    folder
        The patient folder (where the session table is autosaved).
    patient_id
        Patient ID of the files.
    scans
        One per study date, in date order.
    record
        The lesions as read (session table, else SRs), numbered like `scans`, not checked.
    record_source
        `RECORD_FROM_SESSION`, `RECORD_FROM_SR` or `RECORD_NONE`.
    read_problems
        What could not be read (SR content, files without a date...), each naming its file.
    notes
        Files left out and assumptions made, for the user to see.
    sr_results
        The SRs read, in date order.
    origins
        Where each measurement comes from: ``(timepoint, lesion id) -> file``.
    """

    folder: Path
    patient_id: str
    scans: list[Scan] = field(default_factory=list)
    record: PatientRecord = field(default_factory=lambda: PatientRecord(""))
    record_source: str = RECORD_NONE
    read_problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sr_results: list[SRReadResult] = field(default_factory=list)
    origins: dict[tuple[int, str], str] = field(default_factory=dict)

    def scan(self, timepoint: int) -> Scan | None:
        """The scan of a time point, or None."""
        return next((scan for scan in self.scans if scan.timepoint == timepoint), None)

    def scan_on(self, date: dt.date) -> Scan | None:
        """The scan of a study date, or None."""
        return next((scan for scan in self.scans if scan.date == date), None)

    def check(self) -> CheckedRecord:
        """Run the one checker on the record."""
        refused = {
            problem.column.removeprefix("Tracking Identifier ")
            for problem in self.read_problems
            if problem.column and problem.column.startswith("Tracking Identifier ")
        }
        return check_record(self.record, refused_lesions=refused)

    def issue_problem(self, issue: RecordIssue, lenient: bool) -> Problem:
        """A checker issue named by its source: the SR file and tracking identifier."""
        source = None
        if issue.lesion_id is not None:
            source = self.origins.get((issue.timepoint, issue.lesion_id)) if (
                issue.timepoint is not None
            ) else None
            source = source or next(
                (path for (_, lesion), path in sorted(self.origins.items(), key=_origin_key)
                 if lesion == issue.lesion_id), None,
            )
        if source is None and issue.timepoint is not None:
            source = next((path for (tp, _), path in self.origins.items()
                           if tp == issue.timepoint), None)
        message = issue.message
        if issue.related_timepoint is not None:
            message += f" (see {self.origins_of_timepoint(issue.related_timepoint)})"
        if lenient and issue.left_out:
            message += f": its {issue.left_out} measurement(s) are left out"
        elif lenient and issue.lenient_note:
            message += f": {issue.lenient_note}"
        column = f"Tracking Identifier {issue.lesion_id}" if issue.lesion_id else issue.field
        return Problem(source or str(self.folder), message, column=column)

    def origins_of_timepoint(self, timepoint: int) -> str:
        """The files of a time point's measurements, for messages."""
        files = sorted({path for (tp, _), path in self.origins.items() if tp == timepoint})
        return ", ".join(files) or f"timepoint {timepoint}"

    def for_classification(self, lenient: bool = False) -> Classifiable:
        """The record to classify and what to tell the user, under the one checker.

        Parameters
        ----------
        lenient
            Classify without the offending data (listing every problem) instead of refusing.

        Returns
        -------
        Classifiable
            The checked record; the problems left out of it (lenient mode) and the remarks
            (checker warnings), each naming its file.

        Raises
        ------
        InputError
            Strict mode: every read problem and checker error; either mode: nothing to
            classify (no measurement, no baseline).
        """
        if not self.record.assessments:
            raise InputError(self.read_problems + [Problem(
                str(self.folder), "no structured report with lesion measurements found")])
        checked = self.check()
        errors = checked.errors if lenient else checked.reportable_errors
        problems = list(self.read_problems) + [self.issue_problem(i, lenient) for i in errors]
        if (problems and not lenient) or checked.record is None:
            raise InputError(problems or [Problem(str(self.folder), "nothing to classify")])
        remarks = [self.issue_problem(issue, lenient) for issue in checked.warnings]
        return Classifiable(checked.record, problems, remarks)


@dataclass
class Classifiable:
    """A patient ready to classify (`OpenedPatient.for_classification`).

    Attributes
    ----------
    record
        The checked record.
    skipped
        Problems whose data were left out (lenient mode only; strict mode refuses).
    remarks
        Accepted but worth a look (a lesion counted as not evaluated...).
    """

    record: PatientRecord
    skipped: list[Problem] = field(default_factory=list)
    remarks: list[Problem] = field(default_factory=list)


def _origin_key(item: tuple[tuple[int, str], str]) -> tuple[int, str]:
    return item[0]


def open_patient(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    use_session: bool = True,
    read_lesions: bool = True,
    radius_as_diameter: bool = False,
    full_headers: bool = True,
) -> OpenedPatient:
    """Open one patient from a folder, several folders or several files, in one scan.

    Parameters
    ----------
    paths
        What the user gave: any nesting of CT series and TID 1500 SRs.
    use_session
        Take the autosaved session table of the patient folder, when present, instead of the
        SRs (the viewer's rule; also the command line's, so both give the same verdict).
    read_lesions
        Read the session table or the SRs; False finds the scans only (`write-sr`, which
        takes its lesions from a table).
    radius_as_diameter
        Read a circle's Radius as half its diameter (`napari_recist.io.sr_read.read_sr`).
    full_headers
        Keep every CT file's whole header, as loading the volumes needs (the viewer). False
        (classifying: the cohort batch) keeps of each file only what sorts it into its
        series and its image plane, converted only for the images SR lines are drawn on,
        and parses each SR once (`napari_recist.io.dicom_scan.scan_dicom_folder`); the
        record, problems and notes are the same.

    Returns
    -------
    OpenedPatient
        Scans, record, problems and notes.

    Raises
    ------
    InputError
        When a path is missing, nothing is DICOM, or the files hold several patients.
    """
    items = [Path(paths)] if isinstance(paths, str | os.PathLike) else [Path(p) for p in paths]
    if not items:
        raise InputError([Problem("(nothing given)", "no file or folder to open")])
    folder = items[0] if items[0].is_dir() else items[0].parent
    scan = scan_dicom_folder(items, full_headers=full_headers)
    where = os.fspath(items[0]) if len(items) == 1 else f"{len(items)} paths under {folder}"
    ids = {s.patient_id for s in scan.series} | {r.patient_id for r in scan.sr_files}
    patients = sorted(ids - {""}) or sorted(ids)
    if not patients:
        raise InputError([Problem(where, "no CT series and no structured report found")])
    if len(patients) > 1:
        raise InputError([Problem(where, "holds several patients "
                                  f"({', '.join(repr(p) for p in patients)}); give one "
                                  "patient's folder")])
    opened = OpenedPatient(folder=folder, patient_id=patients[0])
    if "" in ids and patients != [""]:
        unnamed = [*(str(s.files[0]) for s in scan.series if not s.patient_id),
                   *(str(r.path) for r in scan.sr_files if not r.patient_id)]
        opened.read_problems += [Problem(path, f"no Patient ID (0010,0020): taken as patient "
                                         f"{patients[0]!r}, the only one in the folder",
                                         column="PatientID") for path in unnamed]
    for note in scan.notes:
        if _may_be_lost_data(note):
            # It may have been the SR of a scan: its measurements would be missing.
            opened.read_problems.append(replace(note, message=note.message + " (if it held "
                                                "measurements, they are missing)"))
        elif "not a DICOM file" not in note.message:
            opened.notes.append(str(note))
    saved = _read_session(folder, opened) if use_session and read_lesions else None
    results = (_read_all(scan, radius_as_diameter) if read_lesions and saved is None else {})
    placed = {report.path: _place(report, results.get(report.path), scan, opened)
              for report in scan.sr_files}
    by_date = _scans_by_date(scan.series, scan.sr_files, placed, results, opened)
    if not read_lesions:
        stated: dict[dt.date, int] = {}
        measured: set[dt.date] = set()
    elif saved is not None:
        opened.record, opened.record_source = saved, RECORD_FROM_SESSION
        stated = {a.date: a.timepoint for a in saved.assessments}
        measured = set(stated)
    else:
        _read_reports(by_date, results, opened)
        stated = _stated_numbers(opened.sr_results)
        measured = {r.study_date for r in opened.sr_results if r.study_date and r.measurements}
    dates = sorted(set(by_date) | {a.date for a in opened.record.assessments})
    numbers = number_timepoints(dates, stated, measured)
    opened.record = renumber(opened.record, numbers)
    opened.origins = {(numbers[date], lesion): path for (date, lesion), path
                      in _origins_by_date(opened).items() if date in numbers}
    for date in dates:
        entry = by_date.get(date) or Scan(date)
        entry.timepoint = numbers[date]
        _choose_series(entry, opened.record.assessment(entry.timepoint), opened)
        opened.scans.append(entry)
    return opened


def _may_be_lost_data(note: Problem) -> bool:
    """A file left out by the scan that was meant to be DICOM: damaged, empty or ``*.dcm``."""
    if note.message.startswith(("unreadable", "damaged")):
        return True
    if not note.message.startswith("not a DICOM"):
        return False
    path = Path(note.source)
    try:
        empty = path.stat().st_size == 0
    except OSError:
        empty = False
    return empty or path.suffix.lower() in {".dcm", ".dicom"}


def _scans_by_date(
    series: Iterable[SeriesInfo],
    reports: Iterable[SRFileInfo],
    placed: Mapping[Path, dt.date | None],
    results: Mapping[Path, SRReadResult],
    opened: OpenedPatient,
) -> dict[dt.date, Scan]:
    by_date: dict[dt.date, Scan] = {}
    candidates: dict[dt.date, list[SeriesInfo]] = {}
    for info in series:
        if info.study_date is None:
            opened.notes.append(f"{info.files[0].parent}: {info.describe()} has no study date: "
                                "it cannot be placed in time and is left out")
            continue
        candidates.setdefault(info.study_date, []).append(info)
        by_date.setdefault(info.study_date, Scan(info.study_date))
    for date, infos in candidates.items():
        by_date[date].other_series = infos  # chosen among them once the SRs are read
    for report in reports:
        date = placed.get(report.path)
        result = results.get(report.path)
        if date is None and result is not None and not result.measurements:
            opened.read_problems.extend(result.problems)  # refused: its own reason says why
            continue
        if date is None:
            opened.read_problems.append(Problem(str(report.path), (
                "structured report without a study date, and no image of its study "
                f"({report.study_uid or 'no Study Instance UID'}) or that it references is in "
                "the folder: it cannot be placed in time and is left out (put the images it "
                "measures beside it)"
                + (f"; its {len(result.measurements)} lesion measurement(s) are not read"
                   if result is not None else "")), column="StudyDate"))
            continue
        by_date.setdefault(date, Scan(date)).sr_files.append(report)
    return by_date


def _read_all(scan: DicomScan, radius_as_diameter: bool) -> dict[Path, SRReadResult]:
    """Read every SR once, with the CT headers in hand."""
    # Images of other modalities only place coordinates; the CT headers win for a shared UID.
    images = ReferencedImages({**scan.other_images, **_image_headers(scan.series)})
    return {report.path: read_sr(report.path, images, radius_as_diameter=radius_as_diameter,
                                 document=report.document)
            for report in scan.sr_files}


def _place(
    report: SRFileInfo, result: SRReadResult | None, scan: DicomScan, opened: OpenedPatient
) -> dt.date | None:
    """The date of the study an SR belongs to: its Study Instance UID, else its images.

    An SR belongs to the study its Study Instance UID names (PS3.3 C.7.2.1: the SR is an
    instance of that study), whatever its own Study Date says: dwv writes the annotation
    date there (notes.md, "SR dialects"). Without images of that study, the images it
    references (evidence, coordinates) name the study; without those, its own Study Date.
    A disagreeing or missing Study Date is noted.
    """
    date = scan.study_dates.get(report.study_uid)
    how = f"its Study Instance UID {report.study_uid}"
    if date is None and result is not None:
        studies = {scan.image_studies[uid] for uid in result.referenced_sop_uids
                   if uid in scan.image_studies}
        dates = {scan.study_dates[study] for study in studies if study in scan.study_dates}
        if report.study_date is not None:
            # Its own study is not in the folder: the SR's Study Date is that study's date.
            if dates - {report.study_date}:
                opened.notes.append(f"{report.path}: its study {report.study_uid} is not in "
                                    f"the folder; placed on its Study Date {report.study_date}, "
                                    "although it references images of "
                                    f"{', '.join(str(d) for d in sorted(dates))}")
            return report.study_date
        if len(dates) == 1:
            date = dates.pop()
            how = f"the images it references (study {', '.join(sorted(studies))})"
        elif len(dates) > 1:
            opened.read_problems.append(Problem(str(report.path), (
                "has no Study Date and references images of several study dates "
                f"({', '.join(str(d) for d in sorted(dates))}): it cannot be placed in time"),
                column="StudyDate"))
    if date is None:
        return report.study_date
    if report.study_date is not None and report.study_date != date:
        opened.notes.append(f"{report.path}: its Study Date {report.study_date} is not the "
                            f"date of the study it belongs to ({how}), {date}: placed on {date}")
    elif report.study_date is None:
        opened.notes.append(f"{report.path}: no Study Date; placed on {date}, the date of the "
                            f"study it belongs to ({how})")
    return date


def _image_headers(series: Iterable[SeriesInfo]) -> dict[str, Any]:
    """SOP Instance UID -> header, from the scan's headers (no file is read)."""
    headers: dict[str, Any] = {}
    for info in series:
        for header in info.headers:
            uid = ascii_value(header, "SOPInstanceUID")
            if uid:
                headers.setdefault(uid, header)
    return headers


def _read_reports(
    by_date: Mapping[dt.date, Scan], results: Mapping[Path, SRReadResult],
    opened: OpenedPatient,
) -> None:
    """Merge the SRs read, each on its study's date, keeping the latest of each revision."""
    readable = []
    for date in sorted(by_date):
        for report in by_date[date].sr_files:
            result = results[report.path]
            opened.read_problems.extend(result.problems)
            opened.notes.extend(result.notes)
            result.study_date = date
            if result.measurements:
                readable.append(result)
            elif not result.problems:
                opened.notes.append(f"{report.path}: a structured report without lesion "
                                    "measurements (nothing is read from it)")
    resolution = resolve_revisions(readable)
    opened.notes.extend(resolution.notes)
    opened.read_problems.extend(resolution.problems)
    opened.sr_results = [result for result in resolution.results if result.measurements]
    if not opened.sr_results:
        opened.record = PatientRecord(opened.patient_id)
        return
    opened.record = _merge(opened.patient_id, opened.sr_results, opened.read_problems)
    opened.record_source = RECORD_FROM_SR


def _stated_numbers(results: Sequence[SRReadResult]) -> dict[dt.date, int]:
    """Time point numbers stated by the SRs (TID 1502), one per date where they agree."""
    stated: dict[dt.date, set[int]] = {}
    for result in results:
        if result.study_date is not None and result.timepoint is not None:
            stated.setdefault(result.study_date, set()).add(result.timepoint)
    return {date: next(iter(numbers)) for date, numbers in stated.items() if len(numbers) == 1}


def number_timepoints(
    dates: Sequence[dt.date],
    stated: Mapping[dt.date, int],
    measured: Iterable[dt.date] = (),
) -> dict[dt.date, int]:
    """Give every scan date its time point number (the module's numbering rule).

    Parameters
    ----------
    dates
        Every study date of the patient (CT, SR, session table).
    stated
        Numbers the sources state (SR time point context, session table).
    measured
        Dates with lesion measurements.

    Returns
    -------
    dict
        Date -> time point number.
    """
    dates = sorted(set(dates) | set(stated))
    if not dates:
        return {}
    numbers = [stated.get(date) for date in dates]
    if all(n is not None for n in numbers) and 0 in numbers and all(
        a < b for a, b in zip(numbers, numbers[1:], strict=False)  # type: ignore[operator]
    ):
        return dict(zip(dates, numbers, strict=True))  # type: ignore[arg-type]
    base = _baseline_index(dates, stated, sorted(measured))
    return {date: index - base for index, date in enumerate(dates)}


def _baseline_index(
    dates: Sequence[dt.date], stated: Mapping[dt.date, int], measured: Sequence[dt.date]
) -> int:
    zero = sorted(date for date, number in stated.items() if number == 0)
    if zero:
        return dates.index(zero[0])
    follow_ups = sorted((number, date) for date, number in stated.items() if number > 0)
    if follow_ups:
        # A follow-up that says "TP1" counts from the scan before it, even when that scan's
        # SR is missing or damaged: the baseline never moves to a later scan.
        # Without a scan there (index below 0) the stated numbers stand and the patient has
        # no baseline: refused, not re-based on a follow-up.
        number, date = follow_ups[0]
        return dates.index(date) - number
    return dates.index(measured[0]) if measured else 0


def renumber(record: PatientRecord, numbers: Mapping[dt.date, int]) -> PatientRecord:
    """Return the record with each assessment numbered by its date."""
    if all(numbers.get(a.date, a.timepoint) == a.timepoint for a in record.assessments):
        return record
    return replace(
        record,
        assessments=[replace(a, timepoint=numbers.get(a.date, a.timepoint))
                     for a in record.assessments],
    )


def _choose_series(scan: Scan, assessment: Assessment | None, opened: OpenedPatient) -> None:
    """One CT series per date: the one the lines reference, else the one with most slices."""
    candidates = sorted(scan.other_series, key=lambda info: -info.slice_count)
    if not candidates:
        return
    referenced = set()
    if assessment is not None:
        for measurement in assessment.measurements.values():
            for axis in (measurement.long_axis, measurement.short_axis):
                if axis is not None and axis.referenced_sop_uid:
                    referenced.add(axis.referenced_sop_uid)

    def hits(info: SeriesInfo) -> int:
        if not referenced:
            return 0
        uids = {ascii_value(header, "SOPInstanceUID") for header in info.headers}
        return len(referenced & uids)

    chosen = max(candidates, key=hits)  # ties keep the most slices (max takes the first)
    scan.series = chosen
    scan.other_series = [info for info in candidates if info is not chosen]
    for info in scan.other_series:
        opened.notes.append(f"{scan.date}: using {chosen.describe()}, not {info.describe()}")


def _origins_by_date(opened: OpenedPatient) -> dict[tuple[dt.date, str], str]:
    if opened.record_source == RECORD_FROM_SESSION:
        path = str(opened.folder / SESSION_FILE)
        return {(a.date, lesion): path for a in opened.record.assessments
                for lesion in a.measurements}
    origins: dict[tuple[dt.date, str], str] = {}
    for result in opened.sr_results:
        if result.study_date is None:
            continue
        for lesion in result.measurements:
            origins.setdefault((result.study_date, lesion), result.source)
    # Lesions renamed to the id of their tracking UID keep the file of that UID's SR.
    for assessment in opened.record.assessments:
        for lesion in assessment.measurements:
            origins.setdefault((assessment.date, lesion), str(opened.folder))
    return origins


def _merge(
    patient_id: str, results: Sequence[SRReadResult], problems: list[Problem]
) -> PatientRecord:
    """Combine per-file results into one record, assessments keyed by date for now."""
    lesions: dict[str, Lesion] = {}
    by_uid: dict[str, str] = {}  # tracking UID -> lesion id first seen with it
    assessments: dict[dt.date, Assessment] = {}
    measured_by: dict[tuple[dt.date, str], SRReadResult] = {}
    for result in results:
        if result.study_date is None:
            problems.append(Problem(result.source, "no study date: left out",
                                    column="StudyDate"))
            continue
        assessment = assessments.setdefault(
            result.study_date, Assessment(len(assessments), result.study_date)
        )
        for lesion_id, measurement in result.measurements.items():
            lesion = result.lesions[lesion_id]
            known_id = by_uid.get(lesion.tracking_uid or "")
            if known_id is not None and known_id != lesion_id:
                lesion = replace(lesion, lesion_id=known_id)
                measurement = replace(measurement, lesion_id=known_id)
            _add_lesion(lesions, lesion, result.source, problems)
            if lesion.tracking_uid:
                by_uid.setdefault(lesion.tracking_uid, lesion.lesion_id)
            _add_measurement(assessment, measurement, result, measured_by, problems)
    return PatientRecord(patient_id, lesions, list(assessments.values()))


def _add_lesion(lesions: dict[str, Lesion], lesion: Lesion, source: str,
                problems: list[Problem]) -> None:
    known = lesions.get(lesion.lesion_id)
    if known is None:
        lesions[lesion.lesion_id] = lesion
        return
    for attribute in ("role", "site", "nodal"):
        if getattr(known, attribute) != getattr(lesion, attribute):
            problems.append(Problem(source, f"lesion {lesion.lesion_id} has {attribute} "
                                    f"{getattr(lesion, attribute)} here but "
                                    f"{getattr(known, attribute)} in an earlier SR; the "
                                    "earlier is kept", column=f"Tracking Identifier "
                                    f"{lesion.lesion_id}"))


def _add_measurement(
    assessment: Assessment,
    measurement: Measurement,
    result: SRReadResult,
    measured_by: dict[tuple[dt.date, str], SRReadResult],
    problems: list[Problem],
) -> None:
    """Add a measurement; one lesion measured in two studies of one date is a problem.

    Revisions within one study were resolved before (`io.sr_revisions`); two studies of one
    date (e.g. chest and abdomen CT) that both measure a lesion leave no rule to choose one:
    the problem names both files; under --lenient the later SR (revision order, never the
    file name) is used, and neither when their order cannot be known.
    """
    key = (assessment.date, measurement.lesion_id)
    first = measured_by.get(key)
    if first is None:
        measured_by[key] = result
        assessment.measurements[measurement.lesion_id] = measurement
        return
    order = later_of(result, first)
    if order > 0:
        assessment.measurements[measurement.lesion_id] = measurement
        measured_by[key] = result
        lenient = f"with --lenient the later, {result.source}, is used"
    elif order < 0:
        lenient = f"with --lenient the later, {first.source}, is used"
    else:
        assessment.measurements.pop(measurement.lesion_id, None)
        lenient = "neither SR says it is the later: the lesion is left out of this scan"
    problems.append(Problem(result.source, (
        f"lesion {measurement.lesion_id} is measured on {assessment.date} in two studies "
        f"({first.source}, study {first.study_uid or '?'}; this file, study "
        f"{result.study_uid or '?'}): only one measurement per scan can count ({lenient})"),
        column=f"Tracking Identifier {measurement.lesion_id}"))


def _read_session(folder: Path, opened: OpenedPatient) -> PatientRecord | None:
    """The autosaved session table of the patient folder, if there is one.

    The session keeps work in progress exactly as the reader left it: only what a table
    cannot hold (unreadable cells) is refused; the record rules are checked when the record
    is classified, as for every source. A file with unreadable rows is kept beside it as it
    was, in a new time-stamped file (`io.session_file.keep_rejected`), before any new
    autosave replaces it; temporary files of interrupted saves are removed.
    """
    from napari_recist.io.table import read_table

    path = folder / SESSION_FILE
    for removed in remove_stale_temporaries(folder):
        opened.notes.append(f"removed {removed.name}, left by an interrupted save")
    if not path.is_file():
        return None
    try:
        result = read_table(path, check_records=False)
    except InputError as strict:
        try:
            kept = keep_rejected(folder, path.read_bytes())
            opened.notes.append(f"the saved session {path} has rows that cannot be restored; "
                                f"the file as it was is kept as {kept.name}:")
        except OSError as error:
            opened.notes.append(f"the saved session {path} has rows that cannot be restored "
                                f"(and no copy could be kept: {error.strerror or error}):")
        opened.notes += [str(problem) for problem in strict.problems]
        try:
            result = read_table(path, lenient=True, check_records=False)
        except InputError:
            return None
    if not result.records:
        return None
    record = result.records[0]
    try:
        for assessment in record.assessments:
            assessment.measurements = {
                lesion_id: geometry_from_extra(measurement, os.fspath(path))
                for lesion_id, measurement in assessment.measurements.items()
            }
    except InputError as error:
        opened.notes += [str(problem) for problem in error.problems]
        return None
    opened.notes.append(f"restored the session saved in {path}")
    return record
