"""Lesion-level response: RECIST thresholds applied to one lesion unit (seed 001).

shared/spec/criteria.md section 3: change from the lesion's own baseline and own nadir;
plain arithmetic per assessment, no continued PR at lesion level. (amended 2026-12) Split and
coalesced lesions are classified as units (criteria.md section 1, "Lesions that split or
coalesce"): every lesion of a unit reports the unit's response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from napari_recist.criteria.numbers import (
    at_most,
    fmt_mm,
    fmt_pct,
    fmt_signed_mm,
    increase_meets,
    percent_change,
)
from napari_recist.criteria.recist import CR, NA, NE, NON_CR_NON_PD, PD, PR, SD
from napari_recist.criteria.settings import Criteria
from napari_recist.criteria.timeline import Timeline, Unit
from napari_recist.frozen import RebuiltByConstructor
from napari_recist.model import LesionState, Role, natural_key
from napari_recist.vocabulary import Response

NEW: Final = Response.NEW
_SIZE_STATES: Final = frozenset({LesionState.MEASURED, LesionState.ABSENT, LesionState.TOO_SMALL})


def _uncounted_equivocal_node(timeline: Timeline, lesion_id: str, index: int) -> bool:
    """An `equivocal` row of a new lymph node before the node first counts as a new lesion.

    criteria.md section 1, "New lymph nodes" (amended 2026-12): "its lesion-level response is
    `NA` until it first counts", also at an `equivocal` row (which only moves the progression
    date back). Before the node counts only its `equivocal` rows are kept (timeline).
    """
    lesion = timeline.lesion(lesion_id)
    states = timeline.states[lesion_id]
    return (
        lesion.role is Role.NEW
        and lesion.nodal
        and states[index] is LesionState.EQUIVOCAL
        and all(state is None or state is LesionState.EQUIVOCAL for state in states[:index])
    )


def _uncounted_node_response(lesion_id: str, name: str, diameter: float | None) -> LesionResponse:
    return LesionResponse(
        NA, None, None, None, name,
        note=f"NA: new lymph node {lesion_id} is equivocal and does not count as a new lesion "
        "yet (RWG FAQ)",
        own_mm=diameter,
    )

# A lesion known only by its state (criteria.md section 3).
_STATE_RESPONSE: Final = {
    LesionState.ABSENT: CR,
    LesionState.PRESENT: NON_CR_NON_PD,
    LesionState.EQUIVOCAL: NON_CR_NON_PD,
    LesionState.PROGRESSION: PD,
    LesionState.INCREASE: PD,
    LesionState.NOT_EVALUATED: NE,
}


@dataclass(frozen=True)
class LesionResponse(RebuiltByConstructor):
    """One lesion (unit) at one assessment; the reason is written only when asked for."""

    response: str
    diameter_mm: float | None
    change_from_baseline_pct: float | None
    change_from_nadir_pct: float | None
    lesion_id: str = ""
    baseline_mm: float | None = None
    nadir_mm: float | None = None
    note: str = ""
    own_mm: float | None = None  # the lesion's own row diameter (the unit's is diameter_mm)

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self,
        response: str,
        diameter_mm: float | None,
        change_from_baseline_pct: float | None,
        change_from_nadir_pct: float | None,
        lesion_id: str = "",
        baseline_mm: float | None = None,
        nadir_mm: float | None = None,
        note: str = "",
        own_mm: float | None = None,
    ) -> None:
        object.__setattr__(self, "response", response)
        object.__setattr__(self, "diameter_mm", diameter_mm)
        object.__setattr__(self, "change_from_baseline_pct", change_from_baseline_pct)
        object.__setattr__(self, "change_from_nadir_pct", change_from_nadir_pct)
        object.__setattr__(self, "lesion_id", lesion_id)
        object.__setattr__(self, "baseline_mm", baseline_mm)
        object.__setattr__(self, "nadir_mm", nadir_mm)
        object.__setattr__(self, "note", note)
        object.__setattr__(self, "own_mm", own_mm)

    def with_own_mm(self, own_mm: float | None) -> LesionResponse:
        """The same response given to one lesion of the unit, with that lesion's own row size."""
        return LesionResponse(
            self.response, self.diameter_mm, self.change_from_baseline_pct,
            self.change_from_nadir_pct, self.lesion_id, self.baseline_mm, self.nadir_mm,
            self.note, own_mm,
        )

    @property
    def reason(self) -> str:
        """One line with the numbers behind the response."""
        note = self.note
        if note:
            return note
        response, diameter, lid = self.response, self.diameter_mm, self.lesion_id
        from_baseline, from_nadir = self.change_from_baseline_pct, self.change_from_nadir_pct
        baseline_mm, nadir_mm = self.baseline_mm, self.nadir_mm
        size = f"{lid} {fmt_mm(diameter or 0.0)} mm"
        if response == CR:
            return f"CR: {size}" + (" (node < 10 mm)" if diameter else "")
        if response == PD and nadir_mm is not None:
            return (
                f"PD: {size} is {fmt_pct(from_nadir)} and "
                f"{fmt_signed_mm((diameter or 0.0) - nadir_mm)} mm from its nadir "
                f"{fmt_mm(nadir_mm)} mm"
            )
        baseline = (
            f"{fmt_pct(from_baseline)} from baseline {fmt_mm(baseline_mm)} mm"
            if baseline_mm is not None
            else "no baseline size"
        )
        if response == PR:
            return f"PR: {size} is {baseline}"
        nadir = (
            f"{fmt_pct(from_nadir)} from nadir {fmt_mm(nadir_mm)} mm"
            if nadir_mm is not None
            else "no earlier size"
        )
        return f"SD: {size} is {baseline}, {nadir}"


