"""Seed 002 Fig. 5 (DR against iRECIST) and seed 000 Table 3 (sites of each DR patient).

DR x iRECIST (seed 002, Fig. 5: a DR patient's overall response can be PR/iPR, SD/iSD or
PD/iUPD): two cross-tables of counts,
- per DR assessment: at the first follow-up of each seed 002 DR patient where the
  Bernard-Tessier definition is met, the RECIST 1.1 overall response by the iRECIST response;
- per patient: seed 002's category with PsPD apart by the iRECIST best overall response.

Sites per DR patient (seed 000, Table 3): for each Tozuka DR patient, at the PD assessment that
made the patient DR (the first follow-up, or with ``tozuka_every_pd`` the first PD at which the
definition is met), the organs of the lesions that shrank from baseline (response sites) and
of those that grew from their nadir, with how they progressed (``target lesion``,
``non-target lesion``, ``new lesion``), computed with the engine's own rule for the Tozuka DR
(criteria.md section 4), from the lesion table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from napari_recist.cohort.fields import category_pspd
from napari_recist.model import PatientRecord

CROSS_COLUMNS: tuple[str, ...] = ("table", "row", "column", "count", "denominator")
SITE_COLUMNS: tuple[str, ...] = (
    "patient_id", "timepoint", "date", "response_sites", "progression_sites", "recist",
    "irecist",
)  # fmt: skip


def dr_irecist_rows(patients: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The two cross-tables of the module docstring, as rows of counts."""
    at_dr: Counter[tuple[str, str]] = Counter()
    dr_patients = 0
    for patient in patients:
        if patient.get("category") != "DR":
            continue
        dr_patients += 1
        for tp in sorted(patient.get("timepoints", []), key=lambda t: int(t["timepoint"])):
            if int(tp["timepoint"]) > 0 and (tp.get("dissociated") or {}).get("bernard_tessier"):
                at_dr[(str(tp.get("overall", "NA")), str(tp.get("irecist", "NA")))] += 1
                break
    rows = [
        {"table": "DR assessment: RECIST 1.1 overall x iRECIST (seed 002 Fig. 5)",
         "row": r, "column": c, "count": str(n),
         "denominator": f"{dr_patients} seed 002 DR patients, first Bernard-Tessier DR "
                        "follow-up of each"}
        for (r, c), n in sorted(at_dr.items())
    ]  # fmt: skip
    by_patient = Counter(
        (category_pspd(p), str(p.get("irecist_best_overall_response", "NA"))) for p in patients
    )
    rows += [
        {"table": "Patients: category (PsPD apart) x iRECIST best overall response",
         "row": r, "column": c, "count": str(n),
         "denominator": f"{len(patients)} classified patients"}
        for (r, c), n in sorted(by_patient.items())
    ]  # fmt: skip
    return rows


def _sites_at(timeline: Any, index: int, shrink_pct: float) -> tuple[list[str], list[str]]:
    # The engine's own lesion units and growth tests (criteria/dissociated.py), so the sites
    # are those of the lesions that made the verdict, not a re-derivation of the rule.
    from napari_recist.criteria.dissociated import _growing_non_targets, _measured_lesions
    from napari_recist.criteria.numbers import above, below

    shrunk: list[str] = []
    grown: list[str] = []
    target_ids = {lesion.lesion_id for lesion in timeline.targets}
    for _name, now, change, nadir, members in _measured_lesions(timeline, index):
        sites = sorted({timeline.lesion(m).site for m in members})
        kind = "target lesion" if members & target_ids else "non-target lesion"
        if change is not None and below(change, -shrink_pct):
            shrunk += sites
        if nadir is not None and above(now, nadir):
            grown += [f"{site}; {kind}" for site in sites]
    grown += [
        f"{timeline.lesion(lid).site}; non-target lesion"
        for lid in _growing_non_targets(timeline, index)
    ]
    grown += [
        f"{lesion.site}; new lesion"
        for lesion in timeline.new_lesions
        if timeline.is_present(lesion.lesion_id, index)
    ]
    return sorted(set(shrunk)), sorted(set(grown))


def dr_site_rows(
    records: Mapping[str, PatientRecord],
    patients: Sequence[Mapping[str, Any]],
    criteria: Mapping[str, Any],
) -> tuple[list[dict[str, str]], list[str]]:
    """Seed 000 Table 3: one row per Tozuka DR patient whose lesion table is at hand.

    Returns
    -------
    tuple
        The rows (`SITE_COLUMNS`) and the DR patients left out (no lesion table).
    """
    from napari_recist.criteria.settings import Criteria
    from napari_recist.criteria.timeline import build_timeline

    settings = Criteria.from_dict(dict(criteria)) if criteria else Criteria()
    rows: list[dict[str, str]] = []
    missing: list[str] = []
    for patient in patients:
        if (patient.get("dissociated_response") or {}).get("tozuka") != "DR":
            continue
        pid = str(patient["patient_id"])
        record = records.get(pid)
        if record is None:
            missing.append(pid)
            continue
        timeline = build_timeline(record, settings)
        follow_ups = sorted(
            (tp for tp in patient.get("timepoints", []) if int(tp["timepoint"]) > 0),
            key=lambda tp: int(tp["timepoint"]),
        )
        candidates = [
            (i, tp) for i, tp in enumerate(follow_ups, start=1) if tp.get("overall") == "PD"
        ]
        if not settings.tozuka_every_pd:
            candidates = candidates[:1] if candidates and candidates[0][0] == 1 else []
        for index, tp in candidates:
            shrunk, grown = _sites_at(timeline, index, settings.tozuka_min_shrink_pct)
            if shrunk and grown:
                rows.append(
                    {"patient_id": pid, "timepoint": str(tp["timepoint"]),
                     "date": str(tp.get("date", "")), "response_sites": "; ".join(shrunk),
                     "progression_sites": " | ".join(grown),
                     "recist": str(tp.get("overall", "")),
                     "irecist": str(tp.get("irecist", ""))}
                )  # fmt: skip
                break
    return rows, missing
