"""RECIST 1.1 time-point response, best overall response, confirmed BOR, progression date.

Source: Eisenhauer et al., Eur J Cancer 2009 (RECIST 1.1) and the RECIST Working Group FAQ,
as written down in shared/spec/criteria.md section 1.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from napari_recist.criteria.numbers import (
    at_least,
    at_most,
    below,
    fmt_mm,
    fmt_pct,
    fmt_signed_mm,
    increase_meets,
    percent_change,
)
from napari_recist.criteria.timeline import Timeline
from napari_recist.model import Lesion, LesionState
from napari_recist.vocabulary import Response

CR = Response.CR
PR = Response.PR
SD = Response.SD
PD = Response.PD
NE = Response.NE
NA = Response.NA
NON_CR_NON_PD = Response.NON_CR_NON_PD

# Best overall response ranks (shared/spec/criteria.md: CR > PR > SD > NON-CR/NON-PD > PD > NE).
_BOR_RANK = {CR: 5, PR: 4, SD: 3, NON_CR_NON_PD: 2, PD: 1, NE: 0}


@dataclass
class RecistTimepoint:
    """RECIST 1.1 verdicts at one assessment, each with its reason."""

    index: int
    sod: float | None = None
    nadir: float | None = None
    nadir_index: int | None = None
    change_from_baseline_pct: float | None = None
    change_from_nadir_pct: float | None = None
    target: str = NA
    target_reason: str = ""
    non_target: str = NA
    non_target_reason: str = ""
    new_lesions: bool = False
    new_lesion_ids: list[str] = field(default_factory=list)
    new_reason: str = ""
    overall: str = NA
    overall_reason: str = ""
    reappeared_ids: list[str] = field(default_factory=list)


@dataclass
class RecistResult:
    """RECIST 1.1 over a patient's assessments (index 0 is the baseline)."""

    timepoints: list[RecistTimepoint]
    best_overall_response: str
    best_overall_reason: str
    confirmed_best_overall_response: str
    confirmed_reason: str
    first_pd_index: int | None
    progression_date: dt.date | None
    progression_reason: str


def _describe(lesion: Lesion) -> str:
    return f"{lesion.lesion_id} ({lesion.site})"


def _reappeared(timeline: Timeline, lesion: Lesion, index: int) -> bool:
    """A lesion is back after a CR: non-nodal seen again, a node back to >= 10 mm."""
    # RECIST 1.1 section 4.3.1 / RWG FAQ: after CR, reappearance of any lesion is PD.
    if lesion.nodal:
        # A node counts as back only with a short axis of >= 10 mm (criteria.md section 1), or
        # when it is recorded as unequivocal progression; `present` alone gives no size.
        diameter = timeline.diameters[lesion.lesion_id][index]
        if diameter is not None:
            return at_least(diameter, timeline.criteria.node_normal_mm)
        return timeline.states[lesion.lesion_id][index] is LesionState.PROGRESSION
    return timeline.is_present(lesion.lesion_id, index)


def _lesion_resolved(timeline: Timeline, lesion: Lesion, index: int) -> bool:
    """Absent, or for a node a short axis below 10 mm (RECIST 1.1 section 4.3.1 CR)."""
    state = timeline.states[lesion.lesion_id][index]
    if state is LesionState.ABSENT:
        return True
    diameter = timeline.diameters[lesion.lesion_id][index]
    if diameter is None:
        return False
    if lesion.nodal:
        return below(diameter, timeline.criteria.node_normal_mm)
    return at_most(diameter, 0.0)