def _unit_name(unit: Unit, rows: list[str]) -> str:
    if len(unit) == 1:
        return next(iter(unit))
    return "+".join(rows or sorted(unit, key=natural_key))


def _size_verdict(resolved: bool, diameter: float, nadir: float | None,
                  from_baseline: float | None, c: Criteria) -> Response:
    """A measured lesion unit's response from its size, in the rules' order.

    CR when `resolved` (absent, or a node < 10 mm: RECIST 1.1 section 4.3.1 applied to one
    lesion); PD at >= +20 % and >= ``lesion_min_increase_mm`` from the unit's own nadir; PR at
    <= -30 % from its own baseline (an unknown baseline never meets it); else SD.
    """
    if resolved:
        return CR
    if nadir is not None and increase_meets(diameter, nadir, c.pd_pct,
                                            c.lesion_min_increase_mm):
        return PD
    if from_baseline is not None and at_most(from_baseline, c.pr_pct):
        return PR
    return SD


def unit_response(timeline: Timeline, unit: Unit, index: int) -> LesionResponse:
    """Return the response of one lesion unit at one follow-up (criteria.md section 3).

    Parameters
    ----------
    timeline
        The patient's lesions per assessment.
    unit
        The lesion ids of the unit (`Timeline.units`).
    index
        The follow-up (1..), or 0 for the baseline (NA).

    Returns
    -------
    LesionResponse
        CR / PR / SD / PD / NE / NON-CR/NON-PD / NEW with the numbers behind it.
    """
    rows = timeline.unit_rows(unit, index)
    name = _unit_name(unit, rows)
    diameter = timeline.unit_diameter(unit, index)
    if index == 0 or not rows:
        return LesionResponse(NA, diameter, None, None, name, note="baseline" if index == 0 else "")
    states = [timeline.states[lid][index] for lid in rows if not timeline.is_coalesced(lid, index)]
    role = timeline.lesion(rows[0]).role
    if role is Role.NEW:
        if all(_uncounted_equivocal_node(timeline, lid, index) for lid in rows):
            return _uncounted_node_response(rows[0], name, diameter)
        if all(state is LesionState.NOT_EVALUATED for state in states) and states:
            return LesionResponse(NE, None, None, None, name, note=f"NE: {name} not evaluated")
        return LesionResponse(NEW, diameter, None, None, name, note=f"NEW: {name} appeared after "
                              "baseline")
    # A unit with a row known only by a state has no diameter: classified by state
    # (criteria.md section 1, amended 2026-12): PD, else NE, else NON-CR/NON-PD.
    if any(state not in _SIZE_STATES for state in states) or diameter is None:
        words = {state for state in states if state is not None}
        if words & {LesionState.PROGRESSION, LesionState.INCREASE}:
            response = PD
        elif LesionState.NOT_EVALUATED in words:
            response = NE
        elif words <= {LesionState.ABSENT}:
            response = CR
        else:
            response = NON_CR_NON_PD
        described = ", ".join(
            f"{lid} {timeline.states[lid][index]}" for lid in rows
            if not timeline.is_coalesced(lid, index)
        )
        return LesionResponse(response, None, None, None, name, note=f"{response}: {described}")
    c = timeline.criteria
    baseline = timeline.unit_diameter(unit, 0, history=True)
    nadir = timeline.unit_nadir(unit, index)
    from_baseline = percent_change(diameter, baseline) if baseline is not None else None
    from_nadir = percent_change(diameter, nadir) if nadir is not None else None
    # CR: absent, a node < 10 mm short axis (RECIST 1.1 4.3.1 applied to one lesion); a nodal
    # unit is CR when each nodal row is < 10 mm, whatever their sum (amended 2026-12).
    response = _size_verdict(timeline.unit_resolved(unit, index), diameter, nadir,
                             from_baseline, c)
    return LesionResponse(response, diameter, from_baseline, from_nadir, name, baseline, nadir)


