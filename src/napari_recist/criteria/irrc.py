"""irRC: bidimensional tumour burden with new measurable lesions, confirmed responses.

Source: Wolchok et al., Clin Cancer Res 2009;15:7412 (Tables 1 and 2), with PMC6942076
Table 3 for the new-lesion limits and the negation of irPD, as written down in
shared/spec/criteria.md section 8 (new 2026-12).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from napari_recist.criteria.imrecist import pd_stands
from napari_recist.criteria.numbers import above, at_least, at_most, fmt_mm, fmt_pct
from napari_recist.criteria.timeline import Timeline
from napari_recist.frozen import RebuiltByConstructor
from napari_recist.model import Lesion, LesionState
from napari_recist.vocabulary import IrResponse

IRCR: Final = IrResponse.IRCR
IRPR: Final = IrResponse.IRPR
IRSD: Final = IrResponse.IRSD
IRPD: Final = IrResponse.IRPD
NE: Final = IrResponse.NE
NA: Final = IrResponse.NA


@dataclass
class IrrcTimepoint(RebuiltByConstructor):
    """irRC verdict at one assessment, with the tumour burden behind it."""

    index: int
    response: str
    reason: str
    burden_mm2: float | None = None

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self, index: int, response: str, reason: str, burden_mm2: float | None = None
    ) -> None:
        self.index = index
        self.response = response
        self.reason = reason
        self.burden_mm2 = burden_mm2


@dataclass
class IrrcResult(RebuiltByConstructor):
    """irRC over a patient's assessments (index 0 is the baseline)."""

    timepoints: list[IrrcTimepoint]
    best_overall_response: str
    best_overall_reason: str
    progression_date: dt.date | None
    progression_reason: str

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self,
        timepoints: list[IrrcTimepoint],
        best_overall_response: str,
        best_overall_reason: str,
        progression_date: dt.date | None,
        progression_reason: str,
    ) -> None:
        self.timepoints = timepoints
        self.best_overall_response = best_overall_response
        self.best_overall_reason = best_overall_reason
        self.progression_date = progression_date
        self.progression_reason = progression_reason


def product_mm2(timeline: Timeline, lesion_id: str, index: int) -> float | None:
    """Long axis x short axis of one row (mm²); absent 0, too-small 5 x 5; None without one.

    Wolchok 2009 Table 1: "the product of the longest diameter and its longest perpendicular
    diameter"; nodes too (criteria.md section 8). A coalesced row counts 0.
    """
    long_mm = timeline.long_axes[lesion_id][index]
    short_mm = timeline.short_axes[lesion_id][index]
    if long_mm is None or short_mm is None:
        return None
    return long_mm * short_mm


def new_measurable_lesions(timeline: Timeline) -> set[str]:
    """The new lesions irRC adds to the tumour burden (criteria.md section 8, amended 2026-12).

    Measured (both axes) with both axes >= `irrc_new_measurable_min_mm` (5) at their first
    counted assessment; at most 5 per organ (all nodes one organ), 10 visceral and 5
    cutaneous (PMC6942076 Table 3); chosen once, by first appearance, largest product first
    within an assessment, ties by `lesion_id` (code-point order). Fragments are their root.
    """
    c = timeline.criteria
    roots: list[str] = []
    for lesion in timeline.new_lesions:
        root = timeline.root(lesion.lesion_id)
        if root not in roots:
            roots.append(root)
    candidates: list[tuple[int, float, str]] = []
    for root in roots:
        first = timeline.family_first_index(root, unequivocal=True)
        if first is None:
            continue
        family = timeline.family(root)
        rows = [lid for lid in timeline.unit_rows(family, first) if not timeline.is_coalesced(
            lid, first)]
        sizes = [
            (timeline.long_axes[lid][first], timeline.short_axes[lid][first]) for lid in rows
        ]
        measurable = bool(rows) and all(
            timeline.states[lid][first] is LesionState.MEASURED
            and long_mm is not None and short_mm is not None
            and at_least(long_mm, c.irrc_new_measurable_min_mm)
            and at_least(short_mm, c.irrc_new_measurable_min_mm)
            for lid, (long_mm, short_mm) in zip(rows, sizes, strict=True)
        )
        if measurable:
            product = sum(product_mm2(timeline, lid, first) or 0.0 for lid in rows)
            candidates.append((first, -product, root))
    candidates.sort()
    chosen: set[str] = set()
    per_organ: dict[str, int] = {}
    cutaneous = visceral = 0
    for _, _, root in candidates:
        lesion = timeline.lesion(root)
        organ = "lymph node" if lesion.nodal else lesion.site
        skin = _is_cutaneous(lesion, c.irrc_cutaneous_sites)
        if per_organ.get(organ, 0) >= c.irrc_max_new_per_organ:
            continue
        if skin and cutaneous >= c.irrc_max_new_cutaneous:
            continue
        if not skin and visceral >= c.irrc_max_new_visceral:
            continue
        chosen.add(root)
        per_organ[organ] = per_organ.get(organ, 0) + 1
        cutaneous += skin
        visceral += not skin
    return chosen