def _target_response(
    timeline: Timeline,
    tp: RecistTimepoint,
    baseline_sod: float | None,
    after_cr: bool,
    pr_reached_at: int | None,
) -> None:
    """Fill the target response of one follow-up (RECIST 1.1 section 4.3.1)."""
    c = timeline.criteria
    i = tp.index
    if not timeline.targets:
        tp.target, tp.target_reason = NA, "no target lesions"
        return
    if after_cr:
        back = [t for t in timeline.targets if _reappeared(timeline, t, i)]
        if back:
            tp.reappeared_ids.extend(t.lesion_id for t in back)
            tp.target = PD
            tp.target_reason = (
                f"PD: target {', '.join(_describe(t) for t in back)} reappeared after CR "
                "(RECIST 1.1 4.3.1)"
            )
            return
    missing = [t for t in timeline.targets if timeline.diameters[t.lesion_id][i] is None]
    nadir_text = (
        f"nadir {fmt_mm(tp.nadir)} mm ({timeline.label(tp.nadir_index)})"
        if tp.nadir is not None and tp.nadir_index is not None
        else "no nadir"
    )
    if missing:
        partial = sum(timeline.diameters[t.lesion_id][i] or 0.0 for t in timeline.targets)
        names = ", ".join(t.lesion_id for t in missing)
        # RWG FAQ: a missing target gives NE unless the evaluated ones alone already meet PD.
        if tp.nadir is not None and increase_meets(
            partial, tp.nadir, c.pd_pct, c.pd_min_increase_mm
        ):
            tp.target = PD
            tp.target_reason = (
                f"PD: target {names} not evaluated, but the others sum {fmt_mm(partial)} mm, "
                f"{fmt_pct(percent_change(partial, tp.nadir))} and "
                f"{fmt_signed_mm(partial - tp.nadir)} mm from {nadir_text}"
            )
        else:
            tp.target = NE
            tp.target_reason = (
                f"NE: target {names} not evaluated; the others sum {fmt_mm(partial)} mm, "
                f"short of PD against {nadir_text}"
            )
        return
    sod = tp.sod
    assert sod is not None
    if all(_lesion_resolved(timeline, t, i) for t in timeline.targets):
        tp.target = CR
        tp.target_reason = "CR: every non-nodal target absent and every nodal target < " + (
            f"{fmt_mm(c.node_normal_mm)} mm short axis (SOD {fmt_mm(sod)} mm)"
        )
        return
    from_nadir = (
        f"{fmt_pct(tp.change_from_nadir_pct)} and {fmt_signed_mm(sod - tp.nadir)} mm from "
        f"{nadir_text}"
        if tp.nadir is not None
        else ""
    )
    # RECIST 1.1 4.3.1: PD = at least +20 % and at least +5 mm from the nadir.
    if tp.nadir is not None and increase_meets(sod, tp.nadir, c.pd_pct, c.pd_min_increase_mm):
        tp.target = PD
        tp.target_reason = f"PD: SOD {fmt_mm(sod)} mm is {from_nadir}"
        return
    from_baseline = (
        f"{fmt_pct(tp.change_from_baseline_pct)} from baseline {fmt_mm(baseline_sod)} mm"
        if baseline_sod is not None
        else "no baseline sum (a target has no baseline size)"
    )
    # RECIST 1.1 4.3.1: PR = at least 30 % decrease from the baseline sum.
    if tp.change_from_baseline_pct is not None and at_most(tp.change_from_baseline_pct, c.pr_pct):
        tp.target = PR
        tp.target_reason = f"PR: SOD {fmt_mm(sod)} mm is {from_baseline}"
        return
    if pr_reached_at is not None:
        # RWG FAQ: once PR is reached it continues until PD is met.
        tp.target = PR
        tp.target_reason = (
            f"PR (continued from {timeline.label(pr_reached_at)}): SOD {fmt_mm(sod)} mm is "
            f"{from_baseline}, PD not met ({from_nadir})"
        )
        return
    tp.target = SD
    tp.target_reason = f"SD: SOD {fmt_mm(sod)} mm is {from_baseline}, {from_nadir}"


def _non_target_response(timeline: Timeline, tp: RecistTimepoint, after_cr: bool) -> None:
    """Fill the non-target response of one follow-up (RECIST 1.1 section 4.3.2)."""
    i = tp.index
    lesions = timeline.non_targets
    if not lesions:
        tp.non_target, tp.non_target_reason = NA, "no non-target lesions"
        return
    progressed = [n for n in lesions if timeline.states[n.lesion_id][i] is LesionState.PROGRESSION]
    if progressed:
        tp.non_target = PD
        tp.non_target_reason = (
            f"PD: unequivocal progression of non-target {', '.join(map(_describe, progressed))}"
        )
        return
    if after_cr:
        back = [n for n in lesions if _reappeared(timeline, n, i)]
        if back:
            tp.reappeared_ids.extend(n.lesion_id for n in back)
            tp.non_target = PD
            tp.non_target_reason = (
                f"PD: non-target {', '.join(map(_describe, back))} reappeared after CR"
            )
            return
    missing = [n for n in lesions if timeline.states[n.lesion_id][i] is LesionState.NOT_EVALUATED]
    if missing:
        tp.non_target = NE
        tp.non_target_reason = (
            f"NE: non-target {', '.join(n.lesion_id for n in missing)} not evaluated"
        )
        return
    remaining = [n for n in lesions if not _lesion_resolved(timeline, n, i)]
    if not remaining:
        tp.non_target = CR
        tp.non_target_reason = "CR: every non-target absent (nodes < 10 mm)"
        return
    tp.non_target = NON_CR_NON_PD
    tp.non_target_reason = (
        f"NON-CR/NON-PD: non-target {', '.join(n.lesion_id for n in remaining)} persists"
    )


