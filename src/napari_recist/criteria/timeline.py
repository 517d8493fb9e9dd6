"""A patient's lesions laid out per assessment once, for every criterion to read.

Which lesions an assessment covers (shared/spec/criteria.md section 1): baseline lesions from
baseline on; a new lesion from the assessment where it first appears; (amended 2026-12) a
fragment from its first row on, a lesion that has split through its fragments. A covered lesion
with no row at an assessment is `not-evaluated` there. Split and coalesced lesions form lesion
units (criteria.md section 1, "Lesions that split or coalesce"); new lymph nodes count as new
lesions only from 10 mm short axis on (criteria.md section 1, "New lymph nodes").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from napari_recist.criteria.numbers import at_least, below
from napari_recist.criteria.settings import Criteria
from napari_recist.model import Assessment, Lesion, LesionState, PatientRecord, Role, natural_key

# States that show a lesion is there (a measured lesion needs a size above 0).
_SEEN_STATES: Final = frozenset(
    {LesionState.TOO_SMALL, LesionState.PRESENT, LesionState.PROGRESSION, LesionState.INCREASE}
)
# criteria.md section 1, "New lymph nodes" (amended 2026-12): states that make a new node count.
_NODE_COUNTING_STATES: Final = frozenset(
    {LesionState.PRESENT, LesionState.INCREASE, LesionState.PROGRESSION}
)

Unit = frozenset[str]


@dataclass
class Timeline:
    """Per-assessment states and diameters of every lesion of one patient.

    Index 0 is the baseline, 1.. the follow-ups; pre-baseline scans are kept apart. A state
    of None means the lesion has no row of its own there and is not covered by itself (not
    yet seen, a new node that does not count yet, or a lesion that has split).
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
    origin_days: list[int] = field(default_factory=list)
    time_origin: dt.date | None = None
    coalesced: dict[str, list[str | None]] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)
    families: dict[str, list[str]] = field(default_factory=dict)
    new_node_recheck: list[tuple[int, str]] = field(default_factory=list)
    long_axes: dict[str, list[float | None]] = field(default_factory=dict)
    short_axes: dict[str, list[float | None]] = field(default_factory=dict)
    # Assessments with a coalesced row (most have none: the unit rules then take a fast path).
    coalesced_at: frozenset[int] = frozenset()
    _family_cache: dict[str, frozenset[str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _unit_cache: dict[tuple[tuple[str, ...], int], list[Unit]] = field(
        default_factory=dict, repr=False
    )
    _rows_cache: dict[int, list[list[Lesion]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def single_lesion_units(self) -> bool:
        """No fragment and no coalesced row: every lesion is its own unit everywhere.

        Most patients; the rules over units then take fast paths that tests check equal to
        the unit rules (tests/criteria/test_fast_paths.py).
        """
        return not self.roots and not self.coalesced_at

    @property
    def count(self) -> int:
        """Number of assessments from baseline on."""
        return len(self.assessments)

    def label(self, index: int) -> str:
        """Name of an assessment in reasons: ``baseline`` or ``TP2``."""
        return self.assessments[index].label

    def lesion(self, lesion_id: str) -> Lesion:
        """The lesion of an id."""
        return self.record.lesions[lesion_id]

    def has_row(self, lesion_id: str, index: int) -> bool:
        """Whether a lesion has a row (or is covered by itself) at an assessment."""
        return self.states[lesion_id][index] is not None

    def rows(self, lesions: Iterable[Lesion], index: int) -> list[Lesion]:
        """The lesions that have a row at an assessment (fragments, carriers, coalesced).

        For the timeline's own groups (`targets`, `non_targets`, `new_lesions`) the list is
        made once per assessment and shared: read it, do not modify it.
        """
        if lesions is self.targets or lesions is self.non_targets or lesions is self.new_lesions:
            per_index = self._rows_cache.get(id(lesions))
            if per_index is None:  # every assessment at once: each is asked for many times
                columns = [self.states[lesion.lesion_id] for lesion in lesions]
                per_index = self._rows_cache[id(lesions)] = [
                    [
                        lesion
                        for lesion, states in zip(lesions, columns, strict=True)
                        if states[k] is not None
                    ]
                    for k in range(len(self.assessments))
                ]
            return per_index[index]
        return [lesion for lesion in lesions if self.states[lesion.lesion_id][index] is not None]

    def is_coalesced(self, lesion_id: str, index: int) -> bool:
        """Whether a lesion's row at an assessment is coalesced into another lesion's."""
        return self.coalesced[lesion_id][index] is not None

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

    def family_first_index(self, root: str, *, unequivocal: bool) -> int | None:
        """First assessment where a lesion or one of its fragments is seen."""
        found = [
            self.first_index(lid, unequivocal=unequivocal) for lid in self.families.get(root, [])
        ]
        known = [index for index in found if index is not None]
        return min(known) if known else None

    def family(self, root: str) -> frozenset[str]:
        """A root lesion and its fragments (the root alone when it has none), made once."""
        found = self._family_cache.get(root)
        if found is None:
            found = self._family_cache[root] = frozenset(self.families.get(root, [root]))
        return found

    def root(self, lesion_id: str) -> str:
        """The lesion a fragment (or a fragment of a fragment) split from; itself otherwise."""
        return self.roots.get(lesion_id, lesion_id)

    # -- lesion units (criteria.md section 1, amended 2026-12) ------------------------------
    def units(self, lesions: Iterable[Lesion], index: int) -> list[Unit]:
        """The lesion units at an assessment among `lesions` that have a row there.

        Units are the connected groups formed by `part_of` (over the whole course) and by
        `coalesced_into` at this assessment; a unit lists its split lesions too.
        """
        lesions = list(lesions)
        key = (tuple(lesion.lesion_id for lesion in lesions), index)
        cached = self._unit_cache.get(key)
        if cached is not None:
            return cached
        if not self.roots and index not in self.coalesced_at:
            # No fragments, nothing coalesced here: every lesion with a row is its own unit.
            # (In the group's own order: first appearance, then lesion id.)
            units = [frozenset((lesion.lesion_id,)) for lesion in self.rows(lesions, index)]
            self._unit_cache[key] = units
            return units
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        def union(a: str, b: str) -> None:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb, key=natural_key)] = min(ra, rb, key=natural_key)

        present = [lesion.lesion_id for lesion in self.rows(lesions, index)]
        for lid in present:
            root = self.root(lid)
            for member in (lid, root):
                parent.setdefault(member, member)
            union(lid, root)
            carrier = self.coalesced[lid][index]
            if carrier is not None:
                carrier_root = self.root(carrier)
                for member in (carrier, carrier_root):
                    parent.setdefault(member, member)
                union(lid, carrier)
                union(carrier, carrier_root)
        groups: dict[str, set[str]] = {}
        for lid in list(parent):
            groups.setdefault(find(lid), set()).add(lid)
        # Every member of a family belongs with it (a split lesion without a row, fragments
        # not yet seen are listed but add nothing).
        units = []
        for members in groups.values():
            everyone = set()
            for lid in members:
                everyone.update(self.families.get(self.root(lid), [lid]))
            units.append(frozenset(everyone))
        units.sort(key=lambda unit: natural_key(min(unit, key=natural_key)))
        self._unit_cache[key] = units
        return units

    def unit_rows(self, unit: Unit, index: int) -> list[str]:
        """The lesions of a unit that have a row at an assessment."""
        if len(unit) == 1:
            (lid,) = unit
            return [lid] if self.states[lid][index] is not None else []
        return sorted(
            (lid for lid in unit if self.states[lid][index] is not None), key=natural_key
        )

    def unit_is_mixed(self, unit: Unit, index: int) -> bool:
        """Whether a lesion of the unit was coalesced with, or carried, one outside it there.

        Such assessments give no earlier diameter for the unit (criteria.md section 1: they
        are skipped like not-evaluated ones).
        """
        if index not in self.coalesced_at:
            return False
        for lid, carriers in self.coalesced.items():
            carrier = carriers[index]
            if carrier is not None and ((lid in unit) != (carrier in unit)):
                return True
        return False

    def unit_diameter(self, unit: Unit, index: int, *, history: bool = False) -> float | None:
        """Sum of the unit's rows at an assessment (coalesced 0), None when one has no size.

        With `history`, an assessment where the unit was mixed with another lesion gives None.
        """
        if len(unit) == 1:
            (lid,) = unit
            if self.states[lid][index] is None:
                return None
            if history and self.unit_is_mixed(unit, index):
                return None
            return self.diameters[lid][index]
        rows = self.unit_rows(unit, index)
        if not rows or (history and self.unit_is_mixed(unit, index)):
            return None
        total = 0.0
        for lid in rows:
            diameter = self.diameters[lid][index]
            if diameter is None:
                return None
            total += diameter
        return total

    def unit_nadir(self, unit: Unit, index: int, start: int = 0) -> float | None:
        """Smallest diameter of a unit over the assessments `start`..`index` - 1."""
        if len(unit) == 1 and start == 0 and not self.coalesced_at:
            (lid,) = unit
            return self.nadirs[lid][index]  # nothing coalesced: the lesion's running nadir
        values = [self.unit_diameter(unit, j, history=True) for j in range(start, index)]
        known = [value for value in values if value is not None]
        return min(known) if known else None

    def unit_resolved(self, unit: Unit, index: int) -> bool:
        """CR of a unit: non-nodal rows absent, each nodal row < 10 mm short axis."""
        rows = [lid for lid in self.unit_rows(unit, index) if not self.is_coalesced(lid, index)]
        return bool(rows) and all(self.row_resolved(lid, index) for lid in rows)

    def row_resolved(self, lesion_id: str, index: int) -> bool:
        """Absent, or for a node a short axis below 10 mm (RECIST 1.1 section 4.3.1 CR)."""
        state = self.states[lesion_id][index]
        if state is LesionState.ABSENT:
            return True
        diameter = self.diameters[lesion_id][index]
        if diameter is None:
            return False
        if self.lesion(lesion_id).nodal:
            return below(diameter, self.criteria.node_normal_mm)
        return diameter <= 0.0


def has_baseline(record: PatientRecord) -> bool:
    """Whether a record has the baseline (time point 0) `build_timeline` needs."""
    return any(a.timepoint == 0 for a in record.assessments)


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
    # Time origin (criteria.md, amended 2026-12): treatment start when given, else baseline.
    origin = record.treatment_start or baseline_date
    origin_days = [(a.date - origin).days for a in assessments]
    too_small = criteria.too_small_mm
    roots = _roots(record)
    families: dict[str, list[str]] = {}
    for lesion_id in sorted(record.lesions, key=natural_key):
        families.setdefault(roots.get(lesion_id, lesion_id), []).append(lesion_id)

    states: dict[str, list[LesionState | None]] = {}
    diameters: dict[str, list[float | None]] = {}
    long_axes: dict[str, list[float | None]] = {}
    short_axes: dict[str, list[float | None]] = {}
    coalesced: dict[str, list[str | None]] = {}
    first_row: dict[str, int] = {}
    recheck: list[tuple[int, str]] = []
    split_at = _split_indices(record, assessments, roots)
    measured, too_small_state, absent = (
        LesionState.MEASURED, LesionState.TOO_SMALL, LesionState.ABSENT
    )
    not_evaluated = LesionState.NOT_EVALUATED
    rows_of = [assessment.measurements for assessment in assessments]
    count = len(assessments)
    for lesion_id, lesion in record.lesions.items():
        lesion_states: list[LesionState | None] = [None] * count
        lesion_diameters: list[float | None] = [None] * count
        lesion_long: list[float | None] = [None] * count
        lesion_short: list[float | None] = [None] * count
        lesion_coalesced: list[str | None] = [None] * count
        covered = False
        end = split_at.get(lesion_id)
        nodal = lesion.nodal
        for index, rows in enumerate(rows_of):
            if end is not None and index >= end:
                # criteria.md section 1 (amended 2026-12): a split lesion is assessed through
                # its fragments from the first fragment row on.
                break  # no row of its own from here on (not covered: None)
            measurement = rows.get(lesion_id)
            if measurement is None:
                if covered:
                    lesion_states[index] = not_evaluated
                continue
            if not covered:
                covered = True
                first_row.setdefault(lesion_id, index)
            state = lesion_states[index] = measurement.state
            carrier = measurement.coalesced_into
            # Measurement.diameter_mm, and the two axes (coalesced rows count 0 mm).
            if state is measured:
                long_mm, short_mm = measurement.long_axis_mm, measurement.short_axis_mm
                lesion_diameters[index] = short_mm if nodal else long_mm
            elif state is too_small_state:
                lesion_diameters[index] = long_mm = short_mm = too_small
            elif state is absent:
                lesion_diameters[index] = long_mm = short_mm = 0.0
            else:
                long_mm = short_mm = None
            if carrier is not None:
                lesion_coalesced[index] = carrier
                long_mm = short_mm = 0.0
            lesion_long[index] = long_mm
            lesion_short[index] = short_mm
        if lesion.role is Role.NEW and lesion.nodal:
            counted = _new_node_rows(lesion_states, lesion_diameters, criteria)
            for k, row_state in enumerate(lesion_states):
                if row_state is None:
                    lesion_long[k] = lesion_short[k] = None
                    lesion_coalesced[k] = None
                elif counted is not None and k >= counted and lesion_diameters[k] == 0.0:
                    lesion_long[k] = lesion_short[k] = 0.0
            for k in range(counted if counted is not None else len(assessments), len(assessments)):
                size = lesion_diameters[k]
                if (
                    lesion_states[k] is LesionState.MEASURED
                    and size is not None
                    and at_least(size, criteria.node_normal_mm)
                    and below(size, criteria.node_measurable_min_mm)
                    and lesion_coalesced[k] is None
                ):
                    recheck.append((k, lesion_id))  # criteria.md section 1: new-node-recheck
            rows_left = [k for k, state in enumerate(lesion_states) if state is not None]
            if rows_left:
                first_row[lesion_id] = rows_left[0]
            else:
                first_row.pop(lesion_id, None)
        states[lesion_id] = lesion_states
        diameters[lesion_id] = lesion_diameters
        long_axes[lesion_id] = lesion_long
        short_axes[lesion_id] = lesion_short
        coalesced[lesion_id] = lesion_coalesced

    nadirs = {lid: _running_nadir(values) for lid, values in diameters.items()}

    def order(lesion: Lesion) -> tuple[int, tuple[object, ...]]:
        return first_row.get(lesion.lesion_id, len(assessments)), natural_key(lesion.lesion_id)

    def has_rows(lesion: Lesion) -> bool:
        return any(state is not None for state in states[lesion.lesion_id])

    lesions = sorted(record.lesions.values(), key=order)
    return Timeline(
        record=record,
        criteria=criteria,
        assessments=assessments,
        days=days,
        targets=[les for les in lesions if les.role is Role.TARGET and has_rows(les)],
        non_targets=[les for les in lesions if les.role is Role.NON_TARGET and has_rows(les)],
        new_lesions=[les for les in lesions if les.role is Role.NEW and has_rows(les)],
        states=states,
        diameters=diameters,
        pre_baseline=[a for a in record.assessments if a.timepoint < 0],
        nadirs=nadirs,
        origin_days=origin_days,
        time_origin=origin,
        coalesced=coalesced,
        roots=roots,
        families=families,
        new_node_recheck=sorted(recheck, key=lambda item: (item[0], natural_key(item[1]))),
        long_axes=long_axes,
        short_axes=short_axes,
        coalesced_at=frozenset(
            k for values in coalesced.values() for k, carrier in enumerate(values) if carrier
        ),
    )


def _roots(record: PatientRecord) -> dict[str, str]:
    """The root of each fragment: fragments of fragments resolve to the first lesion."""
    roots: dict[str, str] = {}
    for lesion_id in record.lesions:
        current, seen = lesion_id, {lesion_id}
        while True:
            parent = record.lesions[current].part_of
            if parent is None or parent not in record.lesions or parent in seen:
                break
            seen.add(parent)
            current = parent
        if current != lesion_id:
            roots[lesion_id] = current
    return roots


def _split_indices(
    record: PatientRecord, assessments: list[Assessment], roots: dict[str, str]
) -> dict[str, int]:
    """For each lesion that has split: the first assessment with a row of a direct fragment."""
    split: dict[str, int] = {}
    for lesion in record.lesions.values():
        parent = lesion.part_of
        if parent is None or parent not in record.lesions:
            continue
        for index, assessment in enumerate(assessments):
            if lesion.lesion_id in assessment.measurements:
                split[parent] = min(split.get(parent, index), index)
                break
    return split


def _new_node_rows(
    states: list[LesionState | None], diameters: list[float | None], criteria: Criteria
) -> int | None:
    """Apply criteria.md section 1 "New lymph nodes" (amended 2026-12) to a new node's rows.

    RWG FAQ "New lymph node lesions": nodes < 10 mm short axis are non-pathological. Before
    the first assessment where the node counts (short axis >= 10 mm, or present, increase,
    progression) its rows are ignored, except `equivocal` ones; afterwards a short axis
    < 10 mm counts as absent. Returns the index where it first counts (None: never).
    """
    counted: int | None = None
    for index, state in enumerate(states):
        if state is None:
            continue
        size = diameters[index]
        if state in _NODE_COUNTING_STATES or (
            state is LesionState.MEASURED
            and size is not None
            and at_least(size, criteria.node_normal_mm)
        ):
            counted = index
            break
    end = len(states) if counted is None else counted
    for index in range(end):
        if states[index] is not LesionState.EQUIVOCAL:
            states[index] = None
            diameters[index] = None
    if counted is not None:
        for index in range(counted, len(states)):
            size = diameters[index]
            if (
                states[index] in (LesionState.MEASURED, LesionState.TOO_SMALL)
                and size is not None
                and below(size, criteria.node_normal_mm)
            ):
                states[index] = LesionState.ABSENT  # "afterwards < 10 mm counts as absent"
                diameters[index] = 0.0
    return counted


def _running_nadir(diameters: list[float | None]) -> list[float | None]:
    """For each assessment, the smallest earlier diameter (the current one excluded)."""
    nadirs: list[float | None] = []
    smallest: float | None = None
    for diameter in diameters:
        nadirs.append(smallest)
        if diameter is not None and (smallest is None or diameter < smallest):
            smallest = diameter
    return nadirs
