"""imRECIST: the sum of targets and new measurable lesions, PD negated by a later scan.

Source: Hodi et al., J Clin Oncol 2018;36:850 (abstract), with the rules from secondary
tables (Jia et al., Cancer Biol Med 2019, Table 2; PMC6942076 Table 3; PMC8365813 Table 6), as
written down in shared/spec/criteria.md section 7 (new 2026-12).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from napari_recist.criteria.irecist import new_lesion_targets
from napari_recist.criteria.numbers import (
    at_least,
    at_most,
    fmt_mm,
    fmt_pct,
    fmt_signed_mm,
    increase_meets,
    percent_change,
)
from napari_recist.criteria.recist import RecistTimepoint
from napari_recist.criteria.timeline import Timeline
from napari_recist.frozen import RebuiltByConstructor
from napari_recist.model import LesionState
from napari_recist.vocabulary import ImResponse

CR: Final = ImResponse.CR
PR: Final = ImResponse.PR
SD: Final = ImResponse.SD
PD: Final = ImResponse.PD
NE: Final = ImResponse.NE
NA: Final = ImResponse.NA
_RANK: Final[dict[str, int]] = {CR: 4, PR: 3, SD: 2, PD: 1}


@dataclass
class ImrecistTimepoint(RebuiltByConstructor):
    """imRECIST verdict at one assessment, with the sum behind it."""

    index: int
    response: str
    reason: str
    sum_mm: float | None = None

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self, index: int, response: str, reason: str, sum_mm: float | None = None
    ) -> None:
        self.index = index
        self.response = response
        self.reason = reason
        self.sum_mm = sum_mm


@dataclass
class ImrecistResult(RebuiltByConstructor):
    """imRECIST over a patient's assessments (index 0 is the baseline)."""

    timepoints: list[ImrecistTimepoint]
    best_overall_response: str
    best_overall_reason: str
    progression_date: dt.date | None
    progression_reason: str
    standing_pd_index: int | None

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self,
        timepoints: list[ImrecistTimepoint],
        best_overall_response: str,
        best_overall_reason: str,
        progression_date: dt.date | None,
        progression_reason: str,
        standing_pd_index: int | None,
    ) -> None:
        self.timepoints = timepoints
        self.best_overall_response = best_overall_response
        self.best_overall_reason = best_overall_reason
        self.progression_date = progression_date
        self.progression_reason = progression_reason
        self.standing_pd_index = standing_pd_index


def pd_stands(
    days: Sequence[int], responses: Sequence[str], index: int, pd: str, min_days: int
) -> tuple[bool, int | None]:
    """Whether a PD at `index` stands, and the assessment that decided it.

    criteria.md section 7 (amended 2026-12; PMC6942076 Table 3: "Negated by subsequent
    non-PD assessment >= 4 weeks"): the first assessment j at least `min_days` after i whose
    response is not NE decides: not PD negates, PD (or no such j) lets it stand. Scans less
    than `min_days` after i neither negate nor confirm it.
    """
    for j in range(index + 1, len(responses)):
        if days[j] - days[index] < min_days or responses[j] == NE:
            continue
        return responses[j] == pd, j
    return True, None


def _new_measurable_sum(
    timeline: Timeline, roots: set[str], first: dict[str, int | None], index: int
) -> tuple[float, list[str]]:
    """Known part of the new measurable lesions' diameters, and those without a diameter."""
    total, unknown = 0.0, []
    for root in sorted(roots):
        start = first[root]
        if start is None or start > index:
            continue
        family = timeline.family(root)
        diameter = timeline.unit_diameter(family, index)
        if diameter is None:
            unknown.append(root)
            for lid in timeline.unit_rows(family, index):
                total += timeline.diameters[lid][index] or 0.0
        else:
            total += diameter
    return total, unknown


def _new_lesions_absent(timeline: Timeline, index: int) -> list[str]:
    """New lesions not known to be absent (an equivocal or not-evaluated one blocks CR)."""
    return [
        n.lesion_id
        for n in timeline.rows(timeline.new_lesions, index)
        if not timeline.is_coalesced(n.lesion_id, index)
        and not (
            timeline.states[n.lesion_id][index] is LesionState.ABSENT
            or timeline.diameters[n.lesion_id][index] == 0.0
        )
    ]


