"""RECIST 1.1 time-point response, best overall response, confirmed BOR, progression date.

Source: Eisenhauer et al., Eur J Cancer 2009 (RECIST 1.1) and the RECIST Working Group FAQ,
as written down in shared/spec/criteria.md section 1.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final

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
from napari_recist.criteria.warnings import CriteriaWarning
from napari_recist.frozen import RebuiltByConstructor
from napari_recist.model import Lesion, LesionState, natural_key
from napari_recist.vocabulary import Response

CR: Final = Response.CR
PR: Final = Response.PR
SD: Final = Response.SD
PD: Final = Response.PD
NE: Final = Response.NE
NA: Final = Response.NA
NON_CR_NON_PD: Final = Response.NON_CR_NON_PD

# Best overall response ranks (shared/spec/criteria.md: CR > PR > SD > NON-CR/NON-PD > PD > NE).
_BOR_RANK: Final[dict[str, int]] = {CR: 5, PR: 4, SD: 3, NON_CR_NON_PD: 2, PD: 1, NE: 0}


@dataclass
class RecistTimepoint(RebuiltByConstructor):
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
    present_new_rows: list[str] = field(default_factory=list)
    continued_pr: bool = False  # the target PR is the RWG FAQ's continued PR

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self,
        index: int,
        sod: float | None = None,
        nadir: float | None = None,
        nadir_index: int | None = None,
        change_from_baseline_pct: float | None = None,
        change_from_nadir_pct: float | None = None,
        target: str = NA,
        target_reason: str = "",
        non_target: str = NA,
        non_target_reason: str = "",
        new_lesions: bool = False,
        new_lesion_ids: list[str] | None = None,
        new_reason: str = "",
        overall: str = NA,
        overall_reason: str = "",
        reappeared_ids: list[str] | None = None,
        present_new_rows: list[str] | None = None,
        continued_pr: bool = False,
    ) -> None:
        self.index = index
        self.sod = sod
        self.nadir = nadir
        self.nadir_index = nadir_index
        self.change_from_baseline_pct = change_from_baseline_pct
        self.change_from_nadir_pct = change_from_nadir_pct
        self.target = target
        self.target_reason = target_reason
        self.non_target = non_target
        self.non_target_reason = non_target_reason
        self.new_lesions = new_lesions
        self.new_lesion_ids = list() if new_lesion_ids is None else new_lesion_ids
        self.new_reason = new_reason
        self.overall = overall
        self.overall_reason = overall_reason
        self.reappeared_ids = list() if reappeared_ids is None else reappeared_ids
        self.present_new_rows = list() if present_new_rows is None else present_new_rows
        self.continued_pr = continued_pr


@dataclass
class RecistResult(RebuiltByConstructor):
    """RECIST 1.1 over a patient's assessments (index 0 is the baseline)."""

    timepoints: list[RecistTimepoint]
    best_overall_response: str
    best_overall_reason: str
    confirmed_best_overall_response: str
    confirmed_reason: str
    first_pd_index: int | None
    progression_date: dt.date | None
    progression_reason: str
    raw_timepoints: list[RecistTimepoint] = field(default_factory=list)
    pfs_days: int | None = None
    pfs_event: bool = False
    pfs_reason: str = ""

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self,
        timepoints: list[RecistTimepoint],
        best_overall_response: str,
        best_overall_reason: str,
        confirmed_best_overall_response: str,
        confirmed_reason: str,
        first_pd_index: int | None,
        progression_date: dt.date | None,
        progression_reason: str,
        raw_timepoints: list[RecistTimepoint] | None = None,
        pfs_days: int | None = None,
        pfs_event: bool = False,
        pfs_reason: str = '',
    ) -> None:
        self.timepoints = timepoints
        self.best_overall_response = best_overall_response
        self.best_overall_reason = best_overall_reason
        self.confirmed_best_overall_response = confirmed_best_overall_response
        self.confirmed_reason = confirmed_reason
        self.first_pd_index = first_pd_index
        self.progression_date = progression_date
        self.progression_reason = progression_reason
        self.raw_timepoints = list() if raw_timepoints is None else raw_timepoints
        self.pfs_days = pfs_days
        self.pfs_event = pfs_event
        self.pfs_reason = pfs_reason


