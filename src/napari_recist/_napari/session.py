"""The viewer's controller: owns a patient's record, edits it, classifies it, saves it.

Layers and widgets are views of the `PatientRecord`; every change goes through one
`PatientSession` method, which snapshots the record for undo, re-classifies the patient with
the criteria module (the viewer never computes a verdict itself), autosaves the lesion table
atomically next to the data and emits `PatientSession.changed`.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from psygnal import Signal

from napari_recist.criteria.settings import Criteria
from napari_recist.errors import InputError, Problem
from napari_recist.io.display_geometry import DisplayGeometry
from napari_recist.model import (
    Assessment,
    AxisGeometry,
    Lesion,
    LesionState,
    Measurement,
    PatientRecord,
    Role,
    natural_key,
)

SESSION_FILE = "napari-recist.session.csv"
REJECTED_SESSION_FILE = "napari-recist.session.rejected.csv"
UNDO_DEPTH = 100

# Extra lesion-table columns that keep where each axis was drawn, so that reopening a
# session restores the lines: "x y z; x y z" in LPS mm, and the image each was drawn on.
AXIS_COLUMNS: dict[str, tuple[str, str]] = {
    "long": ("long_axis_lps", "long_axis_sop_uid"),
    "short": ("short_axis_lps", "short_axis_sop_uid"),
}
FRAME_COLUMN = "frame_of_reference_uid"


@dataclass
class TimepointView:
    """One scan date as the viewer shows it.

    Parameters
    ----------
    timepoint
        Time point number of the model (0 = baseline).
    date
        Scan date.
    geometry
        Display geometry of its CT, or patient space when there is no image.
    has_image
        True when a CT series is shown for it.
    slice_uids
        SOP Instance UIDs of the displayed slices, in displayed order.
    frame_of_reference_uid
        Frame of reference of its CT.
    series_files
        The CT files, for the SR export's image references.
    """

    timepoint: int
    date: dt.date
    geometry: DisplayGeometry
    has_image: bool = False
    slice_uids: list[str] = field(default_factory=list)
    frame_of_reference_uid: str | None = None
    series_files: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Layer name suffix: the date, then the model's label (e.g. ``2024-01-10 TP1``)."""
        label = Assessment(self.timepoint, self.date).label
        return f"{self.date.isoformat()} {label}"


def encode_points(geometry: AxisGeometry) -> str:
    """Write an axis's points as ``"x y z; x y z"`` (LPS mm) for the lesion table."""
    return "; ".join(" ".join(f"{value:.3f}" for value in point) for point in geometry.points)


def decode_points(text: str) -> tuple[tuple[float, float, float], ...]:
    """Read points written by `encode_points`.

    Raises
    ------
    ValueError
        When the text is not a list of 3D points.
    """
    points = []
    for chunk in text.split(";"):
        values = [float(value) for value in chunk.split()]
        if len(values) != 3:
            raise ValueError(f"expected 3 coordinates per point, got {chunk.strip()!r}")
        points.append((values[0], values[1], values[2]))
    if len(points) < 2:
        raise ValueError("an axis needs at least 2 points")
    return tuple(points)


def geometry_to_extra(measurement: Measurement) -> Measurement:
    """Return the measurement with its axis end points copied into table columns."""
    extra = dict(measurement.extra)
    frame = None
    for axis, geometry in (("long", measurement.long_axis), ("short", measurement.short_axis)):
        points_column, uid_column = AXIS_COLUMNS[axis]
        extra.pop(points_column, None)
        extra.pop(uid_column, None)
        if geometry is not None:
            extra[points_column] = encode_points(geometry)
            if geometry.referenced_sop_uid:
                extra[uid_column] = geometry.referenced_sop_uid
            frame = frame or geometry.frame_of_reference_uid
    extra.pop(FRAME_COLUMN, None)
    if frame:
        extra[FRAME_COLUMN] = frame
    return replace(measurement, extra=extra)


def geometry_from_extra(measurement: Measurement, source: str) -> Measurement:
    """Return the measurement with axes rebuilt from the table columns of `geometry_to_extra`.

    Raises
    ------
    InputError
        When a column holds something that is not a list of points.
    """
    axes: dict[str, AxisGeometry | None] = {
        "long": measurement.long_axis,
        "short": measurement.short_axis,
    }
    frame = measurement.extra.get(FRAME_COLUMN) or None
    for axis, (points_column, uid_column) in AXIS_COLUMNS.items():
        text = measurement.extra.get(points_column, "").strip()
        if not text or axes[axis] is not None:
            continue
        try:
            points = decode_points(text)
        except ValueError as error:
            raise InputError([f"{source}, lesion {measurement.lesion_id}, {points_column}: "
                              f"{error}"]) from error
        axes[axis] = AxisGeometry(
            points=points,
            referenced_sop_uid=measurement.extra.get(uid_column) or None,
            frame_of_reference_uid=frame,
        )
    return replace(measurement, long_axis=axes["long"], short_axis=axes["short"])