def _is_cutaneous(lesion: Lesion, sites: Sequence[str]) -> bool:
    return lesion.site.lower() in sites


def _burden(
    timeline: Timeline, new_roots: set[str], first: dict[str, int | None], index: int
) -> tuple[float, list[str]]:
    """Known part of the tumour burden at an assessment and the rows without a product."""
    rows = [t.lesion_id for t in timeline.rows(timeline.targets, index)]
    for root in sorted(new_roots):
        start = first[root]
        if start is not None and start <= index:
            family = timeline.family(root)
            rows.extend(timeline.unit_rows(family, index))
    total, unknown = 0.0, []
    for lid in rows:
        product = product_mm2(timeline, lid, index)
        if product is None:
            unknown.append(lid)
        else:
            total += product
    return total, unknown


def _all_absent(timeline: Timeline, index: int) -> list[str]:
    """Lesions not absent (irCR: every index, non-index and new lesion gone; nodes < 10 mm)."""
    left = []
    for group in (timeline.targets, timeline.non_targets, timeline.new_lesions):
        for lesion in timeline.rows(group, index):
            lid = lesion.lesion_id
            if timeline.is_coalesced(lid, index) or timeline.row_resolved(lid, index):
                continue
            left.append(lid)
    return left


def _irpd(burden: float, nadir: float, pct: float) -> bool:
    """Wolchok Table 2: at least +25 % from the nadir (multiplied form; nadir 0: any burden)."""
    return at_least(burden - nadir, pct / 100.0 * nadir) and above(burden, nadir)


def classify_irrc(timeline: Timeline) -> IrrcResult:
    """Run irRC on one patient (criteria.md section 8).

    Parameters
    ----------
    timeline
        The patient's lesions per assessment (both axes of each measurement).

    Returns
    -------
    IrrcResult
        Time-point responses and burdens, BOR and progression date; NA (with the reason)
        without index lesions or with one lacking a product at baseline.
    """
    c = timeline.criteria
    index_rows = [t.lesion_id for t in timeline.rows(timeline.targets, 0)]
    reason_na = ""
    if not index_rows:
        reason_na = "NA: no index (target) lesions"
    else:
        lacking = [lid for lid in index_rows if product_mm2(timeline, lid, 0) is None]
        if lacking:
            reason_na = (
                f"NA: index lesion {', '.join(lacking)} has no bidimensional product at "
                "baseline (irRC needs a long and a short axis)"
            )
    if reason_na:
        points = [IrrcTimepoint(i, NA, reason_na) for i in range(timeline.count)]
        return IrrcResult(points, NA, reason_na, None, reason_na)
    new_roots = new_measurable_lesions(timeline)
    first = {root: timeline.family_first_index(root, unequivocal=True) for root in new_roots}
    baseline, _ = _burden(timeline, new_roots, first, 0)
    points = [IrrcTimepoint(0, NA, f"baseline: tumour burden {fmt_mm(baseline)} mm²", baseline)]
    nadir, nadir_index = baseline, 0
    for i in range(1, timeline.count):
        known, unknown = _burden(timeline, new_roots, first, i)
        burden = None if unknown else known
        what = f"tumour burden {fmt_mm(known)} mm²"
        nadir_text = f"nadir {fmt_mm(nadir)} mm² ({timeline.label(nadir_index)})"
        left = _all_absent(timeline, i)
        change_nadir = (known - nadir) / nadir * 100.0 if nadir else None
        if not left:
            response, reason = IRCR, "irCR: every index, non-index and new lesion absent"
        elif _irpd(known, nadir, c.irrc_pd_pct):
            response = IRPD
            reason = (
                f"irPD: {what} is "
                + (fmt_pct(change_nadir) if change_nadir is not None else "above")
                + f" from {nadir_text}"
            )
            if unknown:
                reason += f" (no product: {', '.join(unknown)}, counted 0)"
        elif unknown:
            response = NE
            reason = (
                f"NE: {', '.join(unknown)} without a product; the known {what} is short of irPD"
            )
        else:
            change = (known - baseline) / baseline * 100.0 if baseline else None
            # Wolchok Table 2: irPR = >= 50 % decrease from baseline (multiplied form).
            if baseline > 0 and at_most(known - baseline, c.irrc_pr_pct / 100.0 * baseline):
                response = IRPR
                reason = f"irPR: {what} is {fmt_pct(change)} from baseline {fmt_mm(baseline)} mm²"
            else:
                response = IRSD
                reason = (
                    f"irSD: {what} is {fmt_pct(change)} from baseline {fmt_mm(baseline)} mm², "
                    f"short of irPD against {nadir_text} (no continued PR in irRC)"
                )
        points.append(IrrcTimepoint(i, response, reason, burden))
        if burden is not None and burden < nadir:
            nadir, nadir_index = burden, i
    return _summarise(timeline, points)


