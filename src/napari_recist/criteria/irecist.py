"""iRECIST: unconfirmed (iUPD) and confirmed (iCPD) progression, reset, iBOR.

Source: Seymour et al., Lancet Oncol 2017 (iRECIST, Tables 2 and 3) and the RWG iRECIST FAQ,
as written down in shared/spec/criteria.md section 2.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from napari_recist.criteria.numbers import at_least, below, fmt_mm, fmt_signed_mm, increase_meets
from napari_recist.criteria.recist import CR, NA, NE, NON_CR_NON_PD, PD, PR, SD, RecistTimepoint
from napari_recist.criteria.timeline import Timeline
from napari_recist.model import Lesion, LesionState
from napari_recist.vocabulary import IResponse

ICR = IResponse.ICR
IPR = IResponse.IPR
ISD = IResponse.ISD
IUPD = IResponse.IUPD
ICPD = IResponse.ICPD
NON_ICR_NON_IUPD = IResponse.NON_ICR_NON_IUPD

_RESET_RESPONSES = (ICR, IPR, ISD, NON_ICR_NON_IUPD)
_IBOR_RANK = {ICR: 4, IPR: 3, ISD: 2, NON_ICR_NON_IUPD: 1}


@dataclass
class IrecistTimepoint:
    """iRECIST verdict at one assessment."""

    index: int
    response: str
    reason: str
    new_lesion_target_sum: float | None = None


@dataclass
class IrecistResult:
    """iRECIST over a patient's assessments (index 0 is the baseline)."""

    timepoints: list[IrecistTimepoint]
    best_overall_response: str
    best_overall_reason: str
    progression_date: dt.date | None
    pseudoprogression: bool
    pseudoprogression_reason: str


@dataclass
class _Iupd:
    """What stood at the iUPD: the categories in iUPD and their values then."""

    index: int
    target: bool
    non_target: bool
    new: bool
    sod: float | None
    new_target_sum: float | None
    new_ids: frozenset[str]
    progressed_non_targets: frozenset[str]
    reasons: list[str] = field(default_factory=list)


def _is_measurable(timeline: Timeline, lesion: Lesion, index: int) -> bool:
    """Measurable as a new lesion target: >= 10 mm, nodes >= 15 mm short axis (iRECIST)."""
    diameter = timeline.diameters[lesion.lesion_id][index]
    if diameter is None or timeline.states[lesion.lesion_id][index] is not LesionState.MEASURED:
        return False
    c = timeline.criteria
    return at_least(diameter, c.node_measurable_min_mm if lesion.nodal else c.measurable_min_mm)


def new_lesion_targets(timeline: Timeline) -> set[str]:
    """Choose the new-lesion targets (NLT): up to 5 measurable, 2 per organ, by appearance.

    Within one assessment the larger lesion is taken first (as baseline targets are chosen),
    then the lesion id; a lesion is categorised when it is first unequivocally seen.
    """
    c = timeline.criteria
    appearance: list[tuple[int, float, tuple[object, ...], Lesion]] = []
    for lesion in timeline.new_lesions:
        first = timeline.first_index(lesion.lesion_id, unequivocal=True)
        if first is not None:
            diameter = timeline.diameters[lesion.lesion_id][first] or 0.0
            appearance.append((first, -diameter, (lesion.lesion_id,), lesion))
    appearance.sort(key=lambda item: item[:3])
    chosen: set[str] = set()
    per_organ: dict[str, int] = {}
    for first, _, _, lesion in appearance:
        organ = "lymph node" if lesion.nodal else lesion.site
        if (
            len(chosen) < c.irecist_max_new_targets
            and per_organ.get(organ, 0) < c.irecist_max_new_targets_per_organ
            and _is_measurable(timeline, lesion, first)
        ):
            chosen.add(lesion.lesion_id)
            per_organ[organ] = per_organ.get(organ, 0) + 1
    return chosen