def classify_imrecist(timeline: Timeline, recist: list[RecistTimepoint]) -> ImrecistResult:
    """Run imRECIST on one patient (criteria.md section 7).

    Parameters
    ----------
    timeline
        The patient's lesions per assessment.
    recist
        RECIST 1.1 time points (the target and non-target responses and the SOD).

    Returns
    -------
    ImrecistResult
        Time-point responses and sums, BOR and progression date; NA without targets.
    """
    c = timeline.criteria
    if not timeline.rows(timeline.targets, 0):
        reason = "NA: no target lesions (imRECIST needs measurable disease)"
        points = [ImrecistTimepoint(i, NA, reason) for i in range(timeline.count)]
        return ImrecistResult(points, NA, reason, None, reason, None)
    # New measurable lesions: the new-lesion targets of iRECIST (criteria.md section 7).
    measurable = new_lesion_targets(timeline)
    first = {
        root: timeline.family_first_index(root, unequivocal=True) for root in measurable
    }
    baseline = recist[0].sod
    points = [
        ImrecistTimepoint(
            0, NA,
            f"baseline: sum {fmt_mm(baseline)} mm" if baseline is not None
            else "baseline: a target has no size, the baseline sum is unknown",
            baseline,
        )
    ]
    nadir, nadir_index = baseline, (0 if baseline is not None else None)
    pr_open = False  # continued PR: after a PR or CR until a PD time point
    for i in range(1, timeline.count):
        r = recist[i]
        new_known, new_unknown = _new_measurable_sum(timeline, measurable, first, i)
        target_rows = timeline.rows(timeline.targets, i)
        target_part = sum(timeline.diameters[t.lesion_id][i] or 0.0 for t in target_rows)
        missing = [
            t.lesion_id for t in target_rows if timeline.diameters[t.lesion_id][i] is None
        ]
        total = target_part + new_known
        known = not missing and not new_unknown
        sum_mm = total if known else None
        news = f" + new {fmt_mm(new_known)} mm" if new_known or measurable else ""
        what = f"sum {fmt_mm(total)} mm (targets {fmt_mm(target_part)} mm{news})"
        nadir_text = (
            f"nadir {fmt_mm(nadir)} mm ({timeline.label(nadir_index)})"
            if nadir is not None and nadir_index is not None else "no nadir"
        )
        pd_met = nadir is not None and increase_meets(
            total, nadir, c.pd_pct, c.pd_min_increase_mm
        )
        still_there = _new_lesions_absent(timeline, i)
        # CR "Per RECIST v1.1" with new lesions resolved (Jia 2019 Table 2; amended 2026-12:
        # no non-target lesions reads as CR).
        if r.target == "CR" and r.non_target in ("CR", "NA") and not still_there and known:
            response, reason = CR, "CR: targets in CR, non-targets absent, no new lesion left"
        elif pd_met:
            assert nadir is not None
            response = PD
            reason = (
                f"PD: {what} is {fmt_pct(percent_change(total, nadir))} and "
                f"{fmt_signed_mm(total - nadir)} mm from {nadir_text}"
            )
            if not known:
                reason += f" (unknown: {', '.join(missing + new_unknown)}, counted 0)"
        elif not known:
            response = NE
            reason = (
                f"NE: {', '.join(missing + new_unknown)} not evaluated or without a size; the "
                f"known {what} is short of PD against {nadir_text}"
            )
        else:
            change = percent_change(total, baseline) if baseline is not None else None
            from_baseline = (
                f"{fmt_pct(change)} from baseline {fmt_mm(baseline)} mm"
                if baseline is not None else "no baseline sum"
            )
            if change is not None and at_most(change, c.pr_pct):
                response, reason = PR, f"PR: {what} is {from_baseline}"
            elif pr_open:
                response = PR
                reason = f"PR (continued): {what} is {from_baseline}, PD not met"
            else:
                response, reason = SD, f"SD: {what} is {from_baseline}, short of PD vs {nadir_text}"
        if response in (CR, PR):
            pr_open = True
        elif response == PD:
            pr_open = False  # after a PD time point, PR needs the sum <= -30 % again
        points.append(ImrecistTimepoint(i, response, reason, sum_mm))
        if sum_mm is not None and (nadir is None or sum_mm < nadir):
            nadir, nadir_index = sum_mm, i
    return _summarise(timeline, points)


def _summarise(timeline: Timeline, points: list[ImrecistTimepoint]) -> ImrecistResult:
    """Negation of PD, the progression date and the BOR (criteria.md section 7)."""
    c = timeline.criteria
    responses = [p.response for p in points]
    standing: int | None = None
    notes: list[str] = []
    for p in points[1:]:
        if p.response != PD:
            continue
        stands, decided = pd_stands(
            timeline.days, responses, p.index, PD, c.imrecist_confirm_min_days
        )
        if stands:
            standing = p.index
            break
        assert decided is not None
        notes.append(
            f"PD at {timeline.label(p.index)} negated by {responses[decided]} at "
            f"{timeline.label(decided)}"
        )
        p.reason += (
            f" (negated by {responses[decided]} at {timeline.label(decided)}, "
            f">= {c.imrecist_confirm_min_days} days later)"
        )
    if standing is not None:
        date = timeline.assessments[standing].date
        date_reason = f"PD at {timeline.label(standing)} ({date.isoformat()}) stands"
    else:
        date = None
        date_reason = "no imRECIST PD that stands" + (f" ({'; '.join(notes)})" if notes else "")
    end = standing if standing is not None else timeline.count - 1
    best: ImrecistTimepoint | None = None
    early_sd = False
    for p in points[1 : end + 1]:
        if p.response == PD and p.index != standing:
            continue  # a negated PD neither counts nor closes the window ("BOR after PD")
        if p.response not in _RANK or p.response == PD:
            continue
        if p.response == SD and not at_least(timeline.origin_days[p.index], c.min_sd_days):
            early_sd = True
            continue
        if best is None or _RANK[p.response] > _RANK[best.response]:
            best = p
    if best is not None:
        bor, reason = best.response, (
            f"{best.response} at {timeline.label(best.index)} (day "
            f"{timeline.origin_days[best.index]} from the time origin)"
        )
    elif standing is not None:
        bor, reason = PD, f"PD at {timeline.label(standing)} stands, no earlier response"
    else:
        bor = NE
        reason = "NE: no assessable response" + (
            f" (SD before day {c.min_sd_days} from the time origin)" if early_sd else ""
        )
    if notes:
        reason += f"; {'; '.join(notes)}"
    return ImrecistResult(points, bor, reason, date, date_reason, standing)