def _describe(lesion: Lesion) -> str:
    return f"{lesion.lesion_id} ({lesion.site})"


def cr_rule_applies(timeline: Timeline, overall: list[str], lesion_id: str, index: int) -> bool:
    """Whether the reappearance-after-CR rule applies to a lesion at a follow-up.

    criteria.md section 1 (amended 2026-12; RWG FAQ "Does a new lesion always result in
    PD?": "CR (overall) was definitively assigned at the previous assessment"): the last
    earlier follow-up with an overall response other than NE had overall CR; an `equivocal`
    row of the lesion keeps the rule open for it. `overall[k]` is follow-up k's response.
    """
    last_cr = next((k for k in range(index - 1, 0, -1) if overall[k] == CR), None)
    if last_cr is None:
        return False
    return all(
        overall[k] == NE or timeline.states[lesion_id][k] is LesionState.EQUIVOCAL
        for k in range(last_cr + 1, index)
    )


def _target_reappeared(timeline: Timeline, lesion: Lesion, index: int) -> bool:
    """RWG FAQ "Abnormal lymph node": a nodal target is back at >= 10 mm (or progression)."""
    lid = lesion.lesion_id
    if timeline.is_coalesced(lid, index):
        return False
    if lesion.nodal:
        if timeline.states[lid][index] is LesionState.PROGRESSION:
            return True
        diameter = timeline.diameters[lid][index]
        return diameter is not None and at_least(diameter, timeline.criteria.node_normal_mm)
    return timeline.is_present(lid, index)


