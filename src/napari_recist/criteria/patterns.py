"""Atypical patterns and kinetics: growth, TGR, hyperprogression, progression pattern, resistance.

shared/spec/criteria.md section 5 (seeds 003 and 004, Ferte TGR, Champiat and Ferrara
hyperprogression, SITC resistance as simplified in seed 004).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

from napari_recist.criteria.contract import ProgressionPatternJSON
from napari_recist.criteria.lesions import LesionResponse
from napari_recist.criteria.numbers import above, at_least, at_most, percent_change
from napari_recist.criteria.recist import CR, NA, NON_CR_NON_PD, PD, PR, SD, RecistTimepoint
from napari_recist.criteria.timeline import Timeline
from napari_recist.frozen import RebuiltByConstructor
from napari_recist.model import Assessment, Lesion, LesionState, natural_key

LIVER: Final = "liver"
THORACIC: Final = "thoracic"
EXTRATHORACIC: Final = "extrathoracic"


@dataclass(frozen=True)
class Kinetics(RebuiltByConstructor):
    """Growth of the target sum (seed 004) and tumour growth rates (Ferte)."""

    depth_of_response_pct: float | None
    time_to_nadir_days: int | None
    first_follow_up_sd: str
    tgr_ref: float | None
    tgr_exp: float | None
    change_per_month_at_pd_pct: float | None

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self,
        depth_of_response_pct: float | None,
        time_to_nadir_days: int | None,
        first_follow_up_sd: str,
        tgr_ref: float | None,
        tgr_exp: float | None,
        change_per_month_at_pd_pct: float | None,
    ) -> None:
        object.__setattr__(self, "depth_of_response_pct", depth_of_response_pct)
        object.__setattr__(self, "time_to_nadir_days", time_to_nadir_days)
        object.__setattr__(self, "first_follow_up_sd", first_follow_up_sd)
        object.__setattr__(self, "tgr_ref", tgr_ref)
        object.__setattr__(self, "tgr_exp", tgr_exp)
        object.__setattr__(self, "change_per_month_at_pd_pct", change_per_month_at_pd_pct)


@dataclass(frozen=True)
class Hyperprogression(RebuiltByConstructor):
    """Champiat and Ferrara hyperprogression flags with their reason."""

    champiat: bool
    ferrara: bool
    reason: str

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self,
        champiat: bool,
        ferrara: bool,
        reason: str,
    ) -> None:
        object.__setattr__(self, "champiat", champiat)
        object.__setattr__(self, "ferrara", ferrara)
        object.__setattr__(self, "reason", reason)


@dataclass(frozen=True)
class ProgressionPattern(RebuiltByConstructor):
    """Which lesions progressed at the first PD, and where (seeds 003, 004)."""

    type: str
    organs: list[str] = field(default_factory=list)
    organ_count: int | None = None
    oligo: bool | None = None
    lymph_node_only: bool | None = None
    site_group: str = NA
    lesion_ids: list[str] = field(default_factory=list)
    reason: str = "no progression"

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self,
        type: str,
        organs: list[str] | None = None,
        organ_count: int | None = None,
        oligo: bool | None = None,
        lymph_node_only: bool | None = None,
        site_group: str = NA,
        lesion_ids: list[str] | None = None,
        reason: str = 'no progression',
    ) -> None:
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "organs", list() if organs is None else organs)
        object.__setattr__(self, "organ_count", organ_count)
        object.__setattr__(self, "oligo", oligo)
        object.__setattr__(self, "lymph_node_only", lymph_node_only)
        object.__setattr__(self, "site_group", site_group)
        object.__setattr__(self, "lesion_ids", list() if lesion_ids is None else lesion_ids)
        object.__setattr__(self, "reason", reason)

    def to_json(self) -> ProgressionPatternJSON:
        """Return the JSON object of the contract (lesion-table.md)."""
        return {
            "type": self.type,
            "organs": list(self.organs),
            "organ_count": self.organ_count,
            "oligo": self.oligo,
            "lymph_node_only": self.lymph_node_only,
            "site_group": self.site_group,
        }


def change_from_previous(recist: list[RecistTimepoint], index: int) -> float | None:
    """% change of the SOD from the previous assessment (seed 004), None if either is unknown."""
    if index < 1:
        return None
    now, before = recist[index].sod, recist[index - 1].sod
    if now is None or before is None:
        return None
    return percent_change(now, before)


def per_month(timeline: Timeline, change_pct: float | None, start: int, end: int) -> float | None:
    """Spread a % change over the months between two assessments (days / 30.4375)."""
    if change_pct is None:
        return None
    days = timeline.days[end] - timeline.days[start]
    if days <= 0:
        return None
    return change_pct / (days / timeline.criteria.days_per_month)


def tumour_growth_rate(
    before: float | None, after: float | None, days: float, days_per_month: float
) -> float | None:
    """Ferte TGR in % volume per month: 100 * (exp(3 * ln(D1/D0) / months) - 1).

    Parameters
    ----------
    before, after
        Target sums D0 and D1 in mm.
    days
        Days between the two scans.
    days_per_month
        30.4375 by default.

    Returns
    -------
    float or None
        None when it is undefined (no sums, D0 = 0, no time between the scans).
    """
    if before is None or after is None or before <= 0 or days <= 0:
        return None
    months = days / days_per_month
    if after <= 0:
        return -100.0
    return 100.0 * (math.exp(3.0 * math.log(after / before) / months) - 1.0)


def pre_baseline_sum(timeline: Timeline, scan: Assessment) -> float | None:
    """Sum of the baseline targets at a pre-baseline scan, None if one is not measured."""
    total = 0.0
    too_small = timeline.criteria.too_small_mm
    for target in timeline.rows(timeline.targets, 0):
        measurement = scan.measurements.get(target.lesion_id)
        diameter = None if measurement is None else measurement.diameter_mm(target.nodal, too_small)
        if diameter is None:
            return None
        total += diameter
    return total


def kinetics(timeline: Timeline, recist: list[RecistTimepoint], first_pd: int | None) -> Kinetics:
    """Growth kinetics of the target sum (criteria.md section 5, seed 004, Ferte TGR)."""
    c = timeline.criteria
    changes = [
        tp.change_from_baseline_pct for tp in recist[1:] if tp.change_from_baseline_pct is not None
    ]
    depth = min(changes) if changes else None
    sums = [(tp.sod, tp.index) for tp in recist if tp.sod is not None]
    time_to_nadir = None
    # criteria.md sections 1 and 5 (amended 2026-12): with a target without a baseline size
    # the nadir comes only from the assessments whose targets were all evaluated, so the
    # time to nadir is still the days from the baseline scan to the smallest known SOD.
    if sums:
        smallest = min(s for s, _ in sums)
        nadir_index = next(index for s, index in sums if at_most(s, smallest))
        time_to_nadir = timeline.days[nadir_index]
    first_sd: str = NA
    if (
        len(recist) > 1
        and recist[1].overall == SD
        and recist[1].change_from_baseline_pct is not None
    ):
        first_sd = (
            "with shrinkage" if recist[1].change_from_baseline_pct < 0 else "without shrinkage"
        )
    tgr_ref = None
    if timeline.pre_baseline:
        scan = timeline.pre_baseline[-1]  # the scan closest to baseline
        pre_days = (timeline.assessments[0].date - scan.date).days
        tgr_ref = tumour_growth_rate(
            pre_baseline_sum(timeline, scan), recist[0].sod, pre_days, c.days_per_month
        )
    tgr_exp = (
        tumour_growth_rate(recist[0].sod, recist[1].sod, timeline.days[1], c.days_per_month)
        if len(recist) > 1
        else None
    )
    at_pd = (
        per_month(timeline, change_from_previous(recist, first_pd), first_pd - 1, first_pd)
        if first_pd is not None
        else None
    )
    return Kinetics(depth, time_to_nadir, first_sd, tgr_ref, tgr_exp, at_pd)


def hyperprogression(
    timeline: Timeline, recist: list[RecistTimepoint], k: Kinetics
) -> Hyperprogression:
    """Champiat and Ferrara hyperprogression at the first follow-up (false without pre-baseline)."""
    c = timeline.criteria
    if len(recist) < 2 or recist[1].overall != PD:
        return Hyperprogression(False, False, "no RECIST PD at the first follow-up")
    if k.tgr_ref is None or k.tgr_exp is None:
        return Hyperprogression(
            False, False, "PD at TP1 but no pre-baseline target sum for TGR_ref"
        )
    # Champiat 2017: PD at first evaluation and TGR_exp >= 2 x TGR_ref (TGR_exp > 0).
    champiat = above(k.tgr_exp, 0.0) and (
        at_most(k.tgr_ref, 0.0) or at_least(k.tgr_exp, c.champiat_tgr_ratio * k.tgr_ref)
    )
    # Ferrara 2018: PD at first evaluation and TGR_exp - TGR_ref > 50 %.
    ferrara = above(k.tgr_exp - k.tgr_ref, c.ferrara_tgr_delta)
    reason = (
        f"TGR_ref {k.tgr_ref:.1f} %/month, TGR_exp {k.tgr_exp:.1f} %/month at PD TP1: "
        f"Champiat {'yes' if champiat else 'no'}, Ferrara {'yes' if ferrara else 'no'} "
        f"(TGR_exp - TGR_ref = {k.tgr_exp - k.tgr_ref:.1f})"
    )
    return Hyperprogression(champiat, ferrara, reason)


def is_thoracic(lesion: Lesion, thoracic_sites: tuple[str, ...]) -> bool:
    """Thoracic site (seed 003); the `thoracic` column overrides; nodes only when it says so."""
    if lesion.thoracic is not None:
        return lesion.thoracic
    if lesion.nodal or lesion.site == "lymph node":
        return False
    return lesion.site.lower() in thoracic_sites


def progression_pattern(
    timeline: Timeline,
    recist: list[RecistTimepoint],
    first_pd: int | None,
    lesions_at_pd: dict[str, LesionResponse],
) -> ProgressionPattern:
    """Progression pattern at the first PD (seeds 003, 004).

    Progressing lesions: targets with lesion-level PD (when the target PD has none, the targets
    that grew from their own nadir), non-targets with `progression` (or that reappeared after
    CR) and the new lesions.
    """
    if first_pd is None:
        return ProgressionPattern(type=NA)
    tp = recist[first_pd]
    i = first_pd
    # criteria.md section 4 (amended 2026-12): each lesion unit counts once, with the sites
    # of its lesions.
    target_units = timeline.units(timeline.targets, i)

    def response_of(unit: frozenset[str]) -> str | None:
        member = min((lid for lid in unit if lid in lesions_at_pd), default=None)
        return lesions_at_pd[member].response if member is not None else None

    enlarging: list[frozenset[str]] = [u for u in target_units if response_of(u) == PD]
    if tp.target == PD and not enlarging:
        for unit in target_units:
            now = timeline.unit_diameter(unit, i)
            nadir = timeline.unit_nadir(unit, i)
            if now is not None and nadir is not None and above(now, nadir):
                enlarging.append(unit)
    for unit in timeline.units(timeline.non_targets, i):
        rows = timeline.unit_rows(unit, i)
        if any(
            timeline.states[lid][i] is LesionState.PROGRESSION or lid in tp.reappeared_ids
            for lid in rows
        ):
            enlarging.append(unit)
    new = [
        unit
        for unit in timeline.units(timeline.new_lesions, i)
        if any(lid in tp.present_new_rows for lid in unit)
    ]
    progressing = enlarging + new
    if enlarging and new:
        kind = "both"
    elif new:
        kind = "new lesions only"
    else:
        kind = "enlargement only"
    members: list[list[Lesion]] = [
        [timeline.lesion(lid) for lid in sorted(unit, key=natural_key)] for unit in progressing
    ]
    every = [lesion for group in members for lesion in group]
    organs = sorted({lesion.site for lesion in every})
    c = timeline.criteria
    if any(lesion.site == LIVER for lesion in every):
        group = LIVER
    elif any(is_thoracic(lesion, c.thoracic_sites) for lesion in every):
        group = THORACIC
    else:
        group = EXTRATHORACIC
    node_only = bool(every) and all(
        lesion.nodal or lesion.site == "lymph node" for lesion in every
    )
    names = ", ".join(
        "+".join(lesion.lesion_id for lesion in group_members)
        + f" ({', '.join(sorted({lesion.site for lesion in group_members}))})"
        for group_members in members
    )
    return ProgressionPattern(
        type=kind,
        organs=organs,
        organ_count=len(organs),
        oligo=1 <= len(organs) <= c.oligo_max_organs,
        lymph_node_only=node_only,
        site_group=group,
        lesion_ids=[lesion.lesion_id for lesion in every],
        reason=f"{kind} at {timeline.label(first_pd)}: {names or 'no single lesion'}; "
        f"{len(organs)} organ{'s' if len(organs) != 1 else ''}, {group}",
    )


def resistance(
    timeline: Timeline, recist: list[RecistTimepoint], first_pd: int | None, bor: str
) -> tuple[str, str]:
    """SITC resistance type at the first PD, simplified as in seed 004.

    Primary if the BOR is PD or the last SD before PD is < 180 days after the time origin;
    secondary if CR/PR was reached or that SD is >= 180 days after it; NA without PD
    (criteria.md section 5, amended 2026-12: the time origin is treatment start when given).
    """
    c = timeline.criteria
    if first_pd is None:
        return NA, "no progression"
    before = recist[1:first_pd]
    responded = [tp for tp in before if tp.overall in (CR, PR)]
    if responded:
        return "secondary", (
            f"secondary: {responded[0].overall} at {timeline.label(responded[0].index)} before "
            f"PD at {timeline.label(first_pd)}"
        )
    if bor == PD:
        return "primary", f"primary: best response PD (PD at {timeline.label(first_pd)})"
    stable = [tp for tp in before if tp.overall in (SD, NON_CR_NON_PD)]
    if not stable:
        return "primary", f"primary: no response or SD before PD at {timeline.label(first_pd)}"
    last = stable[-1]
    days = timeline.origin_days[last.index]
    if days >= c.resistance_sd_days:
        return "secondary", (
            f"secondary: {last.overall} still at {timeline.label(last.index)}, day {days} "
            f"from the time origin >= {c.resistance_sd_days}"
        )
    return "primary", (
        f"primary: last {last.overall} at {timeline.label(last.index)}, day {days} "
        f"from the time origin < {c.resistance_sd_days}, then PD"
    )


def describe_kinetics(k: Kinetics) -> str:
    """One-line summary of the kinetics for the reasons."""
    parts = []
    if k.depth_of_response_pct is not None:
        parts.append(f"depth of response {k.depth_of_response_pct:+.1f} %")
    if k.time_to_nadir_days is not None:
        parts.append(f"time to nadir {k.time_to_nadir_days} days")
    if k.tgr_exp is not None:
        parts.append(f"TGR_exp {k.tgr_exp:.1f} %/month")
    if k.tgr_ref is not None:
        parts.append(f"TGR_ref {k.tgr_ref:.1f} %/month")
    return ", ".join(parts) if parts else "no target sums to follow"