class PatientSession:
    """A patient open in the viewer: the record, its classification and its autosave.

    Parameters
    ----------
    record
        The patient's lesions and assessments (the session owns it from now on).
    timepoints
        The scan dates shown, with their display geometry.
    folder
        Patient folder: the session table is autosaved there. None disables autosave.
    criteria
        Thresholds for the classification.
    """

    changed = Signal()
    save_failed = Signal(str)

    def __init__(
        self,
        record: PatientRecord,
        timepoints: Sequence[TimepointView],
        folder: Path | None = None,
        criteria: Criteria | None = None,
    ) -> None:
        self.record = record
        self.timepoints = sorted(timepoints, key=lambda view: view.timepoint)
        self.folder = folder
        self.criteria = criteria if criteria is not None else Criteria()
        self.result: dict[str, Any] | None = None
        self.classification_error: str | None = None
        self.classification_warnings: list[str] = []
        self.last_save_error: str | None = None
        self.saved = False  # True once an edit has been autosaved
        self._undo: list[PatientRecord] = []
        # Viewers whose layers follow this session (see binding.bind_session).
        self.bound_viewers: set[int] = set()
        # The worker reading big volumes in the background, while it runs.
        self.loader: Any = None
        self.classify()

    # -- reading ---------------------------------------------------------------------------
    @property
    def session_path(self) -> Path | None:
        """Where the lesion table is autosaved, or None."""
        return None if self.folder is None else self.folder / SESSION_FILE

    def view(self, timepoint: int) -> TimepointView | None:
        """Return the view of a time point, or None."""
        for view in self.timepoints:
            if view.timepoint == timepoint:
                return view
        return None

    def lesion_ids(self) -> list[str]:
        """Every lesion id, in natural order (L2 before L10)."""
        return sorted(self.record.lesions, key=natural_key)

    def timepoint_result(self, timepoint: int) -> dict[str, Any] | None:
        """Return the classification of one time point (JSON contract), or None."""
        if self.result is None:
            return None
        for entry in self.result.get("timepoints", []):
            if entry.get("timepoint") == timepoint:
                return entry
        return None

    def lesion_responses(self, timepoint: int) -> dict[str, str]:
        """Lesion id -> lesion-level response at a time point, as classified."""
        entry = self.timepoint_result(timepoint)
        return dict(entry.get("lesions", {})) if entry else {}

    def measurement(self, timepoint: int, lesion_id: str) -> Measurement | None:
        """Return a lesion's measurement at a time point, or None."""
        assessment = self.record.assessment(timepoint)
        return None if assessment is None else assessment.measurements.get(lesion_id)

    # -- editing ---------------------------------------------------------------------------
    def new_lesion(self, role: Role, site: str, nodal: bool = False) -> str:
        """Create a lesion and return its id (``L1``, ``L2``, ...: the first unused)."""
        number = 1
        while f"L{number}" in self.record.lesions:
            number += 1
        lesion_id = f"L{number}"
        self._snapshot()
        self.record.lesions[lesion_id] = Lesion(lesion_id, role, site.strip() or "other", nodal)
        self._after_edit()
        return lesion_id

    def set_lesion(
        self,
        lesion_id: str,
        role: Role | None = None,
        site: str | None = None,
        nodal: bool | None = None,
    ) -> None:
        """Change a lesion's role, site or nodal flag (None leaves a field as it is)."""
        lesion = self._lesion(lesion_id)
        changes: dict[str, Any] = {}
        if role is not None:
            changes["role"] = role
        if site is not None:
            changes["site"] = site.strip() or lesion.site
        if nodal is not None:
            changes["nodal"] = nodal
        self._snapshot()
        self.record.lesions[lesion_id] = replace(lesion, **changes)
        self._after_edit()

    def set_axis(
        self, timepoint: int, lesion_id: str, axis: str, geometry: AxisGeometry, length_mm: float
    ) -> None:
        """Record a drawn axis of a lesion at a time point (the lesion becomes measured).

        Parameters
        ----------
        timepoint
            The scan the line was drawn on.
        lesion_id
            An existing lesion.
        axis
            ``"long"`` or ``"short"``.
        geometry
            End points in LPS.
        length_mm
            Its length in millimetres.
        """
        if axis not in AXIS_COLUMNS:
            raise ValueError(f"axis must be 'long' or 'short', not {axis!r}")
        self._lesion(lesion_id)
        self._snapshot()
        assessment = self._assessment(timepoint)
        current = assessment.measurements.get(lesion_id) or Measurement(
            lesion_id, LesionState.MEASURED
        )
        if axis == "long":
            updated = replace(current, long_axis=geometry, long_axis_mm=round(length_mm, 1))
        else:
            updated = replace(current, short_axis=geometry, short_axis_mm=round(length_mm, 1))
        assessment.measurements[lesion_id] = replace(updated, state=LesionState.MEASURED)
        self._after_edit()

    def set_state(self, timepoint: int, lesion_id: str, state: LesionState) -> None:
        """Record what was seen of a lesion without a size (absent, present, too small...)."""
        self._lesion(lesion_id)
        self._snapshot()
        assessment = self._assessment(timepoint)
        current = assessment.measurements.get(lesion_id)
        if state is LesionState.MEASURED:
            if current is None or (current.long_axis_mm is None and current.short_axis_mm is None):
                self._undo.pop()
                raise ValueError("draw an axis to make a lesion measured")
            assessment.measurements[lesion_id] = replace(current, state=state)
        else:
            extra = dict(current.extra) if current else {}
            assessment.measurements[lesion_id] = Measurement(lesion_id, state, extra=extra)
        self._after_edit()

    def link(self, timepoint: int, from_lesion: str, to_lesion: str) -> None:
        """Move a measurement at a time point from one lesion to another (re-link).

        The target lesion's own measurement at that time point, if any, is replaced; a
        lesion left with no measurement at all is removed.
        """
        self._lesion(to_lesion)
        assessment = self.record.assessment(timepoint)
        if assessment is None or from_lesion not in assessment.measurements:
            raise ValueError(f"{from_lesion} has no measurement at this time point")
        if from_lesion == to_lesion:
            return
        self._snapshot()
        measurement = assessment.measurements.pop(from_lesion)
        assessment.measurements[to_lesion] = replace(measurement, lesion_id=to_lesion)
        if self.record.first_seen(from_lesion) is None:
            self.record.lesions.pop(from_lesion, None)
        self._drop_empty_assessments()
        self._after_edit()

    def delete_lesion(self, lesion_id: str) -> None:
        """Delete a lesion and all its measurements (undo brings them back)."""
        self._lesion(lesion_id)
        self._snapshot()
        del self.record.lesions[lesion_id]
        for assessment in self.record.assessments:
            assessment.measurements.pop(lesion_id, None)
        self._drop_empty_assessments()
        self._after_edit()

    def delete_measurement(self, timepoint: int, lesion_id: str) -> None:
        """Delete one lesion's measurement at one time point (undo brings it back)."""
        assessment = self.record.assessment(timepoint)
        if assessment is None or lesion_id not in assessment.measurements:
            raise ValueError(f"{lesion_id} has no measurement at this time point")
        self._snapshot()
        del assessment.measurements[lesion_id]
        self._drop_empty_assessments()
        self._after_edit()

    @property
    def can_undo(self) -> bool:
        """True when there is an edit to undo."""
        return bool(self._undo)

    def undo(self) -> bool:
        """Undo the last edit; return False when there was none."""
        if not self._undo:
            return False
        self.record = self._undo.pop()
        self._after_edit()
        return True

    # -- classification and saving ---------------------------------------------------------
    def classify(self) -> None:
        """Re-classify the patient and keep the JSON, or why it cannot be classified.

        The record first goes through the lesion table's checks (`io.table.rows_to_records`,
        the rules the command line applies), so that the viewer classifies exactly what
        `napari-recist classify` would accept, and work in progress that breaks a rule (a
        target first drawn on a follow-up, say) is explained rather than classified.
        """
        from napari_recist.criteria.report import classify_patient
        from napari_recist.io.table import records_to_rows, rows_to_records

        self.classification_warnings = []
        if not self.record.assessments or self.record.baseline is None:
            self.result = None
            self.classification_error = "no baseline assessment yet: measure the baseline scan"
            return
        rows = records_to_rows([self.record])
        try:
            checked = rows_to_records(rows, source="lesions in the viewer")
        except InputError as error:
            self.result = None
            self.classification_error = "; ".join(
                _describe_row_problem(problem, rows) for problem in error.problems
            )
            return
        self.classification_warnings = [
            _describe_row_problem(problem, rows) for problem in checked.warnings
        ]
        try:
            self.result = classify_patient(checked.records[0], self.criteria).to_json()
            self.classification_error = None
        except (InputError, ValueError) as error:
            self.result = None
            self.classification_error = str(error)

    def table_record(self) -> PatientRecord:
        """Return a copy of the record with each axis's end points in table columns."""
        record = copy.deepcopy(self.record)
        for assessment in record.assessments:
            assessment.measurements = {
                lesion_id: geometry_to_extra(measurement)
                for lesion_id, measurement in assessment.measurements.items()
            }
        return record

    def export_csv(self, path: Path) -> Path:
        """Write the lesion table (with axis end points) to a CSV file, atomically."""
        from napari_recist.io.table import write_table

        write_table([self.table_record()], Path(path))
        return Path(path)

    def save(self) -> bool:
        """Autosave the session table to the patient folder; False (and a signal) on failure."""
        path = self.session_path
        if path is None:
            return False
        try:
            self.export_csv(path)
        except OSError as error:
            self.last_save_error = f"cannot autosave {path}: {error.strerror or error}"
            self.save_failed.emit(self.last_save_error)
            return False
        self.last_save_error = None
        self.saved = True
        return True

    # -- internals -------------------------------------------------------------------------
    def _lesion(self, lesion_id: str) -> Lesion:
        try:
            return self.record.lesions[lesion_id]
        except KeyError:
            raise ValueError(f"no lesion {lesion_id!r}") from None

    def _assessment(self, timepoint: int) -> Assessment:
        assessment = self.record.assessment(timepoint)
        if assessment is None:
            view = self.view(timepoint)
            if view is None:
                raise ValueError(f"no time point {timepoint}")
            assessment = Assessment(timepoint, view.date)
            self.record.assessments.append(assessment)
            self.record.assessments.sort(key=lambda a: a.timepoint)
        return assessment

    def _drop_empty_assessments(self) -> None:
        self.record.assessments = [a for a in self.record.assessments if a.measurements]

    def _snapshot(self) -> None:
        self._undo.append(copy.deepcopy(self.record))
        del self._undo[:-UNDO_DEPTH]

    def _after_edit(self) -> None:
        self.classify()
        self.save()
        self.changed.emit()