def _target_response(
    timeline: Timeline,
    tp: RecistTimepoint,
    baseline_sod: float | None,
    overall: list[str],
    pr_reached_at: int | None,
) -> None:
    """Fill the target response of one follow-up (RECIST 1.1 section 4.3.1)."""
    c = timeline.criteria
    i = tp.index
    if not timeline.targets:
        tp.target, tp.target_reason = NA, "no target lesions"
        return
    rows = timeline.rows(timeline.targets, i)
    # criteria.md section 1 (amended 2026-12): a target that reappeared after CR is PD.
    # (No earlier overall CR: the rule applies to no lesion, `cr_rule_applies` is not asked.)
    back = [
        t
        for t in rows
        if cr_rule_applies(timeline, overall, t.lesion_id, i) and _target_reappeared(timeline, t, i)
    ] if CR in overall else []
    if back:
        tp.reappeared_ids.extend(t.lesion_id for t in back)
        tp.target = PD
        tp.target_reason = (
            f"PD: target {', '.join(_describe(t) for t in back)} reappeared after CR "
            "(RECIST 1.1 4.3.1, RWG FAQ)"
        )
        return
    missing = [t for t in rows if timeline.diameters[t.lesion_id][i] is None]
    nadir_text = (
        f"nadir {fmt_mm(tp.nadir)} mm ({timeline.label(tp.nadir_index)})"
        if tp.nadir is not None and tp.nadir_index is not None
        else "no nadir"
    )
    if missing:
        partial = sum(timeline.diameters[t.lesion_id][i] or 0.0 for t in rows)
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
    # criteria.md section 1 (amended 2026-12): CR over every target row except coalesced ones.
    resolved_rows = [t for t in rows if not timeline.is_coalesced(t.lesion_id, i)]
    if all(timeline.row_resolved(t.lesion_id, i) for t in resolved_rows):
        tp.target = CR
        tp.target_reason = "CR: every non-nodal target absent and every nodal target < " + (
            f"{fmt_mm(c.node_normal_mm)} mm short axis (SOD {fmt_mm(sod)} mm)"
        )
        return
    from_nadir = (
        f"{fmt_pct(tp.change_from_nadir_pct)} and {fmt_signed_mm(sod - tp.nadir)} mm from "
        f"{nadir_text}"
        if tp.nadir is not None
        else "no nadir"
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
    # RECIST 1.1 4.3.1: PR = at least 30 % decrease from the baseline sum; an unknown
    # baseline never meets it (criteria.md section 1, amended 2026-12).
    if tp.change_from_baseline_pct is not None and at_most(tp.change_from_baseline_pct, c.pr_pct):
        tp.target = PR
        tp.target_reason = f"PR: SOD {fmt_mm(sod)} mm is {from_baseline}"
        return
    if pr_reached_at is not None:
        # RWG FAQ: once PR is reached it continues until PD is met (time points only).
        tp.target = PR
        tp.continued_pr = True
        tp.target_reason = (
            f"PR (continued from {timeline.label(pr_reached_at)}): SOD {fmt_mm(sod)} mm is "
            f"{from_baseline}, PD not met ({from_nadir})"
        )
        return
    tp.target = SD
    tp.target_reason = f"SD: SOD {fmt_mm(sod)} mm is {from_baseline}, {from_nadir}"


def _non_target_response(timeline: Timeline, tp: RecistTimepoint, overall: list[str]) -> None:
    """Fill the non-target response of one follow-up (RECIST 1.1 section 4.3.2)."""
    i = tp.index
    if not timeline.non_targets:
        tp.non_target, tp.non_target_reason = NA, "no non-target lesions"
        return
    # criteria.md section 1 (amended 2026-12): over non-target rows, coalesced ones aside.
    lesions = [
        n
        for n in timeline.rows(timeline.non_targets, i)
        if not timeline.is_coalesced(n.lesion_id, i)
    ]
    progressed = [n for n in lesions if timeline.states[n.lesion_id][i] is LesionState.PROGRESSION]
    if progressed:
        tp.non_target = PD
        tp.non_target_reason = (
            f"PD: unequivocal progression of non-target {', '.join(map(_describe, progressed))}"
        )
        return
    after_cr = (
        [n for n in lesions if cr_rule_applies(timeline, overall, n.lesion_id, i)]
        if CR in overall  # no earlier overall CR: the rule applies to none
        else []
    )
    # RWG FAQ "Abnormal lymph node": a non-nodal lesion seen again has reappeared; a nodal
    # non-target only when it has unequivocally progressed (handled above).
    back = [n for n in after_cr if not n.nodal and timeline.is_present(n.lesion_id, i)]
    if back:
        tp.reappeared_ids.extend(n.lesion_id for n in back)
        tp.non_target = PD
        tp.non_target_reason = (
            f"PD: non-target {', '.join(map(_describe, back))} reappeared after CR"
        )
        return
    nodes_back = [
        n
        for n in after_cr
        if n.nodal and not timeline.row_resolved(n.lesion_id, i)
        and timeline.states[n.lesion_id][i] is not LesionState.NOT_EVALUATED
        and timeline.states[n.lesion_id][i] is not LesionState.EQUIVOCAL
    ]
    advice = (
        f"; non-target node {', '.join(n.lesion_id for n in nodes_back)} seen again after CR "
        "is not PD unless it has unequivocally progressed: re-image it (RWG FAQ)"
        if nodes_back
        else ""
    )
    missing = [n for n in lesions if timeline.states[n.lesion_id][i] is LesionState.NOT_EVALUATED]
    if missing:
        tp.non_target = NE
        tp.non_target_reason = (
            f"NE: non-target {', '.join(n.lesion_id for n in missing)} not evaluated{advice}"
        )
        return
    remaining = [n for n in lesions if not timeline.row_resolved(n.lesion_id, i)]
    if not remaining:
        tp.non_target = CR
        tp.non_target_reason = "CR: every non-target absent (nodes < 10 mm)"
        return
    tp.non_target = NON_CR_NON_PD
    tp.non_target_reason = (
        f"NON-CR/NON-PD: non-target {', '.join(n.lesion_id for n in remaining)} persists{advice}"
    )


def _new_lesions(timeline: Timeline, tp: RecistTimepoint) -> None:
    """Fill the new-lesion verdict of one follow-up (RECIST 1.1 section 4.3.2).

    criteria.md section 1 (amended 2026-12): a fragment of a new lesion is the same new
    lesion, so the lesions named are the distinct roots; a new node counts from 10 mm on.
    """
    i = tp.index
    present = [n for n in timeline.new_lesions if timeline.is_present(n.lesion_id, i)]
    equivocal = [
        n for n in timeline.new_lesions if timeline.states[n.lesion_id][i] is LesionState.EQUIVOCAL
    ]
    tp.present_new_rows = [n.lesion_id for n in present]
    roots = sorted({timeline.root(n.lesion_id) for n in present}, key=natural_key)
    tp.new_lesion_ids = roots
    tp.new_lesions = bool(roots)
    parts = []
    if roots:
        parts.append(f"new lesion {', '.join(_describe(timeline.lesion(r)) for r in roots)}")
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
        # criteria.md section 1 (amended 2026-12): without non-targets NA reads as CR.
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


def target_sum(timeline: Timeline, index: int) -> float | None:
    """SOD over the target rows (fragments included, coalesced 0); None if one has no size."""
    rows = timeline.rows(timeline.targets, index)
    if not rows:
        return None
    sizes = [timeline.diameters[t.lesion_id][index] for t in rows]
    if any(size is None for size in sizes):
        return None
    return sum(size for size in sizes if size is not None)


def _baseline_timepoint(timeline: Timeline) -> RecistTimepoint:
    tp = RecistTimepoint(index=0)
    baseline_targets = timeline.rows(timeline.targets, 0)
    if baseline_targets:
        tp.sod = target_sum(timeline, 0)
    count = len(baseline_targets)
    tp.overall_reason = (
        f"baseline: SOD {fmt_mm(tp.sod)} mm over {count} target lesion{'s' if count != 1 else ''}"
        if tp.sod is not None
        else "baseline: no target lesion with a size"
    )
    tp.target_reason = tp.non_target_reason = tp.new_reason = tp.overall_reason
    return tp


def timepoint_responses(timeline: Timeline, *, continued_pr: bool = True) -> list[RecistTimepoint]:
    """Compute the RECIST 1.1 verdicts at every assessment, also after PD.

    Parameters
    ----------
    timeline
        The patient's lesions laid out per assessment.
    continued_pr
        Apply the RWG FAQ's continued PR (the time-point responses); False gives the raw
        responses the confirmed BOR is computed from (criteria.md section 1, amended 2026-12).

    Returns
    -------
    list of RecistTimepoint
        Index 0 is the baseline (verdicts NA); follow-ups are judged against the same
        baseline and nadir (shared/spec/criteria.md: treatment beyond progression).
    """
    return _responses(timeline, continued_pr, [_baseline_timepoint(timeline)])


def _responses(
    timeline: Timeline, continued_pr: bool, prefix: list[RecistTimepoint]
) -> list[RecistTimepoint]:
    """`timepoint_responses` from the assessment after `prefix` (baseline first) on."""
    results = list(prefix)
    baseline_sod = results[0].sod
    nadir, nadir_index = baseline_sod, (0 if baseline_sod is not None else None)
    overall: list[str] = [NA]
    pr_reached_at: int | None = None
    for tp in results[1:]:
        overall.append(tp.overall)
        if tp.target in (CR, PR) and pr_reached_at is None:
            pr_reached_at = tp.index
        elif tp.target == PD:
            pr_reached_at = None
        if tp.sod is not None and (nadir is None or tp.sod < nadir):
            nadir, nadir_index = tp.sod, tp.index
    for i in range(len(results), timeline.count):
        tp = RecistTimepoint(index=i, nadir=nadir, nadir_index=nadir_index)
        tp.sod = target_sum(timeline, i) if timeline.targets else None
        if tp.sod is not None:
            if baseline_sod is not None:
                tp.change_from_baseline_pct = percent_change(tp.sod, baseline_sod)
            if nadir is not None:
                tp.change_from_nadir_pct = percent_change(tp.sod, nadir)
        _target_response(
            timeline, tp, baseline_sod, overall, pr_reached_at if continued_pr else None
        )
        _non_target_response(timeline, tp, overall)
        _new_lesions(timeline, tp)
        _overall(tp)
        results.append(tp)
        overall.append(tp.overall)
        if tp.target in (CR, PR) and pr_reached_at is None:
            pr_reached_at = i
        elif tp.target == PD:
            pr_reached_at = None
        # Nadir: smallest SOD of assessments whose targets were all evaluated (section 4.3.1).
        if tp.sod is not None and (nadir is None or tp.sod < nadir):
            nadir, nadir_index = tp.sod, i
    return results


def raw_responses(
    timeline: Timeline, timepoints: list[RecistTimepoint]
) -> list[RecistTimepoint]:
    """The raw responses (no continued PR), reusing `timepoints` up to where they differ.

    Equal to ``timepoint_responses(timeline, continued_pr=False)``: the two differ only from
    the first follow-up whose target PR is a continued PR on (before it, every input of a
    follow-up's verdicts is the same), so only that part is computed again; when no PR was
    continued the time-point responses are the raw ones.
    """
    first = next((tp.index for tp in timepoints if tp.continued_pr), None)
    if first is None:
        return timepoints
    return _responses(timeline, False, timepoints[:first])


def baseline_warnings(timeline: Timeline) -> list[CriteriaWarning]:
    """Check the baseline against RECIST 1.1 target selection and timing; warn, never refuse.

    Measurable: non-nodal long axis >= 10 mm, node short axis >= 15 mm; at most 5 targets and
    at most 2 per organ, all lymph nodes counting as one organ (RECIST 1.1 sections 3.1, 3.3).
    Timing: RECIST 1.1 section 3.2.1, "never more than 4 weeks before the beginning of the
    treatment" (criteria.md section 1, amended 2026-12).
    """
    c = timeline.criteria
    warnings: list[CriteriaWarning] = []
    targets = timeline.rows(timeline.targets, 0)
    if len(targets) > c.max_targets:
        warnings.append(CriteriaWarning(
            "too-many-targets", 0, "",
            f"{len(targets)} target lesions at baseline; RECIST 1.1 allows at most {c.max_targets}",
        ))
    per_organ: dict[str, list[str]] = {}
    for target in targets:
        organ = "lymph node" if target.nodal else target.site
        per_organ.setdefault(organ, []).append(target.lesion_id)
        size = timeline.diameters[target.lesion_id][0]
        if size is None:
            warnings.append(CriteriaWarning(
                "target-without-size", 0, target.lesion_id,
                f"target {target.lesion_id} ({target.site}) has no size at baseline: kept as "
                "not-evaluated; the baseline sum, PR from baseline and its own baseline are "
                "unknown",
            ))
        minimum = c.node_measurable_min_mm if target.nodal else c.measurable_min_mm
        if size is not None and below(size, minimum):
            axis = "short axis" if target.nodal else "long axis"
            warnings.append(CriteriaWarning(
                "target-not-measurable", 0, target.lesion_id,
                f"target {target.lesion_id} ({target.site}) is {fmt_mm(size)} mm {axis} at "
                f"baseline, below the {fmt_mm(minimum)} mm needed to be measurable",
            ))
    for organ, ids in per_organ.items():
        if len(ids) > c.max_targets_per_organ:
            warnings.append(CriteriaWarning(
                "too-many-targets-in-organ", 0, organ,
                f"{len(ids)} targets in {organ} ({', '.join(ids)}); RECIST 1.1 allows at most "
                f"{c.max_targets_per_organ} per organ",
            ))
    start = timeline.record.treatment_start
    baseline_date = timeline.assessments[0].date
    if start is not None:
        before = (start - baseline_date).days
        if before > c.baseline_max_days_before_treatment:
            warnings.append(CriteriaWarning(
                "baseline-too-early", 0, "",
                f"baseline scan {baseline_date.isoformat()} is {before} days before treatment "
                f"start {start.isoformat()} (RECIST 1.1 3.2.1: at most "
                f"{c.baseline_max_days_before_treatment})",
            ))
        elif before < 0:
            warnings.append(CriteriaWarning(
                "baseline-after-treatment-start", 0, "",
                f"baseline scan {baseline_date.isoformat()} is {-before} days after treatment "
                f"start {start.isoformat()} (RECIST 1.1 3.2.1: baseline before treatment)",
            ))
    for index, lesion_id in timeline.new_node_recheck:
        size = timeline.diameters[lesion_id][index]
        warnings.append(CriteriaWarning(
            "new-node-recheck", index, lesion_id,
            f"new lymph node {lesion_id} at {timeline.label(index)} is {fmt_mm(size or 0.0)} mm "
            f"short axis (< {fmt_mm(c.node_measurable_min_mm)}): counted as a new lesion, "
            "re-evaluate it at the next assessment (RWG FAQ)",
        ))
    return warnings


def _first_pd(timepoints: list[RecistTimepoint]) -> int | None:
    for tp in timepoints[1:]:
        if tp.overall == PD:
            return tp.index
    return None


def best_overall_response(timeline: Timeline, timepoints: list[RecistTimepoint]) -> tuple[str, str]:
    """Unconfirmed best overall response up to and including the first PD.

    SD and NON-CR/NON-PD count only at >= `min_sd_days` after the time origin (RECIST 1.1
    4.4.1; criteria.md section 1, amended 2026-12).

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
        if response in (SD, NON_CR_NON_PD) and not at_least(
            timeline.origin_days[tp.index], c.min_sd_days
        ):
            early_sd = tp.index if early_sd is None else early_sd
            continue
        if response in (CR, PR, SD, NON_CR_NON_PD) and (
            best is None or _BOR_RANK[response] > _BOR_RANK[best]
        ):
            best, best_index = response, tp.index
    if best is not None:
        return best, (
            f"{best}: best response before {'the first PD' if first_pd else 'the last scan'}, "
            f"at {timeline.label(best_index)} (day {timeline.origin_days[best_index]} from the "
            "time origin)"
        )
    early = (
        f"; SD at {timeline.label(early_sd)} was < {c.min_sd_days} days after the time origin"
        if early_sd is not None
        else ""
    )
    if first_pd is not None:
        return PD, f"PD at {timeline.label(first_pd)} with no earlier response{early}"
    if len(timepoints) == 1:
        return NE, "NE: no follow-up assessment"
    return NE, f"NE: no assessable response{early}"


def _confirmed_at(
    timeline: Timeline, window: list[RecistTimepoint], position: int, accepted: tuple[str, ...]
) -> int | None:
    """The assessment confirming window[position], or None (criteria.md section 1).

    j = the first later assessment with a response in `accepted` at least `confirm_min_days`
    after i; every response strictly between is in `accepted` or NE, at most `confirm_max_ne`
    NE (admiralonco derive_param_confirmed_bor, max_nr_ne = 1; amended 2026-12).
    """
    c = timeline.criteria
    start = window[position]
    ne_between = 0
    for later in window[position + 1 :]:
        gap = timeline.days[later.index] - timeline.days[start.index]
        if later.overall in accepted and gap >= c.confirm_min_days:
            return later.index if ne_between <= c.confirm_max_ne else None
        if later.overall == NE:
            ne_between += 1
            if ne_between > c.confirm_max_ne:
                return None
            continue
        if later.overall not in accepted:
            return None  # Table 3: e.g. PR then SD -> SD
    return None


def confirmed_best_overall_response(
    timeline: Timeline, raw: list[RecistTimepoint]
) -> tuple[str, str]:
    """Best overall response with CR/PR confirmed >= `confirm_min_days` later (Table 3).

    Computed from the raw time-point responses (no continued PR; RWG FAQ "Managing PR when
    TP measurements change slightly"), as criteria.md section 1 (amended 2026-12) says.

    Returns
    -------
    tuple of str
        The response and its reason.
    """
    c = timeline.criteria
    first_pd = _first_pd(raw)
    end = first_pd if first_pd is not None else len(raw) - 1
    window = raw[1 : end + 1]
    # CR then PR confirms PR (Table 3 footnote; RWG FAQ "Abnormal lymph node").
    for level, accepted in ((CR, (CR,)), (PR, (CR, PR))):
        for position, tp in enumerate(window):
            if tp.overall in accepted:
                confirmed_by = _confirmed_at(timeline, window, position, accepted)
                if confirmed_by is not None:
                    return level, (
                        f"{level}: {tp.overall} at {timeline.label(tp.index)} confirmed by "
                        f"{raw[confirmed_by].overall} at {timeline.label(confirmed_by)} "
                        f"(>= {c.confirm_min_days} days later, at most {c.confirm_max_ne} NE "
                        "between; RECIST 1.1 Table 3)"
                    )
    # An unconfirmed CR/PR counts as stable disease once the SD duration is met: SD with
    # target disease, NON-CR/NON-PD with non-target disease only (RECIST 1.1 Tables 2-3).
    stable = SD if timeline.targets else NON_CR_NON_PD
    qualifying = (CR, PR, SD) if timeline.targets else (CR, NON_CR_NON_PD)
    for tp in window:
        if tp.overall in qualifying and at_least(timeline.origin_days[tp.index], c.min_sd_days):
            note = f" (unconfirmed response counts as {stable})" if tp.overall in (CR, PR) else ""
            return stable, (
                f"{stable}: {tp.overall} at {timeline.label(tp.index)}, day "
                f"{timeline.origin_days[tp.index]} from the time origin >= {c.min_sd_days}{note}"
            )
    if first_pd is not None:
        return PD, f"PD at {timeline.label(first_pd)}; no confirmed response or SD long enough"
    return NE, "NE: no confirmed response and no SD long enough"


def _reappearance_date_index(
    timeline: Timeline, timepoints: list[RecistTimepoint], first_pd: int, lesion_id: str
) -> int | None:
    """First `equivocal` follow-up of a reappeared lesion after the last CR (amended 2026-12)."""
    last_cr = next((k for k in range(first_pd - 1, 0, -1) if timepoints[k].overall == CR), None)
    if last_cr is None:
        return None
    for k in range(last_cr + 1, first_pd):
        if timeline.states[lesion_id][k] is LesionState.EQUIVOCAL:
            return k
    return None


def progression_date(
    timeline: Timeline, timepoints: list[RecistTimepoint]
) -> tuple[int | None, dt.date | None, str]:
    """Date of the first PD, moved back to when a confirmed equivocal lesion was first seen.

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
    for root in tp.new_lesion_ids:
        seen = timeline.family_first_index(root, unequivocal=False)
        if seen is not None and seen < date_index:
            date_index = seen  # RECIST 1.1 4.3.2: PD dated from when the lesion was first seen
    for lesion_id in tp.reappeared_ids:
        seen = _reappearance_date_index(timeline, timepoints, first_pd, lesion_id)
        if seen is not None and seen < date_index:
            date_index = seen  # criteria.md section 1: an equivocal reappearance, confirmed
    date = timeline.assessments[date_index].date
    if date_index != first_pd:
        return (
            first_pd,
            date,
            (
                f"PD at {timeline.label(first_pd)}, dated {date.isoformat()} when the lesion "
                f"was first seen (equivocal) at {timeline.label(date_index)}"
            ),
        )
    return first_pd, date, f"PD at {timeline.label(first_pd)} ({date.isoformat()})"


def progression_free_survival(
    timeline: Timeline, timepoints: list[RecistTimepoint], date: dt.date | None
) -> tuple[int | None, bool, str]:
    """PFS from imaging (criteria.md section 5, amended 2026-12), from the time origin.

    Event: a RECIST progression date; else censored at the last follow-up whose overall
    response is not NE; None without such a follow-up.
    """
    origin = timeline.time_origin or timeline.assessments[0].date
    origin_text = (
        f"treatment start {origin.isoformat()}"
        if timeline.record.treatment_start is not None
        else f"baseline {origin.isoformat()}"
    )
    if date is not None:
        days = (date - origin).days
        return days, True, f"progression {date.isoformat()}: {days} days from {origin_text}"
    assessed = [tp for tp in timepoints[1:] if tp.overall != NE]
    if not assessed:
        return None, False, "no follow-up with an assessable response: PFS unknown"
    last = assessed[-1]
    days = timeline.origin_days[last.index]
    return days, False, (
        f"censored at {timeline.label(last.index)} "
        f"({timeline.assessments[last.index].date.isoformat()}), the last assessable follow-up: "
        f"{days} days from {origin_text}"
    )


def classify_recist(timeline: Timeline) -> RecistResult:
    """Run RECIST 1.1 on one patient.

    Parameters
    ----------
    timeline
        The patient's lesions laid out per assessment.

    Returns
    -------
    RecistResult
        Time-point verdicts, BOR (unconfirmed and confirmed), progression date and PFS.
    """
    timepoints = timepoint_responses(timeline)
    raw = raw_responses(timeline, timepoints)
    bor, bor_reason = best_overall_response(timeline, timepoints)
    confirmed, confirmed_reason = confirmed_best_overall_response(timeline, raw)
    first_pd, date, date_reason = progression_date(timeline, timepoints)
    pfs_days, pfs_event, pfs_reason = progression_free_survival(timeline, timepoints, date)
    return RecistResult(
        timepoints=timepoints,
        best_overall_response=bor,
        best_overall_reason=bor_reason,
        confirmed_best_overall_response=confirmed,
        confirmed_reason=confirmed_reason,
        first_pd_index=first_pd,
        progression_date=date,
        progression_reason=date_reason,
        raw_timepoints=raw,
        pfs_days=pfs_days,
        pfs_event=pfs_event,
        pfs_reason=pfs_reason,
    )
