"""The cohort's analyses beyond the survival comparisons of `analysis`, in one pass.

Fixed-time rates (``--at-days``) and the reverse Kaplan-Meier follow-up (`fixed_time`); the
univariable Cox screen and the proportional-hazards check (`cox_checks`); logistic regression
for the predictors of a category (``--logistic``, `logistic`); the lesion-level analyses of seed
001 (`lesion_level`); seed 002 Fig. 5 and seed 000 Table 3 (`dr_tables`). Each result keeps
its CSV rows; `secondary_page` renders them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from napari_recist.cohort import fields
from napari_recist.cohort.analysis import CohortAnalysis
from napari_recist.cohort.clinical import ClinicalRecord
from napari_recist.errors import InputError, Problem
from napari_recist.model import PatientRecord


@dataclass
class SecondaryAnalyses:
    """CSV rows of every secondary analysis, and notes for the page."""

    fixed_time: list[dict[str, str]] = field(default_factory=list)
    follow_up: list[dict[str, str]] = field(default_factory=list)
    cox_screen: list[dict[str, str]] = field(default_factory=list)
    ph_check: list[dict[str, str]] = field(default_factory=list)
    logistic: list[dict[str, str]] = field(default_factory=list)
    lesions: list[dict[str, str]] = field(default_factory=list)
    lesion_gee: list[dict[str, str]] = field(default_factory=list)
    lesion_table2: list[dict[str, str]] = field(default_factory=list)
    dr_irecist: list[dict[str, str]] = field(default_factory=list)
    dr_sites: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lesion_factors: list[str] = field(default_factory=list)


def check_logistic(
    patients: Sequence[Mapping[str, Any]],
    clinical: Mapping[str, ClinicalRecord] | None,
    outcomes: Sequence[str],
) -> list[tuple[str, str]]:
    """``FIELD=LEVEL`` options parsed, or InputError naming the bad one."""
    from napari_recist.cohort.logistic import parse_outcome

    problems = []
    parsed = []
    names = {n for r in (clinical or {}).values() for n in r.covariates}
    for text in outcomes:
        pair = parse_outcome(text)
        if pair is None:
            problems.append(Problem("--logistic", f"'{text}': give FIELD=LEVEL, e.g. category=DR"))
            continue
        path, level = pair
        if not fields.is_patient_field(patients, path) and path not in names:
            problems.append(Problem("--logistic", f"'{path}' is neither a JSON field nor a "
                                    "clinical column"))  # fmt: skip
            continue
        values = set(fields.groups_by_field(patients, path, clinical).values())
        if level not in values:
            problems.append(Problem("--logistic", f"no patient has {path} = {level} (values: "
                                    f"{', '.join(sorted(values))})"))  # fmt: skip
            continue
        parsed.append(pair)
    if problems:
        raise InputError(problems)
    return parsed


def secondary_analyses(
    patients: Sequence[Mapping[str, Any]],
    clinical: Mapping[str, ClinicalRecord] | None,
    analysis: CohortAnalysis,
    records: Mapping[str, PatientRecord] | None,
    criteria: Mapping[str, Any],
    at_days: Sequence[float] = (),
    logistic: Sequence[str] = (),
    lesion_factors: Sequence[str] | None = None,
) -> SecondaryAnalyses:
    """Run every secondary analysis (module docstring).

    Parameters
    ----------
    patients, clinical, analysis
        The classified patients, the clinical table and the survival analyses.
    records
        Lesion tables by patient id (lesion-level analyses and seed 000 Table 3); None: none.
    criteria
        Settings of the classification.
    at_days
        Days of the fixed-time rates.
    logistic
        ``FIELD=LEVEL`` outcomes of the logistic models.
    lesion_factors
        Lesion-table columns compared (None: `lesion_level.DEFAULT_FACTORS` present).

    Raises
    ------
    InputError
        For a bad ``--at-days``, ``--logistic`` or ``--lesion-factors``.
    """
    from napari_recist.cohort import cox_checks, dr_tables, fixed_time, lesion_level
    from napari_recist.cohort import logistic as logit
    from napari_recist.cohort.survival import cox_design

    bad = [d for d in at_days if not d > 0]
    if bad:
        raise InputError([Problem("--at-days", f"days must be positive, not {bad[0]:g}")])
    outcomes = check_logistic(patients, clinical, logistic)
    out = SecondaryAnalyses()
    conf_type = analysis.options.conf_type
    covariates = {pid: r.covariates for pid, r in (clinical or {}).items()}
    names = sorted({n for r in (clinical or {}).values() for n in r.covariates})
    for endpoint in analysis.endpoints:
        origin = endpoint.origin
        row = fixed_time.reverse_km_follow_up(endpoint.key, endpoint.times, origin, conf_type)
        if row is not None:
            out.follow_up.append(row)
        if at_days:
            out.fixed_time += fixed_time.fixed_time_rows(
                endpoint.key, "", endpoint.times, None, (), at_days, conf_type, origin
            )
            for grouping in analysis.groupings:
                times = {p: t for p, t in endpoint.times.items() if p in grouping.groups}
                caution = (
                    "; grouping known only after baseline, compared from the time origin "
                    "(immortal-time bias)" if grouping.post_baseline else ""
                )
                out.fixed_time += fixed_time.fixed_time_rows(
                    endpoint.key, grouping.grouping, times, grouping.groups, grouping.levels,
                    at_days, conf_type, origin, caution,
                )  # fmt: skip
        if names:
            out.cox_screen += cox_checks.cox_screen(
                endpoint.key, endpoint.times, covariates, names, origin
            )
        for grouping in analysis.groupings:
            times = {p: t for p, t in endpoint.times.items() if p in grouping.groups}
            models = [((), "Cox PH (univariable)")]
            if analysis.options.adjust:
                models.append((analysis.options.adjust, "Cox PH adjusted for "
                               + ", ".join(analysis.options.adjust)))  # fmt: skip
            for adjust, label in models:
                design = cox_design(times, grouping.groups, grouping.levels, covariates, adjust)
                if design is not None:
                    out.ph_check += cox_checks.ph_check(
                        endpoint.key, grouping.grouping, label, design[0], origin
                    )
    by_id = {str(p["patient_id"]): p for p in patients}
    if records:
        factors = lesion_level.present_factors(records, lesion_factors)
        known = {n for r in records.values() for a in r.assessments for m in
                 a.measurements.values() for n in m.extra}  # fmt: skip
        unknown = [f for f in factors if f not in known]
        if unknown:
            raise InputError([Problem("--lesion-factors", f"'{unknown[0]}' is not a column of "
                                      "the lesion table")])  # fmt: skip
        out.lesion_factors = factors
        targets = lesion_level.target_lesions(records, by_id, factors)
        out.lesions = lesion_level.lesion_rows(targets)
        out.lesion_gee = lesion_level.gee_rows(targets, factors)
        out.lesion_table2 = lesion_level.table2_rows(targets)
        lesion_covariates = lesion_level.patient_covariates(targets, factors)
        out.dr_sites, missing = dr_tables.dr_site_rows(records, patients, criteria)
        if missing:
            out.notes.append(f"{len(missing)} Tozuka DR patients without a lesion table are not "
                             "in the site table: " + ", ".join(missing[:10]))  # fmt: skip
    lesion_names: list[str] = []
    if records:
        lesion_names = sorted({n for row in lesion_covariates.values() for n in row})
        for pid, row in lesion_covariates.items():
            covariates[pid] = {**covariates.get(pid, {}), **row}
    if outcomes and not (names or lesion_names):
        raise InputError([Problem("--logistic", "no predictor: give a --clinical table, or a "
                                  "lesion table for the target-lesion covariates")])  # fmt: skip
    for path, level in outcomes:
        values = fields.groups_by_field(patients, path, clinical)
        out.logistic += logit.logistic_rows(
            path, level, values, covariates, [*names, *lesion_names], analysis.options.adjust
        )
    out.dr_irecist = dr_tables.dr_irecist_rows(patients)
    if lesion_factors and not records:
        out.notes.append("--lesion-factors: no lesion table at hand (patient folders need "
                         "--lesion-level), so no lesion-level analysis")  # fmt: skip
    without = sorted(set(by_id) - set(records or {}))
    if without:
        out.notes.append(
            f"{len(without)} patients from DICOM folders are not in the lesion-level tables, "
            "the site table or the SDTM export (give --lesion-level to read their lesions "
            "again from the SRs)"
        )
    return out
