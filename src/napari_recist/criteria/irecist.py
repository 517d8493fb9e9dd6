"""iRECIST: unconfirmed (iUPD) and confirmed (iCPD) progression, reset, iBOR.

Source: Seymour et al., Lancet Oncol 2017 (iRECIST, Tables 2 and 3) and the RWG iRECIST FAQ,
as written down in shared/spec/criteria.md section 2.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final

from napari_recist.criteria.numbers import at_least, below, fmt_mm, fmt_signed_mm, increase_meets
from napari_recist.criteria.recist import CR, NA, NE, NON_CR_NON_PD, PD, PR, SD, RecistTimepoint
from napari_recist.criteria.timeline import Timeline
from napari_recist.frozen import RebuiltByConstructor
from napari_recist.model import LesionState
from napari_recist.vocabulary import IResponse

ICR: Final = IResponse.ICR
IPR: Final = IResponse.IPR
ISD: Final = IResponse.ISD
IUPD: Final = IResponse.IUPD
ICPD: Final = IResponse.ICPD
NON_ICR_NON_IUPD: Final = IResponse.NON_ICR_NON_IUPD

_RESET_RESPONSES: Final = (ICR, IPR, ISD, NON_ICR_NON_IUPD)
_IBOR_RANK: Final[dict[str, int]] = {ICR: 4, IPR: 3, ISD: 2, NON_ICR_NON_IUPD: 1}


@dataclass
class IrecistTimepoint(RebuiltByConstructor):
    """iRECIST verdict at one assessment."""

    index: int
    response: str
    reason: str
    new_lesion_target_sum: float | None = None

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self, index: int, response: str, reason: str, new_lesion_target_sum: float | None = None
    ) -> None:
        self.index = index
        self.response = response
        self.reason = reason
        self.new_lesion_target_sum = new_lesion_target_sum


@dataclass
class IrecistResult(RebuiltByConstructor):
    """iRECIST over a patient's assessments (index 0 is the baseline)."""

    timepoints: list[IrecistTimepoint]
    best_overall_response: str
    best_overall_reason: str
    progression_date: dt.date | None
    pseudoprogression: bool
    pseudoprogression_reason: str

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self,
        timepoints: list[IrecistTimepoint],
        best_overall_response: str,
        best_overall_reason: str,
        progression_date: dt.date | None,
        pseudoprogression: bool,
        pseudoprogression_reason: str,
    ) -> None:
        self.timepoints = timepoints
        self.best_overall_response = best_overall_response
        self.best_overall_reason = best_overall_reason
        self.progression_date = progression_date
        self.pseudoprogression = pseudoprogression
        self.pseudoprogression_reason = pseudoprogression_reason


@dataclass
class _Iupd(RebuiltByConstructor):
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

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self,
        index: int,
        target: bool,
        non_target: bool,
        new: bool,
        sod: float | None,
        new_target_sum: float | None,
        new_ids: frozenset[str],
        progressed_non_targets: frozenset[str],
        reasons: list[str] | None = None,
    ) -> None:
        self.index = index
        self.target = target
        self.non_target = non_target
        self.new = new
        self.sod = sod
        self.new_target_sum = new_target_sum
        self.new_ids = new_ids
        self.progressed_non_targets = progressed_non_targets
        self.reasons = list() if reasons is None else reasons


def _family(timeline: Timeline, root: str) -> frozenset[str]:
    return timeline.family(root)


def _is_measurable(timeline: Timeline, root: str, index: int) -> bool:
    """Measurable as a new lesion target: >= 10 mm, nodes >= 15 mm short axis (iRECIST).

    A new lesion with fragments is one lesion whose diameter is the sum of its fragments'
    (criteria.md section 1, amended 2026-12).
    """
    family = _family(timeline, root)
    rows = timeline.unit_rows(family, index)
    if not rows or any(
        timeline.states[lid][index] is not LesionState.MEASURED
        for lid in rows
        if not timeline.is_coalesced(lid, index)
    ):
        return False
    diameter = timeline.unit_diameter(family, index)
    if diameter is None:
        return False
    c = timeline.criteria
    lesion = timeline.lesion(root)
    return at_least(diameter, c.node_measurable_min_mm if lesion.nodal else c.measurable_min_mm)


def new_lesion_roots(timeline: Timeline) -> list[str]:
    """The distinct root new lesions (a fragment of a new lesion is the same new lesion)."""
    roots: list[str] = []
    for lesion in timeline.new_lesions:
        root = timeline.root(lesion.lesion_id)
        if root not in roots:
            roots.append(root)
    return roots


def new_lesion_targets(timeline: Timeline) -> set[str]:
    """Choose the new-lesion targets (NLT): up to 5 measurable, 2 per organ, by appearance.

    criteria.md section 2 (amended 2026-12): chosen once, at each new lesion's first counted
    assessment and by its size there; in date order, within one assessment largest diameter
    first, ties by `lesion_id` (code-point order); a lesion not chosen then is an NLNT for good.
    """
    c = timeline.criteria
    appearance: list[tuple[int, float, str]] = []
    for root in new_lesion_roots(timeline):
        first = timeline.family_first_index(root, unequivocal=True)
        if first is not None:
            diameter = timeline.unit_diameter(_family(timeline, root), first) or 0.0
            appearance.append((first, -diameter, root))
    appearance.sort()
    chosen: set[str] = set()
    per_organ: dict[str, int] = {}
    for first, _, root in appearance:
        lesion = timeline.lesion(root)
        organ = "lymph node" if lesion.nodal else lesion.site
        if (
            len(chosen) < c.irecist_max_new_targets
            and per_organ.get(organ, 0) < c.irecist_max_new_targets_per_organ
            and _is_measurable(timeline, root, first)
        ):
            chosen.add(root)
            per_organ[organ] = per_organ.get(organ, 0) + 1
    return chosen


