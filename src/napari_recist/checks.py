"""The record-level rules: one checker for the lesion table, the SRs, the viewer and the batch.

`check_record` takes a `PatientRecord` however it was made and returns every rule it breaks as
a `RecordIssue` (naming the lesion, the time point and the field), plus the record as it can be
classified: the offending data left out, as the lenient readers and the viewer classify it.
Strict callers refuse when there is any error; each source names the issue its own way (a
table by row and column, an SR by file and tracking identifier, the viewer by lesion and scan).

The rules are shared/spec/lesion-table.md's "bad rows" that concern the record rather than the
file, and shared/spec/criteria.md section 1 ("which lesions an assessment covers"). Pure:
imports only `model`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from enum import Enum

from napari_recist.model import Assessment, Lesion, LesionState, Measurement, PatientRecord, Role


class Severity(str, Enum):
    """How a broken rule is handled."""

    ERROR = "error"  # strict readers refuse; lenient ones leave the data out and list it
    WARNING = "warning"  # accepted, worth a look

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class RecordIssue:
    """One rule a patient record breaks, located in the record.

    Parameters
    ----------
    code
        Stable identifier of the rule (e.g. ``not-at-baseline``).
    message
        What is wrong, in words a reader can act on; names the lesion and time point.
    severity
        Error or warning.
    lesion_id
        The lesion concerned, if one.
    timepoint
        The assessment concerned, if one.
    field
        The lesion-table column the rule is about (``state``, ``short_axis_mm``...), if one.
    left_out
        How many measurements the lenient record leaves out because of this issue.
    related_timepoint
        A second assessment the message compares with (dates out of order).
    lenient_note
        What the lenient reading does with the data when it keeps them (e.g. "kept as
        not-evaluated"); empty when it leaves them out (`left_out`).
    consequential
        True when the issue only follows from data the source had already refused (a lesion
        whose baseline measurement could not be read "has no baseline"): strict readers do
        not report it a second time, lenient ones list it.
    """

    code: str
    message: str
    severity: Severity = Severity.ERROR
    lesion_id: str | None = None
    timepoint: int | None = None
    field: str | None = None
    left_out: int = 0
    related_timepoint: int | None = None
    consequential: bool = False
    lenient_note: str = ""


@dataclass
class CheckedRecord:
    """What `check_record` found.

    Attributes
    ----------
    record
        The record as it can be classified (every offending measurement, lesion or
        assessment left out, covered lesions without a measurement set to not-evaluated);
        None when nothing classifiable is left (no baseline).
    errors
        Issues a strict reader refuses.
    warnings
        Issues that are accepted.
    """

    record: PatientRecord | None
    errors: list[RecordIssue] = field(default_factory=list)
    warnings: list[RecordIssue] = field(default_factory=list)

    @property
    def reportable_errors(self) -> list[RecordIssue]:
        """Errors a strict reader reports: the consequential ones are left out."""
        return [issue for issue in self.errors if not issue.consequential]


# RECIST 1.1 section 3.3 / 4.3: a target lesion is followed by its size; the words present,
# progression, increase and equivocal describe non-target and new lesions only.
TARGET_STATES = frozenset(
    {LesionState.MEASURED, LesionState.TOO_SMALL, LesionState.ABSENT, LesionState.NOT_EVALUATED}
)
# Pre-baseline scans serve growth kinetics (shared/spec/criteria.md section 1): only target
# sizes count.
SIZE_STATES = frozenset({LesionState.MEASURED, LesionState.TOO_SMALL, LesionState.ABSENT})


def _format_mm(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


class _Checker:
    """The checks of one record, in order, on a working copy."""

    def __init__(self, record: PatientRecord, refused: Collection[str]) -> None:
        self.patient_id = record.patient_id
        self.treatment_start = record.treatment_start
        self.lesions: dict[str, Lesion] = dict(record.lesions)
        self.assessments: dict[int, Assessment] = {
            a.timepoint: Assessment(a.timepoint, a.date, dict(a.measurements))
            for a in record.assessments
        }
        self.refused = set(refused)
        self.errors: list[RecordIssue] = []
        self.warnings: list[RecordIssue] = []

    # -- reporting -------------------------------------------------------------------------
    def error(self, code: str, message: str, **where: object) -> None:
        self.errors.append(RecordIssue(code, message, Severity.ERROR, **where))  # type: ignore[arg-type]

    def warn(self, code: str, message: str, **where: object) -> None:
        self.warnings.append(RecordIssue(code, message, Severity.WARNING, **where))  # type: ignore[arg-type]

    def count(self, lesion_id: str) -> int:
        return sum(lesion_id in a.measurements for a in self.assessments.values())

    def drop_lesion(self, lesion_id: str) -> None:
        self.lesions.pop(lesion_id, None)
        for assessment in self.assessments.values():
            assessment.measurements.pop(lesion_id, None)

    def drop_measurement(self, timepoint: int, lesion_id: str) -> None:
        self.assessments[timepoint].measurements.pop(lesion_id, None)
        self.refused.add(lesion_id)

    # -- the rules -------------------------------------------------------------------------
    def check(self) -> CheckedRecord:
        self.check_measurements()
        self.drop_pre_baseline_extras()
        self.check_part_of()
        if not self.has_baseline("has no baseline (timepoint 0)"):
            return self.result(None)
        self.check_date_order()
        self.check_lesions_at_baseline()
        self.check_split_rows()
        self.check_coalesced()
        if not self.has_baseline("has no usable baseline measurement left"):
            return self.result(None)
        record = PatientRecord(
            self.patient_id,
            self.lesions,
            [a for a in self.assessments.values() if a.measurements],
            treatment_start=self.treatment_start,
        )
        self.fill_not_evaluated(record)
        return self.result(record)

    def result(self, record: PatientRecord | None) -> CheckedRecord:
        return CheckedRecord(record, self.errors, self.warnings)

    def check_measurements(self) -> None:
        """Rules about one measurement: its lesion, axes, state and time point."""
        for timepoint in sorted(self.assessments):
            assessment = self.assessments[timepoint]
            for lesion_id, measurement in list(assessment.measurements.items()):
                lesion = self.lesions.get(lesion_id)
                if lesion is None:
                    self.error("unknown-lesion", f"a measurement names lesion {lesion_id}, "
                               "which the patient does not have", lesion_id=lesion_id,
                               timepoint=timepoint, field="lesion_id", left_out=1)
                    self.drop_measurement(timepoint, lesion_id)
                    continue
                self.check_measurement(lesion, timepoint, measurement)

    def check_measurement(self, lesion: Lesion, timepoint: int, measurement: Measurement) -> None:
        lesion_id = lesion.lesion_id
        where = {"lesion_id": lesion_id, "timepoint": timepoint}
        state = measurement.state
        long_mm, short_mm = measurement.long_axis_mm, measurement.short_axis_mm
        if measurement.coalesced_into is not None:
            self.check_coalesced_row(lesion, timepoint, measurement)
            return
        if long_mm is not None and short_mm is not None and short_mm > long_mm:
            # The short axis is perpendicular to the longest diameter, so never longer.
            self.warn("short-axis-longer", f"lesion {lesion_id}: short_axis_mm "
                      f"{_format_mm(short_mm)} is larger than long_axis_mm {_format_mm(long_mm)}"
                      ": are the two axes swapped?", field="short_axis_mm", **where)
        problems: list[tuple[str, str, str]] = []
        if state is LesionState.MEASURED:
            # RECIST 1.1 section 4.3: nodes are measured by the short axis, others by the long.
            if lesion.nodal and short_mm is None:
                problems.append(("node-without-short-axis",
                                 "a measured lymph node needs short_axis_mm", "short_axis_mm"))
            elif not lesion.nodal and long_mm is None:
                problems.append(("lesion-without-long-axis",
                                 "a measured lesion needs long_axis_mm", "long_axis_mm"))
        if state is LesionState.ABSENT and ((long_mm or 0.0) > 0.0 or (short_mm or 0.0) > 0.0):
            problems.append(("absent-with-size",
                             "state 'absent' contradicts a size greater than 0", "state"))
        if lesion.role is Role.TARGET and state not in TARGET_STATES:
            problems.append(("target-state", "a target lesion's state must be measured, "
                             f"too-small, absent or not-evaluated, not '{state.value}' (that "
                             "word describes non-target and new lesions)", "state"))
        if lesion.role is Role.NEW and timepoint <= 0:
            problems.append(("new-at-baseline", "a new lesion cannot be at baseline or before "
                             f"(timepoint {timepoint}): new lesions appear after baseline",
                             "timepoint"))
        if lesion.role is Role.TARGET and timepoint == 0 and (
            problems or state is not LesionState.MEASURED
        ):
            self.target_without_size(lesion, measurement, problems)
            return
        for code, message, column in problems:
            self.error(code, message, field=column, left_out=1, **where)
        if problems:
            self.drop_measurement(timepoint, lesion_id)

    def check_coalesced_row(self, lesion: Lesion, timepoint: int, measurement: Measurement) -> None:
        """shared/spec/lesion-table.md (amended 2026-12): a coalesced row has no size.

        RECIST 1.1 section 4.3.4: lesions that "have truly coalesced" are measured as one;
        the merged lesion's row carries nothing and counts 0 mm. Not at the baseline (nor
        before): lesions are chosen and measured one by one there.
        """
        lesion_id = lesion.lesion_id
        where = {"lesion_id": lesion_id, "timepoint": timepoint, "left_out": 1}
        if measurement.long_axis_mm is not None or measurement.short_axis_mm is not None:
            self.error("coalesced-with-size", f"lesion {lesion_id} is coalesced into "
                       f"{measurement.coalesced_into} at timepoint {timepoint} but has a size: "
                       "the carrier's row measures the whole mass", field="coalesced_into",
                       **where)
            self.drop_measurement(timepoint, lesion_id)
        elif timepoint <= 0:
            self.error("coalesced-at-baseline", f"lesion {lesion_id} is coalesced_into "
                       f"{measurement.coalesced_into} at timepoint {timepoint}: lesions are "
                       "measured one by one at baseline (RECIST 1.1 section 3.3)",
                       field="coalesced_into", **where)
            self.drop_measurement(timepoint, lesion_id)

    def check_part_of(self) -> None:
        """shared/spec/lesion-table.md (amended 2026-12): the `part_of` link of a fragment.

        It names another lesion of the patient, with the same role, site and nodal flag,
        without a cycle (RECIST 1.1 section 4.3.4; CDISC SDTMIG TU `TUSPLIT`). A fragment
        has no row at the baseline or before: it appears at a follow-up.
        """
        bad: dict[str, tuple[str, str]] = {}
        for lesion_id, lesion in self.lesions.items():
            parent = lesion.part_of
            if parent is None:
                continue
            if parent == lesion_id:
                bad[lesion_id] = ("part-of-self", f"lesion {lesion_id} is part_of itself")
            elif parent not in self.lesions:
                bad[lesion_id] = ("part-of-unknown", f"lesion {lesion_id} is part_of {parent}, "
                                  "which the patient does not have")
            else:
                other = self.lesions[parent]
                for what, mine, theirs in (
                    ("role", lesion.role.value, other.role.value),
                    ("site", lesion.site, other.site),
                    ("nodal flag", str(lesion.nodal).lower(), str(other.nodal).lower()),
                ):
                    if mine != theirs:
                        bad[lesion_id] = ("part-of-mismatch", f"fragment {lesion_id} has {what} "
                                          f"{mine} but the lesion it is part_of, {parent}, has "
                                          f"{theirs}: a fragment keeps its lesion's {what}")
                        break
        for lesion_id in self.lesions:
            chain, current = [lesion_id], self.lesions[lesion_id].part_of
            while current is not None and current in self.lesions and current not in chain:
                chain.append(current)
                current = self.lesions[current].part_of
            if current == lesion_id and len(chain) > 1 and lesion_id not in bad:
                bad[lesion_id] = ("part-of-cycle", f"lesion {lesion_id} is part_of a cycle "
                                  f"({' -> '.join([*chain, lesion_id])})")
        for lesion_id, (code, message) in bad.items():
            seen = [tp for tp, a in sorted(self.assessments.items()) if lesion_id in a.measurements]
            self.error(code, message, lesion_id=lesion_id, timepoint=seen[0] if seen else None,
                       field="part_of", left_out=self.count(lesion_id))
        for lesion_id in bad:
            self.drop_lesion(lesion_id)
        # Fragments of a refused lesion cannot be placed either (consequential).
        changed = True
        while changed:
            changed = False
            for lesion_id, lesion in list(self.lesions.items()):
                if lesion.part_of is not None and lesion.part_of not in self.lesions:
                    self.error("part-of-unknown", f"lesion {lesion_id} is part_of "
                               f"{lesion.part_of}, whose rows were refused", lesion_id=lesion_id,
                               field="part_of", left_out=self.count(lesion_id),
                               consequential=True)
                    self.drop_lesion(lesion_id)
                    changed = True
        for lesion_id, lesion in self.lesions.items():
            if lesion.part_of is None:
                continue
            for timepoint in sorted(tp for tp in self.assessments if tp <= 0):
                if lesion_id in self.assessments[timepoint].measurements:
                    self.error("fragment-at-baseline", f"fragment {lesion_id} (part_of "
                               f"{lesion.part_of}) has a row at timepoint {timepoint}: a "
                               "lesion splits after baseline", lesion_id=lesion_id,
                               timepoint=timepoint, field="timepoint", left_out=1)
                    self.drop_measurement(timepoint, lesion_id)

    def check_split_rows(self) -> None:
        """A lesion that has split has no row of its own from its first fragment row on."""
        first_fragment: dict[str, tuple[int, str]] = {}
        for lesion_id, lesion in self.lesions.items():
            if lesion.part_of is None:
                continue
            rows = [tp for tp, a in sorted(self.assessments.items()) if lesion_id in a.measurements]
            if rows and (lesion.part_of not in first_fragment
                         or rows[0] < first_fragment[lesion.part_of][0]):
                first_fragment[lesion.part_of] = (rows[0], lesion_id)
        for parent, (start, fragment) in first_fragment.items():
            for timepoint in sorted(tp for tp in self.assessments if tp >= start):
                if parent in self.assessments[timepoint].measurements:
                    self.error("split-lesion-row", f"lesion {parent} has a row at timepoint "
                               f"{timepoint}, but it split at timepoint {start} (fragment "
                               f"{fragment}): from then on it is measured through its "
                               "fragments (RECIST 1.1 section 4.3.4)", lesion_id=parent,
                               timepoint=timepoint, field="lesion_id", left_out=1)
                    self.drop_measurement(timepoint, parent)

    def check_coalesced(self) -> None:
        """`coalesced_into` names another lesion of the same role with its own row there."""
        for timepoint in sorted(self.assessments):
            measurements = self.assessments[timepoint].measurements
            for lesion_id, measurement in list(measurements.items()):
                carrier = measurement.coalesced_into
                if carrier is None:
                    continue
                problem = ""
                if carrier == lesion_id:
                    problem = "names its own lesion"
                elif carrier not in measurements:
                    problem = f"names lesion {carrier}, which has no row at that timepoint"
                elif self.lesions[lesion_id].role is not self.lesions[carrier].role:
                    problem = (f"names lesion {carrier}, a {self.lesions[carrier].role} "
                               f"lesion: merged lesions have one role")
                elif measurements[carrier].coalesced_into is not None:
                    problem = (f"names lesion {carrier}, whose own row there is coalesced "
                               "too: name the lesion whose row measures the mass")
                if problem:
                    self.error("bad-coalesced-into", f"lesion {lesion_id} at timepoint "
                               f"{timepoint}: coalesced_into {problem}", lesion_id=lesion_id,
                               timepoint=timepoint, field="coalesced_into", left_out=1)
                    self.drop_measurement(timepoint, lesion_id)

    def target_without_size(
        self, lesion: Lesion, measurement: Measurement, problems: list[tuple[str, str, str]]
    ) -> None:
        """RECIST 1.1 section 3.3.1: target lesions are measurable, so measured at baseline.

        shared/spec/lesion-table.md (amended 2026-12): a target without a size at baseline
        is a bad row; the lenient readers and the viewer keep it as not-evaluated.
        """
        lesion_id = lesion.lesion_id
        if problems:
            code, reason, column = problems[0]
            message = f"target lesion {lesion_id} must be measured at baseline: {reason}"
        else:
            column = "state"
            message = (f"target lesion {lesion_id} must be measured at baseline, its state is "
                       f"{measurement.state.value}")
        self.error("target-without-size", message, lesion_id=lesion_id, timepoint=0,
                   field=column, lenient_note="kept as not-evaluated")
        self.assessments[0].measurements[lesion_id] = Measurement(
            lesion_id, LesionState.NOT_EVALUATED, extra=measurement.extra
        )

    def drop_pre_baseline_extras(self) -> None:
        """shared/spec/criteria.md section 1: pre-baseline scans need only target sizes."""
        for timepoint in sorted(tp for tp in self.assessments if tp < 0):
            assessment = self.assessments[timepoint]
            for lesion_id, measurement in list(assessment.measurements.items()):
                lesion = self.lesions[lesion_id]
                if lesion.role is Role.TARGET and measurement.state in SIZE_STATES:
                    continue
                del assessment.measurements[lesion_id]
                # A lesion seen only before baseline is no baseline lesion (section 1: an
                # assessment covers the baseline lesions from baseline on); kept, it would be
                # not-evaluated at every assessment and block CR.
                only_here = not any(lesion_id in other.measurements
                                    for other in self.assessments.values())
                only_here = only_here and not any(other.part_of == lesion_id
                                                  for other in self.lesions.values())
                if only_here:
                    self.drop_lesion(lesion_id)
                consequence = ("this measurement is ignored, and the lesion, which has no "
                               "other row, is left out" if only_here
                               else "this measurement is ignored")
                self.warn("pre-baseline-ignored", f"lesion {lesion_id} at pre-baseline "
                          f"timepoint {timepoint}: pre-baseline scans are used only for target "
                          f"sizes (growth kinetics): {consequence}",
                          lesion_id=lesion_id, timepoint=timepoint)

    def has_baseline(self, what: str) -> bool:
        """RECIST 1.1 section 3: responses are judged against a baseline (time point 0)."""
        baseline = self.assessments.get(0)
        if baseline is not None and baseline.measurements:
            return True
        consequential = bool(self.refused)
        message = f"patient {self.patient_id} {what}"
        if consequential:
            message = (f"patient {self.patient_id} has no usable baseline measurement "
                       "(timepoint 0) once its refused data are left out")
        left_out = sum(len(a.measurements) for a in self.assessments.values())
        first = min(self.assessments, default=None)
        self.error("no-baseline", message, timepoint=first, field="timepoint",
                   left_out=left_out, consequential=consequential)
        return False

    def check_date_order(self) -> None:
        """Dates strictly increase with the time point, anchored at the baseline."""
        baseline = self.assessments[0]
        for direction in (1, -1):
            anchor = baseline
            for timepoint in sorted((tp for tp in self.assessments if tp * direction > 0),
                                    key=abs):
                current = self.assessments[timepoint]
                if (current.date > anchor.date) if direction > 0 else (current.date < anchor.date):
                    anchor = current
                    continue
                word = "after" if direction > 0 else "before"
                self.error("date-order", f"date out of order: timepoint {timepoint} "
                           f"({current.date}) is not {word} timepoint {anchor.timepoint} "
                           f"({anchor.date})", timepoint=timepoint, field="date",
                           left_out=len(current.measurements),
                           related_timepoint=anchor.timepoint)
                current.measurements.clear()

    def check_lesions_at_baseline(self) -> None:
        """RECIST 1.1 section 3.3: targets and non-targets are chosen at baseline."""
        baseline = self.assessments[0]
        for lesion_id, lesion in list(self.lesions.items()):
            if lesion.role is Role.NEW or lesion_id in baseline.measurements:
                continue
            if lesion.part_of is not None:
                continue  # a fragment appears at a follow-up (checked by check_part_of)
            seen = [tp for tp, a in sorted(self.assessments.items()) if lesion_id in a.measurements]
            later = [tp for tp in seen if tp > 0]
            where = {
                "lesion_id": lesion_id, "field": "timepoint", "left_out": self.count(lesion_id)
            }
            if lesion_id in self.refused:
                self.error("no-baseline-measurement", f"{lesion.role} lesion {lesion_id} has no "
                           "usable measurement at baseline once its refused data are left out",
                           timepoint=seen[0] if seen else None, consequential=True, **where)
            elif later:
                self.error("not-at-baseline", f"{lesion.role} lesion {lesion_id} first appears "
                           f"at timepoint {later[0]}: targets and non-targets are chosen at "
                           "baseline (RECIST 1.1 section 3.3); a lesion first seen later is "
                           "'new'", timepoint=later[0], **where)
            elif seen:
                self.error("no-baseline-measurement", f"{lesion.role} lesion {lesion_id} has no "
                           "measurement at baseline", timepoint=seen[0], **where)
            else:
                continue  # a lesion without any measurement: nothing to classify or refuse
            self.drop_lesion(lesion_id)

    def fill_not_evaluated(self, record: PatientRecord) -> None:
        """A covered lesion without a measurement at an assessment is not evaluated there.

        shared/spec/criteria.md section 1: an assessment covers the baseline lesions from
        baseline on and a new lesion from the assessment where it first appears.
        """
        first_seen: dict[str, int] = {}
        for assessment in record.assessments:
            for lesion_id in assessment.measurements:
                first_seen.setdefault(lesion_id, assessment.timepoint)
        # (amended 2026-12) A fragment is covered from its first row; a lesion that has split
        # is covered through its fragments from the first fragment row on.
        split_at: dict[str, int] = {}
        for lesion_id, lesion in record.lesions.items():
            if lesion.part_of is not None and lesion_id in first_seen:
                start = first_seen[lesion_id]
                split_at[lesion.part_of] = min(split_at.get(lesion.part_of, start), start)
        for assessment in record.assessments:
            if assessment.timepoint < 0:
                continue  # pre-baseline scans need only target sizes
            missing = []
            for lesion_id, lesion in record.lesions.items():
                if lesion_id in assessment.measurements:
                    continue
                if lesion_id in split_at and assessment.timepoint >= split_at[lesion_id]:
                    continue
                fragment = lesion.role is Role.NEW or lesion.part_of is not None
                start = first_seen.get(lesion_id) if fragment else 0
                if start is not None and assessment.timepoint >= start:
                    missing.append(lesion_id)
                    assessment.measurements[lesion_id] = Measurement(
                        lesion_id, LesionState.NOT_EVALUATED
                    )
            if missing:
                self.warn("not-evaluated-filled", f"patient {record.patient_id}, timepoint "
                          f"{assessment.timepoint}: no measurement of lesion(s) "
                          f"{', '.join(missing)}, counted as not-evaluated",
                          timepoint=assessment.timepoint)


def check_record(record: PatientRecord, *, refused_lesions: Iterable[str] = ()) -> CheckedRecord:
    """Check a patient record against every record-level rule.

    Parameters
    ----------
    record
        The patient, from a table, SRs or the viewer; it is not modified.
    refused_lesions
        Lesions some of whose data the source already refused (an unreadable row or content
        item): that their measurement is missing is reported as consequential.

    Returns
    -------
    CheckedRecord
        The errors and warnings, and the record as it can be classified.
    """
    return _Checker(record, frozenset(refused_lesions)).check()

