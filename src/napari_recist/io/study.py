"""A patient folder -> time points (by study date) -> CT series and SR documents -> a record.

`load_patient` sorts what `napari_recist.io.dicom_scan.scan_dicom_folder` finds into time points;
`read_patient_record` reads every SR of the patient (`napari_recist.io.sr.read_sr`) and
builds one `PatientRecord`, with every problem located by file and content item;
`load_patient_record` is its strict form for callers that classify.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import ChainMap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from napari_recist.errors import InputError, Problem
from napari_recist.io.dicom_scan import SeriesInfo, SRFileInfo, scan_dicom_folder
from napari_recist.io.sr import SRReadResult, read_sr
from napari_recist.model import Assessment, Lesion, Measurement, PatientRecord


@dataclass
class StudyTimepoint:
    """One scan date of a patient: its CT series and SR documents.

    Attributes
    ----------
    date
        Study date.
    series
        CT series acquired that day.
    sr_files
        Structured reports of that day's studies.
    """

    date: dt.date
    series: list[SeriesInfo] = field(default_factory=list)
    sr_files: list[SRFileInfo] = field(default_factory=list)

    def image_files(self) -> list[Path]:
        """Every CT image file of the time point."""
        return [path for info in self.series for path in info.files]


@dataclass
class PatientStudy:
    """What a patient folder holds, by time point.

    Attributes
    ----------
    root
        The folder.
    patient_id
        Patient ID of the files.
    timepoints
        Ordered by study date.
    notes
        Files left out and why (not DICOM, other modalities, series without a date).
    problems
        Structured reports that had to be left out (no study date).
    """

    root: Path
    patient_id: str
    timepoints: list[StudyTimepoint] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def timepoint_on(self, date: dt.date) -> StudyTimepoint | None:
        """Return the time point of a study date, or None."""
        return next((tp for tp in self.timepoints if tp.date == date), None)


@dataclass
class PatientRecordResult:
    """A patient record read from SRs, and what could not be read.

    Attributes
    ----------
    record
        Lesions and assessments from every SR that could be read.
    problems
        Errors, each naming the file and content item; the rest was kept.
    notes
        Assumptions made (a role an SR does not state ...).
    sr_results
        The SR files read, in date order.
    """

    record: PatientRecord
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sr_results: list[SRReadResult] = field(default_factory=list)


def load_patient(folder: str | os.PathLike[str]) -> PatientStudy:
    """Sort a patient folder (any nesting) into time points by study date.

    Parameters
    ----------
    folder
        The patient's folder.

    Returns
    -------
    PatientStudy
        Time points ordered by date, each with its CT series and SR files.

    Raises
    ------
    InputError
        The folder is missing, holds no CT and no SR, or holds several patients.
    """
    root = Path(folder)
    scan = scan_dicom_folder(root)
    notes = list(scan.notes)
    problems: list[Problem] = []
    patients = sorted({s.patient_id for s in scan.series} | {r.patient_id for r in scan.sr_files})
    if not patients:
        raise InputError([Problem(str(root), "no CT series and no structured report found")])
    if len(patients) > 1:
        raise InputError([Problem(str(root), "holds several patients "
                                  f"({', '.join(repr(p) for p in patients)}); give one "
                                  "patient's folder")])
    by_date: dict[dt.date, StudyTimepoint] = {}
    for info in scan.series:
        if info.study_date is None:
            notes.append(Problem(str(info.files[0].parent), f"{info.describe()} has no study "
                                 "date: it cannot be placed in time and is left out"))
            continue
        by_date.setdefault(info.study_date, StudyTimepoint(info.study_date)).series.append(info)
    for report in scan.sr_files:
        if report.study_date is None:
            problems.append(Problem(str(report.path), "structured report without a study date: "
                                 "it cannot be placed in time and is left out",
                                 column="StudyDate"))
            continue
        by_date.setdefault(report.study_date, StudyTimepoint(report.study_date)).sr_files.append(
            report)
    timepoints = [by_date[date] for date in sorted(by_date)]
    return PatientStudy(root=root, patient_id=patients[0], timepoints=timepoints, notes=notes,
                        problems=problems)


class _ImageHeaders(Mapping[str, Dataset]):
    """SOP Instance UID -> header of the CT images of a time point, read on first use."""

    def __init__(self, files: Sequence[Path]) -> None:
        self._files = files
        self._headers: dict[str, Dataset] | None = None

    def _load(self) -> dict[str, Dataset]:
        if self._headers is None:
            self._headers = {}
            for path in self._files:
                try:
                    ds = pydicom.dcmread(path, stop_before_pixels=True)
                except (InvalidDicomError, OSError):
                    continue  # already reported by the folder scan
                self._headers[str(ds.SOPInstanceUID)] = ds
        return self._headers

    def __getitem__(self, key: str) -> Dataset:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


def read_patient_record(folder: str | os.PathLike[str]) -> PatientRecordResult:
    """Read every SR of a patient folder into one patient record.

    Time points: when every SR states its time point (TID 1502, as the SRs this project
    writes do) and the stated numbers increase with the date, they are used. Otherwise the
    baseline is the earliest date whose SR states "baseline", or else the earliest date;
    later dates are numbered 1, 2 ... and earlier ones -1, -2 ... (pre-baseline only when an
    SR's baseline statement puts them before it).

    Parameters
    ----------
    folder
        The patient's folder (any nesting).

    Returns
    -------
    PatientRecordResult
        The record plus problems (file and content item) and notes.

    Raises
    ------
    InputError
        When the folder holds no readable SR at all (see `load_patient` for the others).
    """
    study = load_patient(folder)
    problems = list(study.problems)
    notes = [str(note) for note in study.notes]
    results: list[SRReadResult] = []
    headers = {tp.date: _ImageHeaders(tp.image_files()) for tp in study.timepoints}
    for timepoint in study.timepoints:
        # Lines are looked up on the SR's own scan first, then on the other scans (OHIF can
        # measure a prior study from a follow-up's report); headers are read only if needed.
        images = ChainMap(headers[timepoint.date],
                          *(h for date, h in headers.items() if date != timepoint.date))
        for report in timepoint.sr_files:
            result = read_sr(report.path, images)
            problems.extend(result.problems)
            notes.extend(result.notes)
            if result.measurements:
                results.append(result)
    if not results:
        raise InputError(problems + [Problem(str(study.root), "no structured report with "
                                             "lesion measurements found")])
    numbers = _timepoint_numbers(results)
    record = _merge(study.patient_id, results, numbers, problems)
    return PatientRecordResult(record=record, problems=problems, notes=notes, sr_results=results)


def load_patient_record(folder: str | os.PathLike[str], *, lenient: bool = False) -> PatientRecord:
    """Read a patient folder's SRs into a record, refusing any problem unless lenient.

    Parameters
    ----------
    folder
        The patient's folder.
    lenient
        Keep what could be read and ignore the problems (see `read_patient_record` to
        list them).

    Returns
    -------
    PatientRecord
        Lesions and assessments of the patient.

    Raises
    ------
    InputError
        Every problem found, each naming its file and content item (strict mode).
    """
    result = read_patient_record(folder)
    if result.problems and not lenient:
        raise InputError(result.problems)
    return result.record


def _timepoint_numbers(results: Sequence[SRReadResult]) -> dict[dt.date, int]:
    """Number the study dates of the SRs (see `read_patient_record`)."""
    dates = sorted({r.study_date for r in results if r.study_date is not None})
    stated: dict[dt.date, set[int]] = {}
    for result in results:
        if result.study_date is not None and result.timepoint is not None:
            stated.setdefault(result.study_date, set()).add(result.timepoint)
    if all(len(stated.get(date, ())) == 1 for date in dates):
        numbers = [next(iter(stated[date])) for date in dates]
        if all(a < b for a, b in zip(numbers, numbers[1:], strict=False)) and 0 in numbers:
            return dict(zip(dates, numbers, strict=True))
    baseline_dates = [date for date in dates if 0 in stated.get(date, ())]
    baseline = baseline_dates[0] if baseline_dates else dates[0]
    base_index = dates.index(baseline)
    return {date: index - base_index for index, date in enumerate(dates)}


def _merge(
    patient_id: str,
    results: Sequence[SRReadResult],
    numbers: Mapping[dt.date, int],
    problems: list[Problem],
) -> PatientRecord:
    """Combine per-file results into one record; conflicts become problems."""
    lesions: dict[str, Lesion] = {}
    by_uid: dict[str, str] = {}  # tracking UID -> lesion id first seen with it
    assessments: dict[int, Assessment] = {}
    for result in results:
        if result.study_date is None:
            problems.append(Problem(result.source, "no study date: left out",
                                    column="StudyDate"))
            continue
        number = numbers[result.study_date]
        assessment = assessments.setdefault(number, Assessment(number, result.study_date))
        for lesion_id, measurement in result.measurements.items():
            lesion = result.lesions[lesion_id]
            known_id = by_uid.get(lesion.tracking_uid or "")
            if known_id is not None and known_id != lesion_id:
                lesion = replace(lesion, lesion_id=known_id)
                measurement = replace(measurement, lesion_id=known_id)
            _add_lesion(lesions, lesion, result.source, problems)
            if lesion.tracking_uid:
                by_uid.setdefault(lesion.tracking_uid, lesion.lesion_id)
            _add_measurement(assessment, measurement, result.source, problems)
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


def _add_measurement(assessment: Assessment, measurement: Measurement, source: str,
                     problems: list[Problem]) -> None:
    if measurement.lesion_id in assessment.measurements:
        problems.append(Problem(source, f"lesion {measurement.lesion_id} is measured twice on "
                                f"{assessment.date}; the first SR's measurement is kept",
                                column=f"Tracking Identifier {measurement.lesion_id}"))
        return
    assessment.measurements[measurement.lesion_id] = measurement
