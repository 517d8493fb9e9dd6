"""Assemble one patient's verdicts, each with its reason, into the JSON contract.

The contract is shared/spec/lesion-table.md ("Classification output"): every key present,
`null` for numbers and "NA" for categories that do not apply.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from napari_recist.criteria import dissociated as dr
from napari_recist.criteria import patterns
from napari_recist.criteria.contract import PatientJSON, TimepointJSON
from napari_recist.criteria.imrecist import ImrecistResult, classify_imrecist
from napari_recist.criteria.irecist import IrecistResult, classify_irecist
from napari_recist.criteria.irrc import IrrcResult, classify_irrc
from napari_recist.criteria.lesions import LesionResponse, lesion_responses
from napari_recist.criteria.numbers import round_mm, round_one_decimal, round_pct, round_rate
from napari_recist.criteria.recist import NA, RecistResult, baseline_warnings, classify_recist
from napari_recist.criteria.settings import Criteria
from napari_recist.criteria.timeline import Timeline, build_timeline
from napari_recist.criteria.warnings import CriteriaWarning, codes, ordered
from napari_recist.frozen import RebuiltByConstructor
from napari_recist.gcpause import paused_garbage_collection
from napari_recist.model import PatientRecord
from napari_recist.vocabulary import Category

TRUE_RESPONSE: Final = "true response"
NON_RESPONSE: Final = "non-response"
ATYPICAL_RESPONSE: Final = "atypical response"


@dataclass
class PatientResult(RebuiltByConstructor):
    """Every verdict for one patient, with the intermediate results behind them."""

    record: PatientRecord
    criteria: Criteria
    timeline: Timeline
    recist: RecistResult
    irecist: IrecistResult
    lesions: list[dict[str, LesionResponse]]
    vuagnat: list[dr.Verdict]
    bernard_tessier: list[dr.Verdict]
    categories: list[str]
    vuagnat_patient: dr.Verdict
    vuagnat_rate: float | None
    tozuka: dr.Verdict
    kinetics: patterns.Kinetics
    hyperprogression: patterns.Hyperprogression
    pattern: patterns.ProgressionPattern
    resistance: tuple[str, str]
    warning_items: list[CriteriaWarning]
    imrecist: ImrecistResult
    irrc: IrrcResult

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self,
        record: PatientRecord,
        criteria: Criteria,
        timeline: Timeline,
        recist: RecistResult,
        irecist: IrecistResult,
        lesions: list[dict[str, LesionResponse]],
        vuagnat: list[dr.Verdict],
        bernard_tessier: list[dr.Verdict],
        categories: list[str],
        vuagnat_patient: dr.Verdict,
        vuagnat_rate: float | None,
        tozuka: dr.Verdict,
        kinetics: patterns.Kinetics,
        hyperprogression: patterns.Hyperprogression,
        pattern: patterns.ProgressionPattern,
        resistance: tuple[str, str],
        warning_items: list[CriteriaWarning],
        imrecist: ImrecistResult,
        irrc: IrrcResult,
    ) -> None:
        self.record = record
        self.criteria = criteria
        self.timeline = timeline
        self.recist = recist
        self.irecist = irecist
        self.lesions = lesions
        self.vuagnat = vuagnat
        self.bernard_tessier = bernard_tessier
        self.categories = categories
        self.vuagnat_patient = vuagnat_patient
        self.vuagnat_rate = vuagnat_rate
        self.tozuka = tozuka
        self.kinetics = kinetics
        self.hyperprogression = hyperprogression
        self.pattern = pattern
        self.resistance = resistance
        self.warning_items = warning_items
        self.imrecist = imrecist
        self.irrc = irrc

    @property
    def warnings(self) -> list[str]:
        """The warning sentences, in the order of criteria.md section 9."""
        return [w.message for w in self.warning_items]

    @property
    def warning_codes(self) -> list[str]:
        """The sorted distinct warning codes (criteria.md section 9)."""
        return codes(self.warning_items)

    @property
    def patient_id(self) -> str:
        """The patient."""
        return self.record.patient_id

    @property
    def bernard_tessier_patient(self) -> bool:
        """Seed 002: the patient is DR if any follow-up is."""
        return any(v.value == "true" for v in self.bernard_tessier[1:])

    @property
    def category(self) -> str:
        """Patient-level seed 002 category: DR if any follow-up is DR, else from the BOR."""
        if self.bernard_tessier_patient:
            return dr.DR
        return dr.category_for_response(self.recist.best_overall_response)

    @property
    def response_group(self) -> str:
        """Seed 002 groups: atypical (DR or pseudoprogression), true response, non-response."""
        if self.bernard_tessier_patient or self.irecist.pseudoprogression:
            return ATYPICAL_RESPONSE
        category = self.category
        if category in (Category.CR, Category.TRUE_PR):
            return TRUE_RESPONSE
        if category in (Category.TRUE_SD, Category.TRUE_PD):
            return NON_RESPONSE
        return NA

    def to_json(self) -> PatientJSON:
        """Return the patient object of the JSON contract, with reasons for every verdict."""
        recist, irecist, timeline = self.recist, self.irecist, self.timeline
        k = self.kinetics
        resistance, resistance_reason = self.resistance
        bt_first = next(
            (v for v in self.bernard_tessier[1:] if v.value == "true"),
            dr.Verdict("false", "no follow-up meets the Bernard-Tessier definition"),
        )
        timepoints = [self._timepoint_json(i) for i in range(timeline.count)]
        timepoints[:0] = [self._pre_baseline_json(a) for a in timeline.pre_baseline]
        progression_date = recist.progression_date
        imrecist, irrc = self.imrecist, self.irrc
        start = self.record.treatment_start
        return {
            "patient_id": self.patient_id,
            "treatment_start": start.isoformat() if start else None,
            "best_overall_response": recist.best_overall_response,
            "confirmed_best_overall_response": recist.confirmed_best_overall_response,
            "irecist_best_overall_response": irecist.best_overall_response,
            "imrecist_best_overall_response": imrecist.best_overall_response,
            "imrecist_progression_date": _iso(imrecist.progression_date),
            "irrc_best_overall_response": irrc.best_overall_response,
            "irrc_progression_date": _iso(irrc.progression_date),
            "dissociated_response": {
                "vuagnat": self.vuagnat_patient.value,
                "bernard_tessier": self.bernard_tessier_patient,
                "tozuka": self.tozuka.value,
            },
            "pseudoprogression": irecist.pseudoprogression,
            "hyperprogression": {
                "champiat": self.hyperprogression.champiat,
                "ferrara": self.hyperprogression.ferrara,
            },
            "resistance": resistance,
            "progression_date": progression_date.isoformat() if progression_date else None,
            "pfs_days": recist.pfs_days,
            "pfs_event": recist.pfs_event,
            "progression_pattern": self.pattern.to_json(),
            "depth_of_response_pct": round_pct(k.depth_of_response_pct),
            "time_to_nadir_days": k.time_to_nadir_days,
            "category": self.category,
            "response_group": self.response_group,
            "irecist_progression_date": (
                irecist.progression_date.isoformat() if irecist.progression_date else None
            ),
            "vuagnat_dr_rate": round_rate(self.vuagnat_rate),
            "kinetics": {
                "tgr_ref_pct_per_month": round_pct(k.tgr_ref),
                "tgr_exp_pct_per_month": round_pct(k.tgr_exp),
                "first_follow_up_sd": k.first_follow_up_sd,
                "change_per_month_at_pd_pct": round_pct(k.change_per_month_at_pd_pct),
            },
            "reasons": {
                "best_overall_response": recist.best_overall_reason,
                "confirmed_best_overall_response": recist.confirmed_reason,
                "irecist_best_overall_response": irecist.best_overall_reason,
                "imrecist_best_overall_response": imrecist.best_overall_reason,
                "imrecist_progression_date": imrecist.progression_reason,
                "irrc_best_overall_response": irrc.best_overall_reason,
                "irrc_progression_date": irrc.progression_reason,
                "pfs_days": recist.pfs_reason,
                "vuagnat": self.vuagnat_patient.reason,
                "bernard_tessier": bt_first.reason,
                "tozuka": self.tozuka.reason,
                "pseudoprogression": irecist.pseudoprogression_reason,
                "hyperprogression": self.hyperprogression.reason,
                "resistance": resistance_reason,
                "progression_date": recist.progression_reason,
                "progression_pattern": self.pattern.reason,
                "kinetics": patterns.describe_kinetics(k),
                # lesion-table.md (amended 2026-12): one sentence per verdict key.
                "category": self._category_reason(bt_first),
                "response_group": self._response_group_reason(),
            },
            "warnings": list(self.warnings),
            "warning_codes": self.warning_codes,
            "timepoints": timepoints,
        }

    def _category_reason(self, bt_first: dr.Verdict) -> str:
        """Why the patient has its seed 002 category (criteria.md section 4)."""
        if self.bernard_tessier_patient:
            return f"{bt_first.reason} ({self.timeline.label(self._first_dr_index())})"
        return (
            f"{self.category}: no Bernard-Tessier DR; from the unconfirmed best overall "
            f"response {self.recist.best_overall_response}"
        )

    def _first_dr_index(self) -> int:
        return next(i for i, v in enumerate(self.bernard_tessier) if i and v.value == "true")

    def _response_group_reason(self) -> str:
        """Why the patient is in its seed 002 response group (criteria.md section 4)."""
        if self.bernard_tessier_patient:
            return "atypical response: dissociated response (Bernard-Tessier)"
        if self.irecist.pseudoprogression:
            return f"atypical response: pseudoprogression ({self.irecist.pseudoprogression_reason})"
        group = self.response_group
        if group == NA:
            return f"NA: category {self.category} is in no response group"
        return f"{group}: category {self.category}"

    def _pre_baseline_json(self, assessment: Any) -> TimepointJSON:
        sod = patterns.pre_baseline_sum(self.timeline, assessment)
        return _empty_timepoint(
            assessment.timepoint,
            assessment.date.isoformat(),
            round_mm(sod),
            "pre-baseline scan (growth kinetics only)",
        )

    def _timepoint_json(self, i: int) -> TimepointJSON:
        timeline = self.timeline
        tp = self.recist.timepoints[i]
        itp = self.irecist.timepoints[i]
        assessment = timeline.assessments[i]
        lesions = self.lesions[i]
        if i == 0:
            entry = _empty_timepoint(
                assessment.timepoint,
                assessment.date.isoformat(),
                round_mm(tp.sod),
                tp.overall_reason,
            )
            entry["lesions"] = {lid: NA for lid in lesions}
            entry["reasons"]["lesions"] = {lid: "baseline" for lid in lesions}
            entry["lesion_diameters_mm"] = {
                lid: round_mm(response.own_mm) for lid, response in lesions.items()
            }
            # lesion-table.md: at the baseline the sums hold the baseline SOD and burden.
            entry["imrecist_sum_mm"] = round_one_decimal(self.imrecist.timepoints[0].sum_mm)
            entry["irrc_tumor_burden_mm2"] = round_one_decimal(self.irrc.timepoints[0].burden_mm2)
            entry["reasons"]["imrecist"] = self.imrecist.timepoints[0].reason
            entry["reasons"]["irrc"] = self.irrc.timepoints[0].reason
            return entry
        previous = patterns.change_from_previous(self.recist.timepoints, i)
        responses: dict[str, str] = {}
        lesion_reasons: dict[str, str] = {}
        lesion_diameters: dict[str, float | None] = {}
        for lid, response in lesions.items():
            responses[lid] = response.response
            lesion_reasons[lid] = response.reason
            lesion_diameters[lid] = round_mm(response.own_mm)
        return {
            "timepoint": assessment.timepoint,
            "date": assessment.date.isoformat(),
            "sum_mm": round_mm(tp.sod),
            "nadir_mm": round_mm(tp.nadir),
            "change_from_baseline_pct": round_pct(tp.change_from_baseline_pct),
            "change_from_nadir_pct": round_pct(tp.change_from_nadir_pct),
            "change_from_previous_pct": round_pct(previous),
            "change_from_previous_per_month_pct": round_pct(
                patterns.per_month(timeline, previous, i - 1, i)
            ),
            # Seed 004: each change also per month (days / 30.4375) since its reference scan.
            "change_from_baseline_per_month_pct": round_pct(
                patterns.per_month(timeline, tp.change_from_baseline_pct, 0, i)
            ),
            "change_from_nadir_per_month_pct": round_pct(
                patterns.per_month(timeline, tp.change_from_nadir_pct, tp.nadir_index, i)
                if tp.nadir_index is not None
                else None
            ),
            "target": tp.target,
            "non_target": tp.non_target,
            "new_lesions": tp.new_lesions,
            "overall": tp.overall,
            "irecist": itp.response,
            "imrecist": self.imrecist.timepoints[i].response,
            "imrecist_sum_mm": round_one_decimal(self.imrecist.timepoints[i].sum_mm),
            "irrc": self.irrc.timepoints[i].response,
            "irrc_tumor_burden_mm2": round_one_decimal(self.irrc.timepoints[i].burden_mm2),
            "lesions": responses,
            "dissociated": {
                "vuagnat": self.vuagnat[i].value,
                "bernard_tessier": self.bernard_tessier[i].value == "true",
            },
            "category": self.categories[i],
            "reason": tp.overall_reason,
            "reasons": {
                "target": tp.target_reason,
                "non_target": tp.non_target_reason,
                "new_lesions": tp.new_reason,
                "overall": tp.overall_reason,
                "irecist": itp.reason,
                "imrecist": self.imrecist.timepoints[i].reason,
                "irrc": self.irrc.timepoints[i].reason,
                "vuagnat": self.vuagnat[i].reason,
                "bernard_tessier": self.bernard_tessier[i].reason,
                "category": (
                    self.bernard_tessier[i].reason
                    if self.bernard_tessier[i].value == "true"
                    else f"{self.categories[i]}: from the RECIST overall response {tp.overall}"
                ),
                "lesions": lesion_reasons,
            },
            "lesion_diameters_mm": lesion_diameters,
        }


def _iso(date: object) -> str | None:
    return None if date is None else date.isoformat()  # type: ignore[attr-defined]


def _empty_timepoint(
    timepoint: int, date: str, sum_mm: float | None, reason: str
) -> TimepointJSON:
    """A time point where no response applies (baseline, pre-baseline): NA and null."""
    return {
        "timepoint": timepoint,
        "date": date,
        "sum_mm": sum_mm,
        "nadir_mm": None,
        "change_from_baseline_pct": None,
        "change_from_nadir_pct": None,
        "change_from_previous_pct": None,
        "change_from_previous_per_month_pct": None,
        "change_from_baseline_per_month_pct": None,
        "change_from_nadir_per_month_pct": None,
        "target": NA,
        "non_target": NA,
        "new_lesions": False,
        "overall": NA,
        "irecist": NA,
        "imrecist": NA,
        "imrecist_sum_mm": None,
        "irrc": NA,
        "irrc_tumor_burden_mm2": None,
        "lesions": {},
        "dissociated": {"vuagnat": NA, "bernard_tessier": False},
        "category": NA,
        "reason": reason,
        # lesion-table.md (amended 2026-12): every time point's `reasons` has at least
        # target, non_target, new_lesions, overall, irecist, imrecist, irrc and lesions.
        "reasons": {
            "target": reason,
            "non_target": reason,
            "new_lesions": reason,
            "overall": reason,
            "irecist": "NA",
            "imrecist": "NA",
            "irrc": "NA",
            "vuagnat": "NA",
            "bernard_tessier": "NA",
            "lesions": {},
        },
        "lesion_diameters_mm": {},
    }


def classify_patient(record: PatientRecord, criteria: Criteria | None = None) -> PatientResult:
    """Classify one patient by every criterion of shared/spec/criteria.md.

    Parameters
    ----------
    record
        The patient's lesions and assessments (a baseline is required).
    criteria
        Thresholds; the published defaults when None.

    Returns
    -------
    PatientResult
        Verdicts with reasons; ``to_json()`` gives the contract's patient object.

    Raises
    ------
    ValueError
        When the record has no baseline.
    """
    return _classify(record, criteria or Criteria())


def _classify(record: PatientRecord, criteria: Criteria) -> PatientResult:
    timeline = build_timeline(record, criteria)
    recist = classify_recist(timeline)
    irecist = classify_irecist(timeline, recist.timepoints)
    lesions = [lesion_responses(timeline, i) for i in range(timeline.count)]
    na = dr.Verdict(NA, "baseline")
    vuagnat = [na] + [
        dr.vuagnat_at(timeline, lesions[i], i) for i in range(1, timeline.count)
    ]
    bernard_tessier = [dr.Verdict("false", "baseline")] + [
        dr.bernard_tessier_at(timeline, recist.timepoints[i]) for i in range(1, timeline.count)
    ]
    categories = [NA] + [
        dr.category_at(recist.timepoints[i], bernard_tessier[i]) for i in range(1, timeline.count)
    ]
    vuagnat_patient, vuagnat_rate = dr.vuagnat_patient(timeline, vuagnat[1:])
    k = patterns.kinetics(timeline, recist.timepoints, recist.first_pd_index)
    first_pd = recist.first_pd_index
    return PatientResult(
        record=record,
        criteria=criteria,
        timeline=timeline,
        recist=recist,
        irecist=irecist,
        lesions=lesions,
        vuagnat=vuagnat,
        bernard_tessier=bernard_tessier,
        categories=categories,
        vuagnat_patient=vuagnat_patient,
        vuagnat_rate=vuagnat_rate,
        tozuka=dr.tozuka(timeline, recist.timepoints),
        kinetics=k,
        hyperprogression=patterns.hyperprogression(timeline, recist.timepoints, k),
        pattern=patterns.progression_pattern(
            timeline, recist.timepoints, first_pd, lesions[first_pd] if first_pd else {}
        ),
        resistance=patterns.resistance(
            timeline, recist.timepoints, first_pd, recist.best_overall_response
        ),
        warning_items=ordered(baseline_warnings(timeline)),
        imrecist=classify_imrecist(timeline, recist.timepoints),
        irrc=classify_irrc(timeline),
    )


def classify_cohort(
    records: Iterable[PatientRecord], criteria: Criteria | None = None
) -> dict[str, Any]:
    """Classify many patients into the full JSON document of the contract.

    Parameters
    ----------
    records
        Patients.
    criteria
        Thresholds; the published defaults when None.

    Returns
    -------
    dict
        ``{"criteria": settings, "patients": [patient objects]}``.
    """
    criteria = criteria or Criteria()
    with paused_garbage_collection():
        patients = [classify_patient(record, criteria).to_json() for record in records]
    return {"criteria": criteria.to_dict(), "patients": patients}
