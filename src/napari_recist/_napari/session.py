"""The viewer's controller: owns a patient's record, edits it, classifies it, saves it.

Layers and widgets are views of the `PatientRecord`; every change goes through one
`PatientSession` method, which snapshots the record for undo, re-classifies the patient with
the criteria module (the viewer never computes a verdict itself), autosaves the lesion table
atomically next to the data and emits `PatientSession.changed`.
"""

from __future__ import annotations

import atexit
import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from psygnal import Signal

from napari_recist.checks import RecordIssue, Severity
from napari_recist.criteria.settings import Criteria
from napari_recist.errors import InputError
from napari_recist.io.axis_columns import AXIS_COLUMNS, geometry_to_extra
from napari_recist.io.display_geometry import DisplayGeometry
from napari_recist.io.session_file import SESSION_FILE, FileState, SessionLock, conflict_path
from napari_recist.model import (
    Assessment,
    AxisGeometry,
    Lesion,
    LesionState,
    Measurement,
    MeasurementMethod,
    PatientRecord,
    Role,
    natural_key,
)

UNDO_DEPTH = 100

_SEMI_AUTOMATIC = {MeasurementMethod.SEMI_AUTOMATIC.value,
                   MeasurementMethod.SEMI_AUTOMATIC_ADJUSTED.value}


def _method_after_drawing(current: Measurement, before: AxisGeometry | None,
                          after: AxisGeometry) -> MeasurementMethod | None:
    """The method of a measurement once the reader has drawn or moved one of its lines.

    None keeps the row's method: the line did not move (napari reports a click on a line as
    a change), or the row came from a file that gives no method and the line is unchanged.
    """
    if before is not None and len(before.points) == len(after.points) and all(
            abs(a - b) < 1e-3 for p, q in zip(before.points, after.points, strict=True)
            for a, b in zip(p, q, strict=True)):
        return None
    if current.extra.get("method", "").strip().lower() in _SEMI_AUTOMATIC:
        return MeasurementMethod.SEMI_AUTOMATIC_ADJUSTED
    return MeasurementMethod.MANUAL


# shared/spec/lesion-table.md, column `nodal`: "defaults to true when site is `lymph node`"
# (RECIST 1.1 section 3.1: lymph nodes are measured by their short axis).
NODAL_SITE = "lymph node"


def nodal_for_site(site: str, nodal: bool | None) -> bool:
    """The nodal flag of a lesion at a site: as given, else true for a lymph node."""
    if nodal is not None:
        return nodal
    return site.strip().lower() == NODAL_SITE


