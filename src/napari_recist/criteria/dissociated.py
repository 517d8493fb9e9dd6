"""Dissociated response by three published definitions, reported side by side.

shared/spec/criteria.md section 4: `vuagnat` (seed 001), `bernard_tessier` (seed 002),
`tozuka` (seed 000), and the seed 002 response categories.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from napari_recist.criteria.lesions import LesionResponse
from napari_recist.criteria.numbers import above, at_least, below, fmt_mm, fmt_pct, percent_change
from napari_recist.criteria.recist import CR, NA, NE, NON_CR_NON_PD, PD, PR, SD, RecistTimepoint
from napari_recist.criteria.timeline import Timeline
from napari_recist.frozen import RebuiltByConstructor
from napari_recist.model import LesionState
from napari_recist.vocabulary import Category, VuagnatType

DR: Final = Category.DR
DR1: Final = VuagnatType.DR1
DR2: Final = VuagnatType.DR2
DR3: Final = VuagnatType.DR3
NONE: Final = VuagnatType.NONE
TRUE_PD: Final = Category.TRUE_PD
_VUAGNAT_RANK: Final[dict[str, int]] = {DR1: 3, DR2: 2, DR3: 1, NONE: 0}

# Seed 002: RECIST overall response -> category when no DR.
_CATEGORY: Final[dict[str, str]] = {
    CR: Category.CR,
    PR: Category.TRUE_PR,
    SD: Category.TRUE_SD,
    PD: Category.TRUE_PD,
    NON_CR_NON_PD: Category.NON_CR_NON_PD,
    NE: Category.NE,
}
_NON_TARGET_GROWTH: Final = (LesionState.PROGRESSION, LesionState.INCREASE)


@dataclass(frozen=True)
class Verdict(RebuiltByConstructor):
    """A value with its one-line reason."""

    value: str
    reason: str

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(self, value: str, reason: str) -> None:
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "reason", reason)


def _baseline_target_count(timeline: Timeline) -> int:
    return len(timeline.rows(timeline.targets, 0))


def vuagnat_at(timeline: Timeline, lesions: dict[str, LesionResponse], index: int) -> Verdict:
    """Vuagnat DR1/DR2/DR3 at one follow-up from the target units' responses (seed 001).

    DR1 = >= 1 PD and >= 1 CR/PR target; DR2 = >= 1 PD and >= 1 SD; DR3 = >= 1 SD and
    >= 1 CR/PR; DR1 beats DR2 beats DR3; NA with fewer than 2 targets at baseline. (amended
    2026-12) Taken over the target units there: fragments or a coalesced mass are one lesion.
    """
    if _baseline_target_count(timeline) < 2:
        return Verdict(NA, "fewer than 2 target lesions at baseline")
    by_response: dict[str, list[str]] = {CR: [], PR: [], SD: [], PD: []}
    if timeline.single_lesion_units:
        # Every target is its own unit: its own response (the same as the loop below).
        for target in timeline.rows(timeline.targets, index):
            response = lesions.get(target.lesion_id)
            if response is not None and response.response in by_response:
                by_response[response.response].append(response.lesion_id)
    else:
        for unit in timeline.units(timeline.targets, index):
            member = min((lid for lid in unit if lid in lesions), default=None)
            response = lesions.get(member) if member is not None else None
            if response is not None and response.response in by_response:
                by_response[response.response].append(response.lesion_id)
    responding = by_response[CR] + by_response[PR]
    growing, stable = by_response[PD], by_response[SD]
    if growing and responding:
        return Verdict(DR1, f"DR1: PD target {', '.join(growing)}, CR/PR {', '.join(responding)}")
    if growing and stable:
        return Verdict(DR2, f"DR2: PD target {', '.join(growing)}, SD {', '.join(stable)}")
    if stable and responding:
        return Verdict(DR3, f"DR3: SD target {', '.join(stable)}, CR/PR {', '.join(responding)}")
    return Verdict(NONE, "no dissociated response among the target units")


def vuagnat_patient(timeline: Timeline, verdicts: list[Verdict]) -> tuple[Verdict, float | None]:
    """Best Vuagnat category over the follow-ups, and the share of follow-ups with any DR."""
    if _baseline_target_count(timeline) < 2:
        return Verdict(NA, "fewer than 2 target lesions at baseline"), None
    if not verdicts:
        return Verdict(NONE, "no follow-up"), None
    best_index = max(range(len(verdicts)), key=lambda k: (_VUAGNAT_RANK[verdicts[k].value], -k))
    best = verdicts[best_index]
    rate = sum(1 for v in verdicts if v.value != NONE) / len(verdicts)
    if best.value == NONE:
        return Verdict(NONE, "no dissociated response at any follow-up"), rate
    where = timeline.label(best_index + 1)
    return Verdict(best.value, f"{best.value} at {where}{best.reason[len(best.value) :]}"), rate


# Unit name, diameter now, % change from its baseline, its nadir before now, its members.
_MeasuredUnit = tuple[str, float, float | None, float | None, frozenset[str]]


def _measured_lesions(timeline: Timeline, index: int) -> list[_MeasuredUnit]:
    """Target and measured non-target units with a size now and at baseline.

    criteria.md section 4 (amended 2026-12): "lesion" means a lesion unit, so a lesion can
    neither shrink against its own fragment nor count a shared mass twice.

    Returns
    -------
    list of tuple
        Unit name, diameter now, % change from its baseline, its nadir before now, members
        (the seed 000 site table reads them: cohort/dr_tables.py).
    """
    if timeline.single_lesion_units:
        return _measured_single_lesions(timeline, index)
    measured: list[_MeasuredUnit] = []
    for group in (timeline.targets, timeline.non_targets):
        for unit in timeline.units(group, index):
            now = timeline.unit_diameter(unit, index)
            baseline = timeline.unit_diameter(unit, 0, history=True)
            if now is None or baseline is None:
                continue
            rows = timeline.unit_rows(unit, index)
            name = rows[0] if len(unit) == 1 else "+".join(rows)
            measured.append(
                (name, now, percent_change(now, baseline), timeline.unit_nadir(unit, index), unit)
            )
    return measured


def _measured_single_lesions(timeline: Timeline, index: int) -> list[_MeasuredUnit]:
    """`_measured_lesions` when every lesion is its own unit (the same values, faster)."""
    states, diameters, nadirs = timeline.states, timeline.diameters, timeline.nadirs
    measured: list[_MeasuredUnit] = []
    for group in (timeline.targets, timeline.non_targets):
        for lesion in group:
            lid = lesion.lesion_id
            lesion_states = states[lid]
            if lesion_states[index] is None or lesion_states[0] is None:
                continue
            now, baseline = diameters[lid][index], diameters[lid][0]
            if now is None or baseline is None:
                continue
            measured.append(
                (lid, now, percent_change(now, baseline), nadirs[lid][index], frozenset((lid,)))
            )
    return measured


def _growing_non_targets(timeline: Timeline, index: int) -> list[str]:
    """Non-targets with `progression` or `increase` at an assessment."""
    return [
        n.lesion_id
        for n in timeline.rows(timeline.non_targets, index)
        if timeline.states[n.lesion_id][index] in _NON_TARGET_GROWTH
    ]


def _measured_change(timeline: Timeline, index: int) -> tuple[list[str], list[tuple[str, float]]]:
    """Lesions (targets and measured non-targets) that shrank > 30 % / grew > 20 % (seed 002)."""
    c = timeline.criteria
    shrunk: list[str] = []
    grown: list[tuple[str, float]] = []
    for lesion_id, now, change, nadir, _ in _measured_lesions(timeline, index):
        if change is not None and below(change, -c.bt_decrease_pct):
            shrunk.append(lesion_id)
        if nadir is None:
            continue
        if (nadir == 0 and now > 0) or (
            nadir > 0 and above(now / nadir * 100 - 100, c.bt_increase_pct)
        ):
            grown.append((lesion_id, now - nadir))
    return shrunk, grown


def bernard_tessier_at(timeline: Timeline, recist: RecistTimepoint) -> Verdict:
    """Bernard-Tessier DR at one follow-up (seed 002).

    Some lesion decreased > 30 % from its baseline AND (lesions increased > 20 % from their
    nadir with increases summing >= 5 mm, OR a new lesion, OR non-target progression/increase).
    """
    c = timeline.criteria
    i = recist.index
    shrunk, grown = _measured_change(timeline, i)
    if not shrunk:
        return Verdict("false", f"no lesion shrank > {fmt_mm(c.bt_decrease_pct)} % from baseline")
    progressing_nt = _growing_non_targets(timeline, i)
    # Some lesions shrink while OTHERS grow: a lesion cannot be on both sides (seed 002).
    for lesion_id in shrunk:
        others = [(lid, delta) for lid, delta in grown if lid != lesion_id]
        growth_sum = sum(delta for _, delta in others)
        other_side: list[str] = []
        if others and at_least(growth_sum, c.bt_min_increase_sum_mm):
            other_side.append(
                f"{', '.join(lid for lid, _ in others)} grew > {fmt_mm(c.bt_increase_pct)} % "
                f"from nadir by {fmt_mm(growth_sum)} mm in all"
            )
        if recist.new_lesions:
            other_side.append(f"new lesion {', '.join(recist.new_lesion_ids)}")
        if progressing_nt:
            other_side.append(f"non-target {', '.join(progressing_nt)} progressing")
        if other_side:
            return Verdict(
                "true",
                f"DR: {', '.join(shrunk)} shrank > {fmt_mm(c.bt_decrease_pct)} % while "
                + "; ".join(other_side),
            )
    return Verdict("false", f"{', '.join(shrunk)} shrank but no other lesion grew or appeared")


def category_for_response(response: str) -> str:
    """Seed 002 category of a RECIST response without DR: true PR, true SD, true PD..."""
    return _CATEGORY.get(response, NE)


def category_at(recist: RecistTimepoint, bernard_tessier: Verdict) -> str:
    """Seed 002 category: DR whenever Bernard-Tessier DR holds, else from the RECIST response."""
    if bernard_tessier.value == "true":
        return DR
    return category_for_response(recist.overall)


def tozuka(timeline: Timeline, recist: list[RecistTimepoint]) -> Verdict:
    """Tozuka DR at RECIST PD (seed 000): some lesion shrank while others grew or appeared.

    By default only the first follow-up is looked at, as in the paper; with
    `tozuka_every_pd` every PD is, and the patient is DR if any is.
    """
    c = timeline.criteria
    if len(recist) < 2:
        return Verdict(NA, "no follow-up")
    candidates = [tp for tp in recist[1:] if tp.overall == PD]
    if not c.tozuka_every_pd:
        candidates = [tp for tp in candidates if tp.index == 1]
    if not candidates:
        where = "any follow-up" if c.tozuka_every_pd else "the first follow-up"
        return Verdict(NA, f"no RECIST PD at {where}")
    for tp in candidates:
        i = tp.index
        shrunk: dict[str, float] = {}
        grown: list[str] = []
        for lesion_id, now, change, nadir, _ in _measured_lesions(timeline, i):
            if change is not None and below(change, -c.tozuka_min_shrink_pct):
                shrunk[lesion_id] = change
            if nadir is not None and above(now, nadir):
                grown.append(lesion_id)
        growing_nt = _growing_non_targets(timeline, i)
        # Some lesions shrink while OTHERS grow or appear (seed 000): never the same lesion.
        for lesion_id in shrunk:
            growth = []
            others = [lid for lid in grown if lid != lesion_id]
            if others:
                growth.append(f"{', '.join(others)} grew from nadir")
            if growing_nt:
                growth.append(f"non-target {', '.join(growing_nt)} progressing")
            if tp.new_lesions:
                growth.append(f"new lesion {', '.join(tp.new_lesion_ids)}")
            if growth:
                shrinking = ", ".join(f"{lid} {fmt_pct(pct)}" for lid, pct in shrunk.items())
                return Verdict(
                    DR,
                    f"DR at PD {timeline.label(i)}: {shrinking} shrank while " + "; ".join(growth),
                )
    labels = ", ".join(timeline.label(tp.index) for tp in candidates)
    return Verdict(TRUE_PD, f"true PD at {labels}: no lesion shrank while another grew or appeared")
