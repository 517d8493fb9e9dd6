"""A patient's lesions laid out per assessment once, for every criterion to read.

Which lesions an assessment covers (shared/spec/criteria.md section 1): baseline lesions from
baseline on; a new lesion from the assessment where it first appears. A covered lesion with no
row at an assessment is `not-evaluated` there.
"""

from __future__ import annotations

from dataclasses import dataclass

from napari_recist.criteria.settings import Criteria
from napari_recist.model import Assessment, Lesion, LesionState, PatientRecord, Role, natural_key

# States that show a lesion is there (a measured lesion needs a size above 0).
_SEEN_STATES = frozenset(
    {LesionState.TOO_SMALL, LesionState.PRESENT, LesionState.PROGRESSION, LesionState.INCREASE}
)


@dataclass
class Timeline:
    """Per-assessment states and diameters of every lesion of one patient.

    Index 0 is the baseline, 1.. the follow-ups; pre-baseline scans are kept apart.
    """

    record: PatientRecord
    criteria: Criteria
    assessments: list[Assessment]
    days: list[int]
    targets: list[Lesion]
    non_targets: list[Lesion]
    new_lesions: list[Lesion]
    states: dict[str, list[LesionState | None]]
    diameters: dict[str, list[float | None]]
    pre_baseline: list[Assessment]
    nadirs: dict[str, list[float | None]]

    @property
    def count(self) -> int:
        """Number of assessments from baseline on."""
        return len(self.assessments)

    def label(self, index: int) -> str:
        """Name of an assessment in reasons: ``baseline`` or ``TP2``."""
        return self.assessments[index].label

    def is_present(self, lesion_id: str, index: int) -> bool:
        """Return whether a lesion is unequivocally there at an assessment."""
        state = self.states[lesion_id][index]
        if state is LesionState.MEASURED:
            diameter = self.diameters[lesion_id][index]
            return diameter is not None and diameter > 0
        return state in _SEEN_STATES

    def is_seen(self, lesion_id: str, index: int) -> bool:
        """Return whether a lesion is there or equivocally there at an assessment."""
        return self.is_present(lesion_id, index) or (
            self.states[lesion_id][index] is LesionState.EQUIVOCAL
        )

    def nadir(self, lesion_id: str, index: int) -> float | None:
        """Smallest diameter of a lesion before an assessment (baseline included)."""
        return self.nadirs[lesion_id][index]

    def first_index(self, lesion_id: str, *, unequivocal: bool) -> int | None:
        """First assessment where a lesion is seen (or unequivocally present)."""
        test = self.is_present if unequivocal else self.is_seen
        for index in range(self.count):
            if self.states[lesion_id][index] is not None and test(lesion_id, index):
                return index
        return None


def build_timeline(record: PatientRecord, criteria: Criteria) -> Timeline:
    """Lay out a patient's lesions per assessment.

    Parameters
    ----------
    record
        The patient; it must have a baseline (time point 0).
    criteria
        Settings (the size a `too-small` lesion counts for).

    Returns
    -------
    Timeline
        States and diameters of every lesion at the baseline and each follow-up.

    Raises
    ------
    ValueError
        When the record has no baseline.
    """
    assessments = [a for a in record.assessments if a.timepoint >= 0]
    if not assessments or assessments[0].timepoint != 0:
        raise ValueError(f"patient {record.patient_id}: no baseline assessment (timepoint 0)")
    baseline_date = assessments[0].date
    days = [(a.date - baseline_date).days for a in assessments]
    too_small = criteria.too_small_mm

    states: dict[str, list[LesionState | None]] = {}
    diameters: dict[str, list[float | None]] = {}
    nadirs: dict[str, list[float | None]] = {}
    first_row: dict[str, int] = {}
    for lesion_id, lesion in record.lesions.items():
        lesion_states: list[LesionState | None] = []
        lesion_diameters: list[float | None] = []
        covered = False
        for index, assessment in enumerate(assessments):
            measurement = assessment.measurements.get(lesion_id)
            if measurement is None:
                lesion_states.append(LesionState.NOT_EVALUATED if covered else None)
                lesion_diameters.append(None)
                continue
            if not covered:
                covered = True
                first_row[lesion_id] = index
            lesion_states.append(measurement.state)
            lesion_diameters.append(measurement.diameter_mm(lesion.nodal, too_small))
        states[lesion_id] = lesion_states
        diameters[lesion_id] = lesion_diameters
        nadirs[lesion_id] = _running_nadir(lesion_diameters)

    def order(lesion: Lesion) -> tuple[int, tuple[object, ...]]:
        return first_row.get(lesion.lesion_id, len(assessments)), natural_key(lesion.lesion_id)

    lesions = sorted(record.lesions.values(), key=order)
    return Timeline(
        record=record,
        criteria=criteria,
        assessments=assessments,
        days=days,
        targets=[les for les in lesions if les.role is Role.TARGET and les.lesion_id in first_row],
        non_targets=[
            les for les in lesions if les.role is Role.NON_TARGET and les.lesion_id in first_row
        ],
        new_lesions=[les for les in lesions if les.role is Role.NEW and les.lesion_id in first_row],
        states=states,
        diameters=diameters,
        pre_baseline=[a for a in record.assessments if a.timepoint < 0],
        nadirs=nadirs,
    )


def _running_nadir(diameters: list[float | None]) -> list[float | None]:
    """For each assessment, the smallest earlier diameter (the current one excluded)."""
    nadirs: list[float | None] = []
    smallest: float | None = None
    for diameter in diameters:
        nadirs.append(smallest)
        if diameter is not None and (smallest is None or diameter < smallest):
            smallest = diameter
    return nadirs