def _new_lesions(timeline: Timeline, tp: RecistTimepoint) -> None:
    """Fill the new-lesion verdict of one follow-up (RECIST 1.1 section 4.3.2)."""
    i = tp.index
    present = [n for n in timeline.new_lesions if timeline.is_present(n.lesion_id, i)]
    equivocal = [
        n for n in timeline.new_lesions if timeline.states[n.lesion_id][i] is LesionState.EQUIVOCAL
    ]
    tp.new_lesion_ids = [n.lesion_id for n in present]
    tp.new_lesions = bool(present)
    parts = []
    if present:
        parts.append(f"new lesion {', '.join(map(_describe, present))}")
    if equivocal:
        parts.append(
            f"equivocal new lesion {', '.join(n.lesion_id for n in equivocal)} (not PD until "
            "confirmed)"
        )
    tp.new_reason = "; ".join(parts) if parts else "no new lesion"


def _overall(tp: RecistTimepoint) -> None:
    """Combine target, non-target and new lesions (RECIST 1.1 Tables 1 and 2)."""
    target, non_target, new = tp.target, tp.non_target, tp.new_lesions
    causes: list[str] = []
    if target == PD:
        causes.append(tp.target_reason.removeprefix("PD: "))
    if non_target == PD:
        causes.append(tp.non_target_reason.removeprefix("PD: "))
    if new:
        causes.append(tp.new_reason)
    if causes:
        # Table 1 rows 6-8 / Table 2: PD in any category or a new lesion is PD.
        tp.overall, tp.overall_reason = PD, "PD: " + "; ".join(causes)
        return
    if target == NA:
        # Table 2: non-target disease only.
        if non_target == NA:
            tp.overall, tp.overall_reason = NE, "NE: no target or non-target lesion to assess"
            return
        tp.overall = non_target
        tp.overall_reason = tp.non_target_reason + " (non-target disease only, RECIST 1.1 Table 2)"
        return
    if target == CR:
        if non_target in (CR, NA):
            tp.overall = CR  # Table 1 row 1
            tp.overall_reason = (
                "CR: every target resolved, "
                + ("every non-target absent" if non_target == CR else "no non-target lesions")
                + ", no new lesion"
            )
        else:
            tp.overall = PR  # Table 1 row 2
            tp.overall_reason = (
                f"PR: targets in CR but non-targets {non_target} ({tp.non_target_reason}); "
                "RECIST 1.1 Table 1"
            )
        return
    # Table 1 rows 3-5: PR / SD / NE with non-targets not PD and no new lesion.
    tp.overall = target
    tp.overall_reason = tp.target_reason
    if non_target == NE and target != NE:
        tp.overall_reason += f"; {tp.non_target_reason}"


def _baseline_timepoint(timeline: Timeline) -> RecistTimepoint:
    tp = RecistTimepoint(index=0)
    if timeline.targets:
        sizes = [timeline.diameters[t.lesion_id][0] for t in timeline.targets]
        if all(size is not None for size in sizes):
            tp.sod = sum(size for size in sizes if size is not None)
    count = len(timeline.targets)
    tp.overall_reason = (
        f"baseline: SOD {fmt_mm(tp.sod)} mm over {count} target lesion{'s' if count != 1 else ''}"
        if tp.sod is not None
        else "baseline: no target lesion with a size"
    )
    tp.target_reason = tp.non_target_reason = tp.new_reason = tp.overall_reason
    return tp