def unit_increased(
    timeline: Timeline, unit: frozenset[str], index: int, since: int
) -> float | None:
    """Whether a unit has increased at `index` since the iUPD at `since`; the increase in mm.

    criteria.md section 2 (amended 2026-12; iRECIST Table 2 "any increase"; RWG iRECIST FAQ:
    need not be unequivocal): a row `increase`, or a unit diameter at least
    `irecist_any_increase_mm` (1.0) above the smallest diameter the unit had from the iUPD to
    index - 1 (skipping assessments the unit rule skips). Returns None when it has not
    increased, 0.0 for an increase known by state only.
    """
    rows = timeline.unit_rows(unit, index)
    if any(timeline.states[lid][index] is LesionState.INCREASE for lid in rows):
        return 0.0
    now = timeline.unit_diameter(unit, index)
    reference = timeline.unit_nadir(unit, index, start=since)
    if now is None or reference is None:
        return None
    growth = now - reference
    return growth if at_least(growth, timeline.criteria.irecist_any_increase_mm) else None


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
    """Sum of the new-lesion targets seen so far; None when one of them has no size.

    Also None before the first new-lesion target appears: there is no NLT sum yet, so the
    smallest NLT sum a reset compares with (iRECIST; criteria.md section 2, amended 2026-12:
    "over every earlier assessment where that sum was known") is never a 0 from before the
    lesions existed (an unchanged 15 mm NLT is no new iUPD after a reset).
    """
    total = 0.0
    seen = False
    for root in nlt_ids:
        first = first_present[root]
        if first is None or first > index:
            continue
        seen = True
        diameter = timeline.unit_diameter(_family(timeline, root), index)
        if diameter is None:
            return None
        total += diameter
    return total if seen else None


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
    roots = new_lesion_roots(timeline)
    first_present = {
        root: timeline.family_first_index(root, unequivocal=True) for root in roots
    }
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
            root
            for root in seen_new
            if any(
                timeline.states[lid][i] is not LesionState.ABSENT
                and timeline.diameters[lid][i] != 0.0
                for lid in timeline.unit_rows(_family(timeline, root), i)
            )
        )
        unevaluated_new = sorted(
            root
            for root in seen_new
            if any(
                timeline.states[lid][i] is LesionState.NOT_EVALUATED
                for lid in timeline.unit_rows(_family(timeline, root), i)
            )
        )
        nlnt_units = [
            unit
            for unit in timeline.units(timeline.new_lesions, i)
            if any(timeline.root(lid) not in nlt_ids for lid in unit)
        ]
        # After a reset only an NLNT with unequivocal progression gives a new iUPD
        # (criteria.md section 2, amended 2026-12; RWG iRECIST FAQ).
        nlnt_progression = sorted(
            lid
            for unit in nlnt_units
            for lid in timeline.unit_rows(unit, i)
            if timeline.states[lid][i] is LesionState.PROGRESSION
        )
        nt_increase = [
            n.lesion_id
            for n in timeline.rows(timeline.non_targets, i)
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
                # lesions, NLT sum >= 20 % and >= 5 mm above its smallest value, or an NLNT
                # with unequivocal progression (criteria.md section 2, amended 2026-12).
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
                if nlnt_progression:
                    new_reasons.append(
                        f"new non-target {', '.join(nlnt_progression)} progressed unequivocally"
                    )
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
                    # iRECIST; criteria.md section 2 (amended 2026-12): "a non-target still
                    # `progression` at k is not a further increase; another non-target
                    # turning `progression` is" (one `increase` at the iUPD included).
                    progressed_non_targets=frozenset(
                        lid for lid in nt_increase
                        if timeline.states[lid][i] is LesionState.PROGRESSION
                    ),
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
                # Any further increase of a non-target unit (criteria.md section 2, amended
                # 2026-12), or another non-target turning `progression`.
                grown = [
                    lid
                    for lid in nt_increase
                    if timeline.states[lid][i] is LesionState.PROGRESSION
                    and lid not in iupd.progressed_non_targets
                ]
                for unit in timeline.units(timeline.non_targets, i):
                    growth = unit_increased(timeline, unit, i, iupd.index)
                    if growth is not None:
                        grown.append(
                            "+".join(timeline.unit_rows(unit, i))
                            + (f" ({fmt_signed_mm(growth)} mm)" if growth else "")
                        )
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
                grown_new = []
                for unit in nlnt_units:
                    growth = unit_increased(timeline, unit, i, iupd.index)
                    if growth is not None:
                        grown_new.append(
                            "+".join(timeline.unit_rows(unit, i))
                            + (f" ({fmt_signed_mm(growth)} mm)" if growth else "")
                        )
                if grown_new:
                    confirm.append(f"new non-target {', '.join(grown_new)} increased")
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
        early = timeline.origin_days[tp.index] < c.min_sd_days
        if tp.response in (ISD, NON_ICR_NON_IUPD) and early:
            # SD needs the minimum duration after the time origin (RECIST 1.1 4.4.1, kept by
            # iRECIST; admiralonco ibor_isd; criteria.md section 2, amended 2026-12).
            continue
        if best is None or rank > _IBOR_RANK[best.response]:
            best = tp
    if best is not None:
        return best.response, (
            f"{best.response}: best response, at {timeline.label(best.index)} "
            f"(day {timeline.origin_days[best.index]} from the time origin)"
        )
    if seen_iupd is not None:
        return IUPD, f"iUPD at {timeline.label(seen_iupd.index)}, never confirmed nor reset"
    return NE, "NE: no assessable response"