class WouldReplaceError(ValueError):
    """An edit would replace a lesion's measurement at a scan: ask before replacing it.

    Attributes
    ----------
    timepoint, lesion_id
        The measurement that would be replaced.
    """

    def __init__(self, timepoint: int, lesion_id: str, what: str) -> None:
        super().__init__(what)
        self.timepoint = timepoint
        self.lesion_id = lesion_id


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
    # The lesion the reader works on now (the guided read's N, a new lesion drawn): the docks
    # showing lesions select it too, so no form shows another lesion's values.
    lesion_focused = Signal(str)

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
        self._redo: list[PatientRecord] = []
        # Viewers whose layers follow this session (see binding.bind_session).
        self.bound_viewers: set[int] = set()
        # The worker reading big volumes in the background, while it runs.
        self.loader: Any = None
        # The session file as this viewer last read or wrote it: a save finding it changed
        # (another viewer, another process) does not overwrite it (io.session_file).
        path = self.session_path
        self._disk_state = FileState.of(path) if path is not None else None
        self._conflict_path: Path | None = None
        self.lock: SessionLock | None = None
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
    def new_lesion(self, role: Role, site: str, nodal: bool | None = None) -> str:
        """Create a lesion and return its id (``L1``, ``L2``, ...: the first unused).

        ``nodal=None`` follows the site: a lymph node is nodal (`nodal_for_site`).
        """
        number = 1
        while f"L{number}" in self.record.lesions:
            number += 1
        lesion_id = f"L{number}"
        site = site.strip() or "other"
        self._snapshot()
        self.record.lesions[lesion_id] = Lesion(lesion_id, role, site,
                                                nodal_for_site(site, nodal))
        self._after_edit()
        return lesion_id

    def new_measured_lesion(
        self,
        role: Role,
        site: str,
        timepoint: int,
        axes: Mapping[str, tuple[AxisGeometry, float]],
        nodal: bool | None = None,
    ) -> str:
        """Create a lesion measured at a scan in one edit (one undo step); return its id.

        The bidirectional tool's drag with no lesion selected: the lesion and its axes
        (`set_axes`, drawn by the reader: ``manual``) come and go together.
        """
        if not axes or any(axis not in AXIS_COLUMNS for axis in axes):
            raise ValueError("axis must be 'long' or 'short'")
        if self.view(timepoint) is None:
            raise ValueError(f"no time point {timepoint}")
        lesion_id = self.new_lesion(role, site, nodal)
        before_lesion = self._undo[-1]
        self.set_axes(timepoint, lesion_id, axes, MeasurementMethod.MANUAL)
        if self._undo and self._undo[-1] is not before_lesion:  # one edit for undo
            self._undo.pop()
        return lesion_id

    def set_lesion(
        self,
        lesion_id: str,
        role: Role | None = None,
        site: str | None = None,
        nodal: bool | None = None,
    ) -> None:
        """Change a lesion's role, site or nodal flag (None leaves a field as it is).

        A site changed to ``lymph node`` makes the lesion nodal, whatever ``nodal`` says
        (`nodal_for_site`: the table's default; a form's stale "not nodal" box must not
        leave a lymph node measured by its long axis).
        """
        lesion = self._lesion(lesion_id)
        changes: dict[str, Any] = {}
        if role is not None:
            changes["role"] = role
        if nodal is not None:
            changes["nodal"] = nodal
        if site is not None:
            changes["site"] = site.strip() or lesion.site
            if (changes["site"].lower() == NODAL_SITE
                    and lesion.site.strip().lower() != NODAL_SITE):
                changes["nodal"] = True
        self._snapshot()
        self.record.lesions[lesion_id] = replace(lesion, **changes)
        self._after_edit()

    def set_axis(
        self,
        timepoint: int,
        lesion_id: str,
        axis: str,
        geometry: AxisGeometry,
        length_mm: float,
        method: MeasurementMethod | None = None,
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
        method
            How the line was made (the table's ``method`` column). None: a line the reader
            drew or moved: ``manual``, or ``semi-automatic, adjusted by reader`` when it
            changes a semi-automatic measurement (an unchanged line keeps its method).
        """
        self.set_axes(timepoint, lesion_id, {axis: (geometry, length_mm)}, method)

    def set_axes(
        self,
        timepoint: int,
        lesion_id: str,
        axes: Mapping[str, tuple[AxisGeometry, float]],
        method: MeasurementMethod | None = None,
    ) -> None:
        """Record several axes of a lesion at once: one edit, one undo step (`set_axis`).

        Parameters
        ----------
        timepoint, lesion_id, method
            As for `set_axis`.
        axes
            ``{"long": (geometry, length_mm), "short": (...)}``: one or both axes.
        """
        unknown = [axis for axis in axes if axis not in AXIS_COLUMNS]
        if unknown or not axes:
            raise ValueError(f"axis must be 'long' or 'short', not {unknown or 'nothing'!r}")
        self._lesion(lesion_id)
        self._snapshot()
        assessment = self._assessment(timepoint)
        current = assessment.measurements.get(lesion_id) or Measurement(
            lesion_id, LesionState.MEASURED
        )
        updated = current
        chosen = method
        for axis, (geometry, length_mm) in axes.items():
            if axis == "long":
                updated = replace(updated, long_axis=geometry,
                                  long_axis_mm=round(float(length_mm), 1))
            else:
                updated = replace(updated, short_axis=geometry,
                                  short_axis_mm=round(float(length_mm), 1))
            if method is None:
                chosen = chosen or _method_after_drawing(
                    current, current.long_axis if axis == "long" else current.short_axis,
                    geometry)
        if chosen is not None:
            updated = replace(updated, extra={**updated.extra, "method": chosen.value})
        assessment.measurements[lesion_id] = replace(updated, state=LesionState.MEASURED)
        self._after_edit()

    def set_state(
        self,
        timepoint: int,
        lesion_id: str,
        state: LesionState,
        method: MeasurementMethod | None = None,
    ) -> None:
        """Record what was seen of a lesion without a size (absent, present, too small...).

        ``method`` (e.g. ``semi-automatic`` for a lesion the measurement found too small)
        goes to the table's ``method`` column; None keeps the row's other columns as they
        are, and a state without a size given by hand carries no measurement method.
        """
        self._lesion(lesion_id)
        current = self.measurement(timepoint, lesion_id)
        if state is LesionState.MEASURED and (
                current is None or (current.long_axis_mm is None
                                    and current.short_axis_mm is None)):
            raise ValueError("draw an axis to make a lesion measured")
        self._snapshot()
        assessment = self._assessment(timepoint)
        if state is LesionState.MEASURED:
            assert current is not None
            assessment.measurements[lesion_id] = replace(current, state=state)
        else:
            extra = dict(current.extra) if current else {}
            if method is not None:
                extra["method"] = method.value
            else:
                extra.pop("method", None)  # no size, nothing was measured by any method
            assessment.measurements[lesion_id] = Measurement(lesion_id, state, extra=extra)
        self._after_edit()

    def link(self, timepoint: int, from_lesion: str, to_lesion: str,
             replace_existing: bool = False) -> None:
        """Move a measurement at a time point from one lesion to another (re-link).

        A lesion left with no measurement at all is removed.

        Raises
        ------
        WouldReplaceError
            ``to_lesion`` already has a measurement at that time point and
            ``replace_existing`` is False: ask the reader, then call again with True.
        """
        self._lesion(to_lesion)
        assessment = self.record.assessment(timepoint)
        if assessment is None or from_lesion not in assessment.measurements:
            raise ValueError(f"{from_lesion} has no measurement at this time point")
        if from_lesion == to_lesion:
            return
        existing = assessment.measurements.get(to_lesion)
        if existing is not None and not replace_existing:
            raise WouldReplaceError(timepoint, to_lesion, (
                f"{to_lesion} already has a measurement at this scan "
                f"({describe_measurement(existing)}): linking {from_lesion}'s line replaces it"))
        self._snapshot()
        measurement = assessment.measurements.pop(from_lesion)
        assessment.measurements[to_lesion] = replace(measurement, lesion_id=to_lesion)
        if self.record.first_seen(from_lesion) is None:
            self.record.lesions.pop(from_lesion, None)
        self._drop_empty_assessments()
        self._after_edit()

    def split_lesion(
        self,
        timepoint: int,
        lesion_id: str,
        fragments: Sequence[tuple[AxisGeometry, float] | None],
    ) -> list[str]:
        """Record that a lesion has split into fragments at a follow-up (one edit).

        RECIST 1.1 section 4.3.4 ("When non-nodal lesions 'fragment', the longest diameters
        of the fragmented portions should be added together"); shared/spec/lesion-table.md
        (amended 2026-12): each fragment is a lesion of its own with `part_of` = the split
        lesion, its role, site and nodal flag; from the split on, the split lesion has no rows
        of its own (its rows at this scan and later are removed).

        Parameters
        ----------
        timepoint
            The follow-up where the fragments are first seen (not the baseline).
        lesion_id
            The lesion that split.
        fragments
            One entry per fragment: its drawn long axis and length in mm, or None for a
            fragment to measure later (not evaluated until then). At least two.

        Returns
        -------
        list of str
            The new fragments' ids (``L2.1``, ``L2.2``...).
        """
        lesion = self._lesion(lesion_id)
        if timepoint <= 0:
            raise ValueError("a lesion splits after baseline: choose a follow-up scan")
        if len(fragments) < 2:
            raise ValueError("draw one line per fragment (at least two), then Split lesion")
        self._snapshot()
        ids: list[str] = []
        number = 1
        for _ in fragments:
            while f"{lesion_id}.{number}" in self.record.lesions:
                number += 1
            ids.append(f"{lesion_id}.{number}")
            number += 1
        for assessment in self.record.assessments:
            if assessment.timepoint >= timepoint:
                assessment.measurements.pop(lesion_id, None)
        assessment = self._assessment(timepoint)
        for fragment_id, drawn in zip(ids, fragments, strict=True):
            self.record.lesions[fragment_id] = replace(
                lesion, lesion_id=fragment_id, part_of=lesion_id, tracking_uid=None
            )
            if drawn is None:
                measurement = Measurement(fragment_id, LesionState.NOT_EVALUATED)
            else:
                geometry, length_mm = drawn
                measurement = Measurement(
                    fragment_id, LesionState.MEASURED, long_axis_mm=round(float(length_mm), 1),
                    long_axis=geometry,
                )
            assessment.measurements[fragment_id] = measurement
        self._drop_empty_assessments()
        self._after_edit()
        return ids

    def merge_lesions(self, timepoint: int, carrier: str, merged: Sequence[str]) -> None:
        """Record that lesions have coalesced into `carrier`'s mass at a follow-up (one edit).

        RECIST 1.1 section 4.3.4 ("If the lesions have truly coalesced such that they are no
        longer separable"); shared/spec/lesion-table.md (amended 2026-12): each merged
        lesion's row there names the carrier in `coalesced_into` and has no size; the
        carrier's row measures the whole mass (draw it on the carrier).
        """
        carrier_lesion = self._lesion(carrier)
        if timepoint <= 0:
            raise ValueError("lesions are measured one by one at baseline: choose a follow-up")
        others = [lesion_id for lesion_id in merged if lesion_id != carrier]
        if not others:
            raise ValueError("choose another lesion to merge into the selected one")
        for lesion_id in others:
            if self._lesion(lesion_id).role is not carrier_lesion.role:
                raise ValueError(f"{lesion_id} is {self._lesion(lesion_id).role}, {carrier} is "
                                 f"{carrier_lesion.role}: merged lesions have one role")
        self._snapshot()
        assessment = self._assessment(timepoint)
        assessment.measurements.setdefault(
            carrier, Measurement(carrier, LesionState.NOT_EVALUATED)
        )
        for lesion_id in others:
            current = assessment.measurements.get(lesion_id)
            extra = dict(current.extra) if current else {}
            assessment.measurements[lesion_id] = Measurement.coalesced(
                lesion_id, carrier, extra=extra
            )
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

    @property
    def can_redo(self) -> bool:
        """True when there is an undone edit to redo."""
        return bool(self._redo)

    def undo(self) -> bool:
        """Undo the last edit; return False when there was none (`redo` brings it back)."""
        if not self._undo:
            return False
        self._redo.append(self.record)
        self.record = self._undo.pop()
        self._after_edit()
        return True

    def redo(self) -> bool:
        """Redo the last undone edit; return False when there is none.

        Any new edit after an undo forgets what could be redone (the usual linear history).
        """
        if not self._redo:
            return False
        self._undo.append(self.record)
        self.record = self._redo.pop()
        self._after_edit()
        return True

    # -- classification and saving ---------------------------------------------------------
    def classify(self) -> None:
        """Re-classify the patient and keep the JSON, or why it cannot be classified.

        The record goes through the project's one checker (`napari_recist.checks`), as the
        command line and the batch do: work in progress that breaks a rule (a target first
        drawn on a follow-up, say) is classified without the offending data, as
        ``classify --lenient`` would, and each issue is listed by lesion and scan.
        """
        from napari_recist.checks import check_record
        from napari_recist.criteria.report import classify_patient

        self.classification_warnings = []
        if not self.record.assessments or self.record.baseline is None:
            self.result = None
            self.classification_error = "no baseline assessment yet: measure the baseline scan"
            return
        checked = check_record(self.record)
        self.classification_warnings = [
            self.describe_issue(issue) for issue in [*checked.errors, *checked.warnings]
        ]
        if checked.record is None:
            self.result = None
            self.classification_error = "; ".join(
                self.describe_issue(issue) for issue in checked.errors
            )
            return
        try:
            self.result = classify_patient(checked.record, self.criteria).to_json()
            self.classification_error = None
        except (InputError, ValueError) as error:
            self.result = None
            self.classification_error = str(error)

    def describe_issue(self, issue: RecordIssue) -> str:
        """Name a checker issue by lesion and scan, with what the classification did."""
        where = []
        if issue.lesion_id:
            where.append(issue.lesion_id)
        if issue.timepoint is not None:
            view = self.view(issue.timepoint)
            where.append(f"at {view.name}" if view else f"at time point {issue.timepoint}")
        text = " ".join(where)
        message = f"{text}: {issue.message}" if text else issue.message
        if issue.severity is Severity.ERROR:
            done = issue.lenient_note or "left out of the classification"
            message += f" ({done})"
        return message

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
        """Autosave the session table to the patient folder; False (and a signal) on failure.

        When the file changed on disk since this viewer last read or wrote it (another
        viewer saved), it is not overwritten: this viewer's version goes to a conflict file
        beside it, and the signal says so.
        """
        path = self.session_path
        if path is None:
            return False
        if self._conflict_path is None and FileState.of(path) != self._disk_state:
            self._conflict_path = conflict_path(path.parent)
        target = self._conflict_path or path
        try:
            self.export_csv(target)
        except OSError as error:
            self.last_save_error = f"cannot autosave {target}: {error.strerror or error}"
            self.save_failed.emit(self.last_save_error)
            return False
        if self._conflict_path is not None:
            self.last_save_error = (f"{path} was changed by another viewer: not overwritten; "
                                    f"your edits are saved in {self._conflict_path.name}")
            self.save_failed.emit(self.last_save_error)
            return True
        self._disk_state = FileState.of(path)
        self.last_save_error = None
        self.saved = True
        return True

    def hold_lock(self) -> str:
        """Take the patient folder's lock (`io.session_file.SessionLock`); return a note."""
        if self.folder is None or self.lock is not None:
            return ""
        self.lock = SessionLock(self.folder)
        note = self.lock.acquire()
        atexit.register(self.lock.release)
        return note

    def close(self) -> None:
        """Let go of the patient folder (its lock); the record stays as it is."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

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
        self._redo.clear()

    def _after_edit(self) -> None:
        self.classify()
        self.save()
        self.changed.emit()


def describe_measurement(measurement: Measurement) -> str:
    """A measurement in a few words: ``long x short mm``, or its state."""
    sizes = [f"{size:g}" for size in (measurement.long_axis_mm, measurement.short_axis_mm)
             if size is not None]
    if measurement.state is LesionState.MEASURED and sizes:
        return " x ".join(sizes) + " mm"
    return measurement.state.value