def timepoint_responses(timeline: Timeline) -> list[RecistTimepoint]:
    """Compute the RECIST 1.1 verdicts at every assessment, also after PD.

    Parameters
    ----------
    timeline
        The patient's lesions laid out per assessment.

    Returns
    -------
    list of RecistTimepoint
        Index 0 is the baseline (verdicts NA); follow-ups are judged against the same
        baseline and nadir (shared/spec/criteria.md: treatment beyond progression).
    """
    baseline = _baseline_timepoint(timeline)
    results = [baseline]
    baseline_sod = baseline.sod
    nadir, nadir_index = baseline_sod, (0 if baseline_sod is not None else None)
    after_cr = False
    pr_reached_at: int | None = None
    for i in range(1, timeline.count):
        tp = RecistTimepoint(index=i, nadir=nadir, nadir_index=nadir_index)
        sizes = [timeline.diameters[t.lesion_id][i] for t in timeline.targets]
        if timeline.targets and all(size is not None for size in sizes):
            tp.sod = sum(size for size in sizes if size is not None)
            if baseline_sod is not None:
                tp.change_from_baseline_pct = percent_change(tp.sod, baseline_sod)
            if nadir is not None:
                tp.change_from_nadir_pct = percent_change(tp.sod, nadir)
        _target_response(timeline, tp, baseline_sod, after_cr, pr_reached_at)
        _non_target_response(timeline, tp, after_cr)
        _new_lesions(timeline, tp)
        _overall(tp)
        results.append(tp)
        if tp.target in (CR, PR) and pr_reached_at is None:
            pr_reached_at = i
        elif tp.target == PD:
            pr_reached_at = None
        if tp.overall == CR:
            after_cr = True
        # Nadir: smallest SOD of assessments whose targets were all evaluated (section 4.3.1).
        if tp.sod is not None and (nadir is None or tp.sod < nadir):
            nadir, nadir_index = tp.sod, i
    return results


def baseline_warnings(timeline: Timeline) -> list[str]:
    """Check the baseline against RECIST 1.1 target selection; warn, never refuse.

    Measurable: non-nodal long axis >= 10 mm, node short axis >= 15 mm; at most 5 targets and
    at most 2 per organ, all lymph nodes counting as one organ (RECIST 1.1 sections 3.1, 3.3).
    """
    c = timeline.criteria
    warnings: list[str] = []
    targets = timeline.targets
    if len(targets) > c.max_targets:
        warnings.append(
            f"{len(targets)} target lesions at baseline; RECIST 1.1 allows at most {c.max_targets}"
        )
    per_organ: dict[str, list[str]] = {}
    for target in targets:
        organ = "lymph node" if target.nodal else target.site
        per_organ.setdefault(organ, []).append(target.lesion_id)
        size = timeline.diameters[target.lesion_id][0]
        if size is None:
            warnings.append(
                f"target {target.lesion_id} ({target.site}) has no size at baseline: the sum "
                "of diameters, PR and the nadir cannot be judged"
            )
        minimum = c.node_measurable_min_mm if target.nodal else c.measurable_min_mm
        if size is not None and below(size, minimum):
            axis = "short axis" if target.nodal else "long axis"
            warnings.append(
                f"target {target.lesion_id} ({target.site}) is {fmt_mm(size)} mm {axis} at "
                f"baseline, below the {fmt_mm(minimum)} mm needed to be measurable"
            )
    for organ, ids in per_organ.items():
        if len(ids) > c.max_targets_per_organ:
            warnings.append(
                f"{len(ids)} targets in {organ} ({', '.join(ids)}); RECIST 1.1 allows at most "
                f"{c.max_targets_per_organ} per organ"
            )
    return warnings


def _first_pd(timepoints: list[RecistTimepoint]) -> int | None:
    for tp in timepoints[1:]:
        if tp.overall == PD:
            return tp.index
    return None


def best_overall_response(timeline: Timeline, timepoints: list[RecistTimepoint]) -> tuple[str, str]:
    """Unconfirmed best overall response up to and including the first PD.

    SD and NON-CR/NON-PD count only at >= `min_sd_days` after baseline (RECIST 1.1 4.4.1).

    Returns
    -------
    tuple of str
        The response and its reason.
    """
    c = timeline.criteria
    first_pd = _first_pd(timepoints)
    end = first_pd if first_pd is not None else len(timepoints) - 1
    best: str | None = None
    best_index = 0
    early_sd: int | None = None
    for tp in timepoints[1 : end + 1]:
        response = tp.overall
        if response in (SD, NON_CR_NON_PD) and timeline.days[tp.index] < c.min_sd_days:
            early_sd = tp.index if early_sd is None else early_sd
            continue
        if response in (CR, PR, SD, NON_CR_NON_PD) and (
            best is None or _BOR_RANK[response] > _BOR_RANK[best]
        ):
            best, best_index = response, tp.index
    if best is not None:
        return best, (
            f"{best}: best response before {'the first PD' if first_pd else 'the last scan'}, "
            f"at {timeline.label(best_index)} (day {timeline.days[best_index]})"
        )
    early = (
        f"; SD at {timeline.label(early_sd)} was < {c.min_sd_days} days after baseline"
        if early_sd is not None
        else ""
    )
    if first_pd is not None:
        return PD, f"PD at {timeline.label(first_pd)} with no earlier response{early}"
    if len(timepoints) == 1:
        return NE, "NE: no follow-up assessment"
    return NE, f"NE: no assessable response{early}"


