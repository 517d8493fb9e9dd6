"""The JSON contract of shared/spec/lesion-table.md as types: one patient object.

`napari_recist.criteria.report.PatientResult.to_json` builds a `PatientJSON`; the command
line writes it, and the viewer, the tumour-board report and the cohort read it with these
types (instead of untyped mappings). Pure typing: no code runs here.
"""

from __future__ import annotations

from typing import TypedDict


class DissociatedJSON(TypedDict):
    """Patient-level dissociated response by each definition (criteria.md section 5)."""

    vuagnat: str
    bernard_tessier: bool
    tozuka: str


class HyperprogressionJSON(TypedDict):
    """Hyperprogression by Champiat and by Ferrara (criteria.md section 6)."""

    champiat: bool | None
    ferrara: bool | None


class ProgressionPatternJSON(TypedDict):
    """Where progression happened (criteria.md section 6)."""

    type: str
    organs: list[str]
    organ_count: int | None
    oligo: bool | None
    lymph_node_only: bool | None
    site_group: str


class KineticsJSON(TypedDict):
    """Growth kinetics (seed 004, Ferte TGR)."""

    tgr_ref_pct_per_month: float | None
    tgr_exp_pct_per_month: float | None
    first_follow_up_sd: str | None
    change_per_month_at_pd_pct: float | None


class TimepointDissociatedJSON(TypedDict):
    """Dissociated response at one assessment."""

    vuagnat: str
    bernard_tessier: bool


class TimepointJSON(TypedDict):
    """One assessment (pre-baseline, baseline and follow-ups alike; NA / null where none)."""

    timepoint: int
    date: str
    sum_mm: float | None
    nadir_mm: float | None
    change_from_baseline_pct: float | None
    change_from_nadir_pct: float | None
    change_from_previous_pct: float | None
    change_from_previous_per_month_pct: float | None
    change_from_baseline_per_month_pct: float | None
    change_from_nadir_per_month_pct: float | None
    target: str
    non_target: str
    new_lesions: bool
    overall: str
    irecist: str
    imrecist: str  # criteria.md section 7 (new 2026-12)
    imrecist_sum_mm: float | None
    irrc: str  # criteria.md section 8 (new 2026-12)
    irrc_tumor_burden_mm2: float | None
    lesions: dict[str, str]
    dissociated: TimepointDissociatedJSON
    category: str
    reason: str
    reasons: dict[str, object]
    lesion_diameters_mm: dict[str, float | None]


class PatientJSON(TypedDict):
    """The patient object of the contract, with the project's additions and every reason."""

    patient_id: str
    treatment_start: str | None  # lesion-table.md (amended 2026-12)
    best_overall_response: str
    confirmed_best_overall_response: str
    irecist_best_overall_response: str
    imrecist_best_overall_response: str
    imrecist_progression_date: str | None
    irrc_best_overall_response: str
    irrc_progression_date: str | None
    dissociated_response: DissociatedJSON
    pseudoprogression: bool
    hyperprogression: HyperprogressionJSON
    resistance: str
    progression_date: str | None
    pfs_days: int | None  # criteria.md section 5 (amended 2026-12), from the time origin
    pfs_event: bool
    progression_pattern: ProgressionPatternJSON
    depth_of_response_pct: float | None
    time_to_nadir_days: int | None
    category: str
    response_group: str
    irecist_progression_date: str | None
    vuagnat_dr_rate: float | None
    kinetics: KineticsJSON
    reasons: dict[str, str]
    warnings: list[str]
    warning_codes: list[str]  # criteria.md section 9 (amended 2026-12)
    timepoints: list[TimepointJSON]


class ClassificationJSON(TypedDict):
    """The document `napari-recist classify --json` writes."""

    criteria: dict[str, object]
    patients: list[PatientJSON]