def _confirmed(
    timeline: Timeline, window: list[IrrcTimepoint], position: int, accepted: tuple[str, ...]
) -> int | None:
    """The confirmation rule of criteria.md section 1 on irRC responses (amended 2026-12).

    j = first later response in `accepted` >= `confirm_min_days` after i; every response
    between is in `accepted` or NE (at most `confirm_max_ne`); irSD or irPD breaks it.
    """
    c = timeline.criteria
    start = window[position]
    ne_between = 0
    for later in window[position + 1 :]:
        gap = timeline.days[later.index] - timeline.days[start.index]
        if later.response in accepted and gap >= c.confirm_min_days:
            return later.index
        if later.response == NE:
            ne_between += 1
            if ne_between > c.confirm_max_ne:
                return None
            continue
        if later.response not in accepted:
            return None
    return None


def _summarise(timeline: Timeline, points: list[IrrcTimepoint]) -> IrrcResult:
    """Negation of irPD, the progression date and the confirmed BOR (criteria.md section 8)."""
    c = timeline.criteria
    responses = [p.response for p in points]
    standing: int | None = None
    for p in points[1:]:
        if p.response != IRPD:
            continue
        stands, decided = pd_stands(
            timeline.days, responses, p.index, IRPD, c.irrc_confirm_min_days
        )
        if stands:
            standing = p.index
            break
        assert decided is not None
        p.reason += (
            f" (negated by {responses[decided]} at {timeline.label(decided)}, "
            f">= {c.irrc_confirm_min_days} days later)"
        )
    if standing is not None:
        date = timeline.assessments[standing].date
        date_reason = f"irPD at {timeline.label(standing)} ({date.isoformat()}) stands"
    else:
        date, date_reason = None, "no irPD that stands"
    end = standing if standing is not None else timeline.count - 1
    window = points[1 : end + 1]
    for level, accepted in ((IRCR, (IRCR,)), (IRPR, (IRCR, IRPR))):
        for position, p in enumerate(window):
            if p.response in accepted:
                by = _confirmed(timeline, window, position, accepted)
                if by is not None:
                    return IrrcResult(points, level, (
                        f"{level}: {p.response} at {timeline.label(p.index)} confirmed by "
                        f"{responses[by]} at {timeline.label(by)} (>= {c.confirm_min_days} "
                        "days later; Wolchok 2009 Table 2)"
                    ), date, date_reason)
    for p in window:
        if p.response in (IRCR, IRPR, IRSD) and at_least(
            timeline.origin_days[p.index], c.min_sd_days
        ):
            note = " (unconfirmed response counts as irSD)" if p.response != IRSD else ""
            return IrrcResult(points, IRSD, (
                f"irSD: {p.response} at {timeline.label(p.index)}, day "
                f"{timeline.origin_days[p.index]} from the time origin >= {c.min_sd_days}{note}"
            ), date, date_reason)
    if standing is not None:
        return IrrcResult(
            points, IRPD, f"irPD at {timeline.label(standing)} stands", date, date_reason
        )
    return IrrcResult(points, NE, "NE: no confirmed response and no irSD long enough", date,
                      date_reason)