def _map_response(recist: RecistTimepoint, new_present: bool) -> tuple[str, str]:
    """IRECIST Table 2 without progression: targets and non-targets as in RECIST 1.1."""
    target, non_target = recist.target, recist.non_target
    if target == NA:
        if non_target == CR and not new_present:
            return ICR, "iCR: " + recist.non_target_reason.removeprefix("CR: ")
        if non_target in (CR, NON_CR_NON_PD):
            return NON_ICR_NON_IUPD, "NON-iCR/NON-iUPD: non-target disease persists"
        return NE, recist.non_target_reason
    if target == CR:
        if non_target in (CR, NA) and not new_present:
            return ICR, "iCR: every lesion resolved, new lesions included"
        why = "new lesions persist" if new_present else f"non-targets {non_target}"
        return IPR, f"iPR: targets in CR but {why}"
    if target == PR:
        return IPR, "i" + recist.target_reason
    if target == SD:
        return ISD, "i" + recist.target_reason
    return NE, recist.target_reason


def _new_target_sum(
    timeline: Timeline, nlt_ids: set[str], first_present: dict[str, int | None], index: int
) -> float | None:
    """Sum of the new-lesion targets seen so far; None when one of them has no size."""
    total = 0.0
    for lid in nlt_ids:
        first = first_present[lid]
        if first is None or first > index:
            continue
        diameter = timeline.diameters[lid][index]
        if diameter is None:
            return None
        total += diameter
    return total


def _smaller(smallest: float | None, value: float | None) -> float | None:
    """Running minimum that skips unknown values."""
    if value is None:
        return smallest
    return value if smallest is None or value < smallest else smallest


def _new_seen_by(first_present: dict[str, int | None], index: int) -> frozenset[str]:
    """New lesions unequivocally seen at or before an assessment."""
    return frozenset(
        lid for lid, first in first_present.items() if first is not None and first <= index
    )