def _describe_row_problem(problem: Problem | str, rows: Sequence[Mapping[str, str]]) -> str:
    """Name a problem of the viewer's lesions by lesion and time point, not by table row."""
    if not isinstance(problem, Problem):
        return str(problem)
    where = ""
    if problem.row is not None and 0 <= problem.row - 2 < len(rows):
        row = rows[problem.row - 2]
        where = f"{row.get('lesion_id', '?')} at time point {row.get('timepoint', '?')}"
    column = f" ({problem.column})" if problem.column else ""
    return f"{where}{column}: {problem.message}" if where else f"{problem.message}{column}"


def number_timepoints(
    dates: Sequence[dt.date], record: PatientRecord
) -> dict[dt.date, int]:
    """Give each scan date a time point number consistent with the record.

    Dates the record already has keep its numbers. Without a record, the first date is the
    baseline. Other dates before the baseline count down (-1, -2, ...) and dates after it
    follow the last known follow-up in date order.

    Parameters
    ----------
    dates
        Scan dates of the patient folder.
    record
        Lesion record (from SRs or the session table), possibly empty.

    Returns
    -------
    dict
        Date -> time point number.
    """
    numbers = {a.date: a.timepoint for a in record.assessments}
    baseline = record.baseline.date if record.baseline is not None else None
    unknown = sorted(set(dates) - set(numbers))
    if baseline is None and not numbers and unknown:
        baseline = unknown[0]
        numbers[baseline] = 0
        unknown = unknown[1:]
    used = set(numbers.values())
    for date in unknown:
        if baseline is not None and date < baseline:
            number = -1
            while number in used:
                number -= 1
        else:
            earlier = [n for d, n in numbers.items() if d < date]
            number = max(earlier, default=0) + 1
            while number in used:
                number += 1
        numbers[date] = number
        used.add(number)
    return numbers


def session_from_folder_table(folder: Path, messages: list[str]) -> PatientRecord | None:
    """Read the autosaved session table of a patient folder, if there is one.

    The autosave keeps work in progress, which the lesion table reader may refuse (a target
    drawn on a follow-up before its baseline, for instance). Then the rows it accepts are
    restored, the others are listed in `messages`, and the file as it was is kept beside it
    (`REJECTED_SESSION_FILE`) before any new autosave replaces it.

    Parameters
    ----------
    folder
        The patient folder.
    messages
        Receives what the user should be told.

    Returns
    -------
    PatientRecord or None
        The saved record with axis end points restored; None without a usable session file.
    """
    from napari_recist.io.table import read_table

    path = folder / SESSION_FILE
    if not path.is_file():
        return None
    try:
        result = read_table(path)
    except InputError as strict:
        kept = folder / REJECTED_SESSION_FILE
        shutil.copy2(path, kept)
        messages.append(f"the saved session {path} has rows that cannot be restored; the file "
                        f"as it was is kept as {kept.name}:")
        messages += [str(problem) for problem in strict.problems]
        try:
            result = read_table(path, lenient=True)
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
        messages += [str(problem) for problem in error.problems]
        return None
    messages.append(f"restored the session saved in {path}")
    return record
