"""Lesion-level response: RECIST thresholds applied to one lesion (seed 001).

shared/spec/criteria.md section 3: change from the lesion's own baseline and own nadir;
plain arithmetic per assessment, no continued PR at lesion level.
"""

from __future__ import annotations

from typing import NamedTuple

from napari_recist.criteria.numbers import fmt_mm, fmt_pct, fmt_signed_mm, increase_meets
from napari_recist.criteria.recist import CR, NA, NE, NON_CR_NON_PD, PD, PR, SD
from napari_recist.criteria.settings import EPSILON
from napari_recist.criteria.timeline import Timeline
from napari_recist.model import Lesion, LesionState, Role
from napari_recist.vocabulary import Response

NEW = Response.NEW
_NOT_EVALUATED = LesionState.NOT_EVALUATED
_ABSENT = LesionState.ABSENT

# A lesion known only by its state (criteria.md section 3).
_STATE_RESPONSE = {
    LesionState.ABSENT: CR,
    LesionState.PRESENT: NON_CR_NON_PD,
    LesionState.EQUIVOCAL: NON_CR_NON_PD,
    LesionState.PROGRESSION: PD,
    LesionState.INCREASE: PD,
    LesionState.NOT_EVALUATED: NE,
}


class LesionResponse(NamedTuple):
    """One lesion at one assessment; the reason is written only when asked for."""

    response: str
    diameter_mm: float | None
    change_from_baseline_pct: float | None
    change_from_nadir_pct: float | None
    lesion_id: str = ""
    baseline_mm: float | None = None
    nadir_mm: float | None = None
    note: str = ""

    @property
    def reason(self) -> str:
        """One line with the numbers behind the response."""
        if self.note:
            return self.note
        size = f"{self.lesion_id} {fmt_mm(self.diameter_mm or 0.0)} mm"
        if self.response == CR:
            return f"CR: {size}" + (" (node < 10 mm)" if self.diameter_mm else "")
        if self.response == PD and self.nadir_mm is not None:
            return (
                f"PD: {size} is {fmt_pct(self.change_from_nadir_pct)} and "
                f"{fmt_signed_mm((self.diameter_mm or 0.0) - self.nadir_mm)} mm from its nadir "
                f"{fmt_mm(self.nadir_mm)} mm"
            )
        baseline = fmt_mm(self.baseline_mm or 0.0)
        if self.response == PR:
            change = fmt_pct(self.change_from_baseline_pct)
            return f"PR: {size} is {change} from its baseline {baseline} mm"
        return (
            f"SD: {size} is {fmt_pct(self.change_from_baseline_pct)} from baseline {baseline} mm, "
            f"{fmt_pct(self.change_from_nadir_pct)} from nadir {fmt_mm(self.nadir_mm or 0.0)} mm"
        )


def lesion_response(timeline: Timeline, lesion: Lesion, index: int) -> LesionResponse:
    """Return the response of one lesion at one follow-up.

    Parameters
    ----------
    timeline
        The patient's lesions per assessment.
    lesion
        The lesion.
    index
        The follow-up (1..), or 0 for the baseline (NA).

    Returns
    -------
    LesionResponse
        CR / PR / SD / PD / NE / NON-CR/NON-PD / NEW with the numbers behind it.
    """
    lesion_id = lesion.lesion_id
    state = timeline.states[lesion_id][index]
    diameters = timeline.diameters[lesion_id]
    diameter = diameters[index]
    if index == 0 or state is None:
        return LesionResponse(NA, diameter, None, None, note="baseline" if index == 0 else "")
    if state is _NOT_EVALUATED:
        return LesionResponse(NE, None, None, None, note=f"NE: {lesion_id} not evaluated")
    if lesion.role is Role.NEW:
        return LesionResponse(
            NEW, diameter, None, None, note=f"NEW: {lesion_id} appeared after baseline"
        )
    baseline = diameters[0]
    nadir = timeline.nadirs[lesion_id][index]
    if diameter is None or baseline is None or nadir is None:
        response = _STATE_RESPONSE.get(state, NON_CR_NON_PD)
        return LesionResponse(
            response, diameter, None, None, note=f"{response}: {lesion_id} {state}"
        )
    c = timeline.criteria
    from_baseline = (diameter - baseline) / baseline * 100.0 if baseline else None
    from_nadir = (diameter - nadir) / nadir * 100.0 if nadir else None
    # CR: absent, a node < 10 mm short axis (RECIST 1.1 4.3.1 applied to one lesion).
    if state is _ABSENT or (
        diameter < c.node_normal_mm - EPSILON if lesion.nodal else diameter <= EPSILON
    ):
        response = CR
    # PD: >= +20 % and >= lesion_min_increase_mm from the lesion's own nadir.
    elif increase_meets(diameter, nadir, c.pd_pct, c.lesion_min_increase_mm):
        response = PD
    # PR: <= -30 % from the lesion's own baseline.
    elif from_baseline is not None and from_baseline <= c.pr_pct + EPSILON:
        response = PR
    else:
        response = SD
    return LesionResponse(response, diameter, from_baseline, from_nadir, lesion_id, baseline, nadir)


def lesion_responses(timeline: Timeline, index: int) -> dict[str, LesionResponse]:
    """Return the response of every lesion covered at an assessment, by lesion id."""
    responses: dict[str, LesionResponse] = {}
    for group in (timeline.targets, timeline.non_targets, timeline.new_lesions):
        for lesion in group:
            if timeline.states[lesion.lesion_id][index] is not None:
                responses[lesion.lesion_id] = lesion_response(timeline, lesion, index)
    return responses