def classify_irecist(timeline: Timeline, recist: list[RecistTimepoint]) -> IrecistResult:
    """Run iRECIST on one patient.

    Parameters
    ----------
    timeline
        The patient's lesions per assessment.
    recist
        RECIST 1.1 time-point verdicts (same measurements, same baseline and nadir).

    Returns
    -------
    IrecistResult
        Time-point responses, iBOR, progression date and pseudoprogression.
    """
    c = timeline.criteria
    nlt_ids = new_lesion_targets(timeline)
    new_by_id = {lesion.lesion_id: lesion for lesion in timeline.new_lesions}
    first_present = {lid: timeline.first_index(lid, unequivocal=True) for lid in new_by_id}
    results = [IrecistTimepoint(index=0, response=NA, reason="baseline")]
    iupd: _Iupd | None = None
    confirmed_at: int | None = None
    confirmed_block: int | None = None
    after_reset = False
    known_new: frozenset[str] = frozenset()
    nlt_smallest: float | None = None
    pseudo_reason = ""
    for i in range(1, timeline.count):
        r = recist[i]
        present_new = frozenset(r.new_lesion_ids)
        nlt_sum = _new_target_sum(timeline, nlt_ids, first_present, i)
        # New lesions seen so far that are not known to be gone (absent or 0 mm): a
        # not-evaluated or equivocal one may still be there (iCR needs every lesion resolved).
        seen_new = _new_seen_by(first_present, i)
        unresolved_new = sorted(
            lid
            for lid in seen_new
            if timeline.states[lid][i] is not LesionState.ABSENT
            and timeline.diameters[lid][i] != 0.0
        )
        unevaluated_new = sorted(
            lid for lid in seen_new if timeline.states[lid][i] is LesionState.NOT_EVALUATED
        )
        nlnt_increase = sorted(
            lid
            for lid in new_by_id
            if lid not in nlt_ids and timeline.states[lid][i] is LesionState.INCREASE
        )
        nt_increase = [
            n.lesion_id
            for n in timeline.non_targets
            if timeline.states[n.lesion_id][i] in (LesionState.INCREASE, LesionState.PROGRESSION)
        ]
        if confirmed_at is not None:
            results.append(
                IrecistTimepoint(i, ICPD, f"iCPD: confirmed at {timeline.label(confirmed_at)}")
            )
            continue
        target_pd = r.target == PD
        nt_pd = r.non_target == PD
        if iupd is None:
            new_reasons: list[str] = []
            if not after_reset:
                if present_new:
                    new_reasons.append(r.new_reason)
            else:
                # iRECIST reset: earlier new lesions trigger iUPD only through more new
                # lesions, NLT sum >= 20 % and >= 5 mm above its smallest value, NLNT increase.
                fresh = sorted(present_new - known_new)
                if fresh:
                    new_reasons.append(f"further new lesion {', '.join(fresh)}")
                if (
                    nlt_sum is not None
                    and nlt_smallest is not None
                    and increase_meets(
                        nlt_sum, nlt_smallest, c.pd_pct, c.irecist_further_increase_mm
                    )
                ):
                    new_reasons.append(
                        f"new-lesion target sum {fmt_mm(nlt_sum)} mm is "
                        f"{fmt_signed_mm(nlt_sum - nlt_smallest)} mm from its smallest "
                        f"{fmt_mm(nlt_smallest)} mm"
                    )
                if nlnt_increase:
                    new_reasons.append(f"new non-target {', '.join(nlnt_increase)} increased")
            if target_pd or nt_pd or new_reasons:
                causes = []
                if target_pd:
                    causes.append(r.target_reason.removeprefix("PD: "))
                if nt_pd:
                    causes.append(r.non_target_reason.removeprefix("PD: "))
                causes.extend(new_reasons)
                iupd = _Iupd(
                    index=i,
                    target=target_pd,
                    non_target=nt_pd,
                    new=bool(new_reasons),
                    sod=r.sod,
                    new_target_sum=nlt_sum,
                    new_ids=seen_new,
                    progressed_non_targets=frozenset(nt_increase),
                )
                results.append(IrecistTimepoint(i, IUPD, "iUPD: " + "; ".join(causes), nlt_sum))
            else:
                response, reason = _map_response(r, bool(unresolved_new))
                results.append(IrecistTimepoint(i, response, reason, nlt_sum))
            nlt_smallest = _smaller(nlt_smallest, nlt_sum)
            continue

        # An iUPD stands: does this assessment confirm it (iCPD), keep it, or reset it?
        days_since = timeline.days[i] - timeline.days[iupd.index]
        confirm: list[str] = []
        fresh = sorted(present_new - iupd.new_ids)
        if fresh:
            confirm.append(f"more new lesions ({', '.join(fresh)})")
        if days_since >= c.irecist_confirm_min_days:
            if iupd.target:
                if (
                    r.sod is not None
                    and iupd.sod is not None
                    and at_least(r.sod - iupd.sod, c.irecist_further_increase_mm)
                ):
                    confirm.append(
                        f"SOD {fmt_mm(r.sod)} mm is a further {fmt_signed_mm(r.sod - iupd.sod)} mm "
                        f"since the iUPD ({fmt_mm(iupd.sod)} mm)"
                    )
            elif target_pd:
                confirm.append("targets now meet PD: " + r.target_reason.removeprefix("PD: "))
            if iupd.non_target:
                grown = [
                    lid
                    for lid in nt_increase
                    if timeline.states[lid][i] is LesionState.INCREASE
                    or lid not in iupd.progressed_non_targets
                ]
                if grown:
                    confirm.append(f"non-target {', '.join(grown)} grew further")
            elif nt_pd:
                confirm.append(
                    "non-targets now meet PD: " + r.non_target_reason.removeprefix("PD: ")
                )
            if iupd.new:
                if (
                    nlt_sum is not None
                    and iupd.new_target_sum is not None
                    and at_least(nlt_sum - iupd.new_target_sum, c.irecist_further_increase_mm)
                ):
                    confirm.append(
                        f"new-lesion target sum {fmt_mm(nlt_sum)} mm is a further "
                        f"{fmt_signed_mm(nlt_sum - iupd.new_target_sum)} mm"
                    )
                if nlnt_increase:
                    confirm.append(f"new non-target {', '.join(nlnt_increase)} increased")
        nlt_smallest = _smaller(nlt_smallest, nlt_sum)
        if confirm:
            confirmed_at, confirmed_block = i, iupd.index
            results.append(
                IrecistTimepoint(
                    i,
                    ICPD,
                    f"iCPD: iUPD of {timeline.label(iupd.index)} confirmed: " + "; ".join(confirm),
                    nlt_sum,
                )
            )
            continue
        early = (
            f" (< {c.irecist_confirm_min_days} days after the iUPD: only new lesions confirm)"
            if days_since < c.irecist_confirm_min_days
            else ""
        )
        if target_pd or nt_pd:
            results.append(
                IrecistTimepoint(
                    i,
                    IUPD,
                    f"iUPD (from {timeline.label(iupd.index)}, not confirmed{early}): "
                    + "; ".join(
                        x.removeprefix("PD: ")
                        for x, pd in ((r.target_reason, target_pd), (r.non_target_reason, nt_pd))
                        if pd
                    ),
                    nlt_sum,
                )
            )
            continue
        if r.target == NE or (r.target == NA and r.non_target in (NE, NA)):
            results.append(
                IrecistTimepoint(
                    i, NE, f"NE: {r.target_reason}; iUPD of {timeline.label(iupd.index)} stands"
                )
            )
            continue
        if unevaluated_new:
            results.append(
                IrecistTimepoint(
                    i,
                    NE,
                    f"NE: new lesion {', '.join(unevaluated_new)} not evaluated; iUPD of "
                    f"{timeline.label(iupd.index)} stands",
                    nlt_sum,
                )
            )
            continue
        if unresolved_new and not (
            r.sod is not None and iupd.sod is not None and below(r.sod, iupd.sod)
        ):
            # RWG iRECIST FAQ scenarios B and F: new lesions still there and nothing improved.
            results.append(
                IrecistTimepoint(
                    i,
                    IUPD,
                    f"iUPD (from {timeline.label(iupd.index)}): new lesion "
                    f"{', '.join(unresolved_new)} persists and the SOD did not fall "
                    "since the iUPD",
                    nlt_sum,
                )
            )
            continue
        response, reason = _map_response(r, bool(unresolved_new))
        if response not in _RESET_RESPONSES:
            results.append(IrecistTimepoint(i, response, reason, nlt_sum))
            continue
        # Reset (iRECIST): the next progression is iUPD again; baseline and nadir unchanged.
        pseudo_reason = (
            f"iUPD at {timeline.label(iupd.index)} was not confirmed and was followed by "
            f"{response} at {timeline.label(i)}"
        )
        results.append(
            IrecistTimepoint(
                i,
                response,
                f"{reason} (iUPD of {timeline.label(iupd.index)} reset)",
                nlt_sum,
            )
        )
        iupd = None
        after_reset = True
        known_new = seen_new

    ibor, ibor_reason = _best_overall(timeline, results)
    date = timeline.assessments[confirmed_block].date if confirmed_block is not None else None
    return IrecistResult(
        timepoints=results,
        best_overall_response=ibor,
        best_overall_reason=ibor_reason,
        progression_date=date,
        pseudoprogression=bool(pseudo_reason),
        pseudoprogression_reason=pseudo_reason or "no unconfirmed iUPD followed by a response",
    )