def _listed(timeline: Timeline, unit: Unit, index: int) -> list[str]:
    """Lesions of a unit the output lists: those with a row, and the split lesions above them."""
    if len(unit) == 1:
        return timeline.unit_rows(unit, index)
    rows = set(timeline.unit_rows(unit, index))
    listed = set(rows)
    for lid in rows:
        parent = timeline.lesion(lid).part_of
        while parent is not None and parent not in listed and parent in timeline.record.lesions:
            listed.add(parent)
            parent = timeline.lesion(parent).part_of
    return sorted(listed, key=natural_key)


def lesion_responses(timeline: Timeline, index: int) -> dict[str, LesionResponse]:
    """Return the response of every lesion covered at an assessment, by lesion id."""
    if timeline.single_lesion_units:
        return _single_lesion_responses(timeline, index)
    return unit_lesion_responses(timeline, index)


def _single_lesion_responses(timeline: Timeline, index: int) -> dict[str, LesionResponse]:
    """`unit_lesion_responses` when every lesion is its own unit (no fragment, no coalescence).

    The same rules as `unit_response` for a unit of one lesion, without building units:
    most patients have neither fragments nor coalesced rows. tests/criteria/test_fast_paths.py
    checks it equal to `unit_lesion_responses` (the reference) field by field.
    """
    responses: dict[str, LesionResponse] = {}
    states, diameters, nadirs = timeline.states, timeline.diameters, timeline.nadirs
    c = timeline.criteria
    for group in (timeline.targets, timeline.non_targets, timeline.new_lesions):
        for lesion in group:
            lid = lesion.lesion_id
            state = states[lid][index]
            if state is None:
                continue  # no row here: not covered
            diameter = diameters[lid][index]
            if index == 0:
                responses[lid] = LesionResponse(
                    NA, diameter, None, None, lid, note="baseline", own_mm=diameter
                )
                continue
            if lesion.role is Role.NEW:
                if state is LesionState.EQUIVOCAL and _uncounted_equivocal_node(
                    timeline, lid, index
                ):
                    responses[lid] = _uncounted_node_response(lid, lid, diameter)
                elif state is LesionState.NOT_EVALUATED:
                    responses[lid] = LesionResponse(
                        NE, None, None, None, lid, note=f"NE: {lid} not evaluated", own_mm=diameter
                    )
                else:
                    responses[lid] = LesionResponse(
                        NEW, diameter, None, None, lid, note=f"NEW: {lid} appeared after baseline",
                        own_mm=diameter,
                    )
                continue
            if state not in _SIZE_STATES or diameter is None:
                if state is LesionState.PROGRESSION or state is LesionState.INCREASE:
                    response = PD
                elif state is LesionState.NOT_EVALUATED:
                    response = NE
                elif state is LesionState.ABSENT:
                    response = CR
                else:
                    response = NON_CR_NON_PD
                responses[lid] = LesionResponse(
                    response, None, None, None, lid, note=f"{response}: {lid} {state}",
                    own_mm=diameter,
                )
                continue
            baseline = diameters[lid][0] if states[lid][0] is not None else None
            nadir = nadirs[lid][index]
            from_baseline = percent_change(diameter, baseline) if baseline is not None else None
            from_nadir = percent_change(diameter, nadir) if nadir is not None else None
            # The rules of `unit_response` (`_size_verdict`) on a single-lesion unit.
            response = _size_verdict(timeline.row_resolved(lid, index), diameter, nadir,
                                     from_baseline, c)
            responses[lid] = LesionResponse(
                response, diameter, from_baseline, from_nadir, lid, baseline, nadir,
                own_mm=diameter,
            )
    _add_uncounted_new_nodes(timeline, index, responses)
    return responses


def unit_lesion_responses(timeline: Timeline, index: int) -> dict[str, LesionResponse]:
    """`lesion_responses` through lesion units: the general rules and the reference."""
    responses: dict[str, LesionResponse] = {}
    for group in (timeline.targets, timeline.non_targets, timeline.new_lesions):
        for unit in timeline.units(group, index):
            response = unit_response(timeline, unit, index)
            for lid in _listed(timeline, unit, index):
                responses[lid] = response.with_own_mm(timeline.diameters[lid][index])
    _add_uncounted_new_nodes(timeline, index, responses)
    return responses


def _add_uncounted_new_nodes(
    timeline: Timeline, index: int, responses: dict[str, LesionResponse]
) -> None:
    assessment = timeline.assessments[index]
    # criteria.md section 1 (amended 2026-12): a new node before it counts is `NA`.
    for lesion in timeline.record.lesions.values():
        if (
            lesion.role is Role.NEW
            and lesion.lesion_id not in responses
            and lesion.lesion_id in assessment.measurements
            and index > 0
        ):
            responses[lesion.lesion_id] = LesionResponse(
                NA, None, None, None, lesion.lesion_id,
                note=f"NA: new lymph node {lesion.lesion_id} < "
                f"{fmt_mm(timeline.criteria.node_normal_mm)} mm short axis is not a new lesion "
                "(RWG FAQ)",
            )