def confirmed_best_overall_response(
    timeline: Timeline, timepoints: list[RecistTimepoint]
) -> tuple[str, str]:
    """Best overall response with CR/PR confirmed >= `confirm_min_days` later (Table 3).

    The confirming assessment is the first one at least 28 days later that is not NE; the
    ones in between must not break the response. An unconfirmed CR/PR counts as SD when the
    SD duration is met, else the patient is PD or NE (RECIST 1.1 Table 3).

    Returns
    -------
    tuple of str
        The response and its reason.
    """
    c = timeline.criteria
    first_pd = _first_pd(timepoints)
    end = first_pd if first_pd is not None else len(timepoints) - 1
    window = timepoints[1 : end + 1]

    def confirmation(position: int, accepted: tuple[str, ...]) -> int | None:
        start = window[position]
        for later in window[position + 1 :]:
            if later.overall == NE:
                continue
            if later.overall not in accepted:
                return None
            if timeline.days[later.index] - timeline.days[start.index] >= c.confirm_min_days:
                return later.index
        return None

    for level, accepted in ((CR, (CR,)), (PR, (CR, PR))):
        for position, tp in enumerate(window):
            if tp.overall in accepted:
                confirmed_by = confirmation(position, accepted)
                if confirmed_by is not None:
                    return level, (
                        f"{level}: {tp.overall} at {timeline.label(tp.index)} confirmed by "
                        f"{timepoints[confirmed_by].overall} at {timeline.label(confirmed_by)} "
                        f"(>= {c.confirm_min_days} days later, RECIST 1.1 Table 3)"
                    )
    # An unconfirmed CR/PR counts as stable disease once the SD duration is met: SD with
    # target disease, NON-CR/NON-PD with non-target disease only (RECIST 1.1 Tables 2-3).
    stable = SD if timeline.targets else NON_CR_NON_PD
    for tp in window:
        if tp.overall in (CR, PR, SD, NON_CR_NON_PD) and timeline.days[tp.index] >= c.min_sd_days:
            note = f" (unconfirmed response counts as {stable})" if tp.overall in (CR, PR) else ""
            return stable, (
                f"{stable}: {tp.overall} at {timeline.label(tp.index)}, day "
                f"{timeline.days[tp.index]} >= {c.min_sd_days}{note}"
            )
    if first_pd is not None:
        return PD, f"PD at {timeline.label(first_pd)}; no confirmed response or SD long enough"
    return NE, "NE: no confirmed response and no SD long enough"


def progression_date(
    timeline: Timeline, timepoints: list[RecistTimepoint]
) -> tuple[int | None, dt.date | None, str]:
    """Date of the first PD, moved back to when a confirmed equivocal new lesion was first seen.

    Returns
    -------
    tuple
        Index of the first PD (or None), the progression date (or None), and a reason.
    """
    first_pd = _first_pd(timepoints)
    if first_pd is None:
        return None, None, "no progression"
    tp = timepoints[first_pd]
    date_index = first_pd
    for lesion_id in tp.new_lesion_ids:
        seen = timeline.first_index(lesion_id, unequivocal=False)
        if seen is not None and seen < date_index:
            date_index = seen  # RECIST 1.1 4.3.2: PD dated from when the lesion was first seen
    date = timeline.assessments[date_index].date
    if date_index != first_pd:
        return (
            first_pd,
            date,
            (
                f"PD at {timeline.label(first_pd)}, dated {date.isoformat()} when the new lesion "
                f"was first seen (equivocal) at {timeline.label(date_index)}"
            ),
        )
    return first_pd, date, f"PD at {timeline.label(first_pd)} ({date.isoformat()})"


def classify_recist(timeline: Timeline) -> RecistResult:
    """Run RECIST 1.1 on one patient.

    Parameters
    ----------
    timeline
        The patient's lesions laid out per assessment.

    Returns
    -------
    RecistResult
        Time-point verdicts, BOR (unconfirmed and confirmed) and the progression date.
    """
    timepoints = timepoint_responses(timeline)
    bor, bor_reason = best_overall_response(timeline, timepoints)
    confirmed, confirmed_reason = confirmed_best_overall_response(timeline, timepoints)
    first_pd, date, date_reason = progression_date(timeline, timepoints)
    return RecistResult(
        timepoints=timepoints,
        best_overall_response=bor,
        best_overall_reason=bor_reason,
        confirmed_best_overall_response=confirmed,
        confirmed_reason=confirmed_reason,
        first_pd_index=first_pd,
        progression_date=date,
        progression_reason=date_reason,
    )