def _best_overall(timeline: Timeline, results: list[IrecistTimepoint]) -> tuple[str, str]:
    """IBOR (iRECIST Table 3): best response up to iCPD; iCPD over iUPD; NE last."""
    c = timeline.criteria
    best: IrecistTimepoint | None = None
    seen_iupd: IrecistTimepoint | None = None
    for tp in results[1:]:
        if tp.response == ICPD:
            if best is None:
                return ICPD, f"iCPD at {timeline.label(tp.index)}, no response before"
            break
        if tp.response == IUPD and seen_iupd is None:
            seen_iupd = tp
        rank = _IBOR_RANK.get(tp.response)
        if rank is None:
            continue
        if tp.response in (ISD, NON_ICR_NON_IUPD) and timeline.days[tp.index] < c.min_sd_days:
            continue  # SD needs the minimum duration (RECIST 1.1 4.4.1, kept by iRECIST)
        if best is None or rank > _IBOR_RANK[best.response]:
            best = tp
    if best is not None:
        return best.response, (
            f"{best.response}: best response, at {timeline.label(best.index)} "
            f"(day {timeline.days[best.index]})"
        )
    if seen_iupd is not None:
        return IUPD, f"iUPD at {timeline.label(seen_iupd.index)}, never confirmed nor reset"
    return NE, "NE: no assessable response"
