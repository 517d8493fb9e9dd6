"""The survival and characteristics analyses of a classified cohort, for one or more groupings.

A grouping is a patient field (`napari_recist.cohort.fields`) and the levels compared, the first
being the reference. Without ``--group-by`` the seeds' groupings are run: seed 002's categories
with PsPD apart (``category_pspd``), seed 002's response groups, and seed 000's Tozuka DR vs
true PD (over the patients with RECIST PD at the first follow-up). For each endpoint
(`napari_recist.cohort.endpoints`): Kaplan-Meier medians, log-rank tests (against the
reference, across groups, every pair), Cox ratios (univariable, and adjusted when asked). A
grouping known only after baseline is also analysed with a landmark (``--landmark``) and as a
time-dependent covariate, and every from-origin comparison of it carries a warning: patients
must survive until their category is known (immortal-time bias; Anderson et al., J Clin Oncol
1983).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from napari_recist.cohort import fields
from napari_recist.cohort.characteristics import Characteristic, characteristic
from napari_recist.cohort.clinical import ClinicalRecord
from napari_recist.cohort.endpoints import Endpoint, survival_endpoints
from napari_recist.cohort.survival import (
    SurvivalRow,
    cox_rows,
    kaplan_meier_rows,
    landmark_subset,
    pairwise_logrank_rows,
    time_dependent_cox_rows,
)
from napari_recist.errors import InputError, Problem

Patient = Mapping[str, Any]

# Default level orders, the reference first.
LEVEL_ORDERS: dict[str, tuple[str, ...]] = {
    "category": ("true PD", "true SD", "DR", "true PR", "CR", "NON-CR/NON-PD", "NE"),
    "category_pspd": ("true PD", "true SD", "DR", "PsPD", "true PR", "CR", "NON-CR/NON-PD", "NE"),
    "response_group": ("non-response", "atypical response", "true response"),
    "dissociated_response.tozuka": ("true PD", "DR"),
    "best_overall_response": ("PD", "SD", "NON-CR/NON-PD", "PR", "CR", "NE"),
}
DEFAULT_GROUPINGS: tuple[str, ...] = (
    "category_pspd",
    "response_group",
    "dissociated_response.tozuka",
)
POST_BASELINE_NOTE = "; grouping known only after baseline, compared from the time origin"


@dataclass(frozen=True)
class Options:
    """What the user asked for (the cohort command's options).

    Parameters
    ----------
    group_by
        Field to group by; None runs `DEFAULT_GROUPINGS`.
    groups
        Levels compared, the reference first; None: every level, in `LEVEL_ORDERS` order.
    landmark_days
        Landmark for post-baseline groupings (days from the time origin).
    adjust
        Clinical covariates for a multivariable Cox model.
    conf_type
        Scale of the KM confidence curves (``log-log`` or ``log``).
    scan_interval_days
        Scan interval of the PFS missed-scan rule (default: each patient's median gap).
    at_days
        Days of the fixed-time rates (``--at-days``, `napari_recist.cohort.fixed_time`).
    logistic
        ``FIELD=LEVEL`` outcomes of logistic models (`napari_recist.cohort.logistic`).
    lesion_factors
        Lesion-table columns of the lesion-level analyses (None: the defaults present).
    sdtm_study
        STUDYID of the SDTM TU/TR/RS export (None: no export).
    """

    group_by: str | None = None
    groups: tuple[str, ...] | None = None
    landmark_days: float | None = None
    adjust: tuple[str, ...] = ()
    conf_type: str = "log-log"
    scan_interval_days: float | None = None
    at_days: tuple[float, ...] = ()
    logistic: tuple[str, ...] = ()
    lesion_factors: tuple[str, ...] | None = None
    sdtm_study: str | None = None


@dataclass
class GroupingAnalysis:
    """Every analysis of one grouping.

    Parameters
    ----------
    grouping
        The field path.
    levels
        The levels compared, the reference first (those with a patient).
    denominator
        Who is in the analysis, in words.
    post_baseline
        Whether the field is only known after baseline.
    rows
        survival.csv rows of every endpoint.
    characteristics
        Covariates compared between the levels.
    notes
        Warnings and explanations for the page.
    groups
        Final value by patient id (patients in `levels` only).
    """

    grouping: str
    levels: tuple[str, ...]
    denominator: str
    post_baseline: bool
    rows: list[SurvivalRow] = field(default_factory=list)
    characteristics: list[Characteristic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    groups: dict[str, str] = field(default_factory=dict)


@dataclass
class CohortAnalysis:
    """The endpoints and the analyses of every grouping."""

    endpoints: list[Endpoint]
    groupings: list[GroupingAnalysis]
    options: Options


def _levels(path: str, values: Sequence[str], asked: Sequence[str] | None) -> tuple[str, ...]:
    present = set(values)
    if asked is not None:
        return tuple(level for level in asked if level in present)
    order = LEVEL_ORDERS.get(path, ())
    known = [level for level in order if level in present]
    others = sorted(present - set(order) - {"NA"})
    return tuple(known + others)


def _check_options(
    patients: Sequence[Patient], clinical: Mapping[str, ClinicalRecord] | None, options: Options
) -> None:
    problems: list[Problem] = []
    names = {n for r in (clinical or {}).values() for n in r.covariates}
    if options.group_by is not None:
        if (
            not fields.is_patient_field(patients, options.group_by)
            and options.group_by not in names
        ):
            problems.append(
                Problem(
                    "--group-by",
                    f"'{options.group_by}' is neither a field of the classification JSON "
                    "(e.g. category, dissociated_response.tozuka) nor a clinical column",
                )
            )
        elif options.groups is not None:
            values = set(fields.groups_by_field(patients, options.group_by, clinical).values())
            unknown = [g for g in options.groups if g not in values]
            if unknown:
                problems.append(
                    Problem(
                        "--groups",
                        f"{', '.join(unknown)}: no patient has this value of "
                        f"{options.group_by} (values: {', '.join(sorted(values))})",
                    )
                )
            if len(options.groups) < 2:
                problems.append(
                    Problem("--groups", "give at least two groups, the reference first")
                )
    for name in options.adjust:
        if name not in names:
            problems.append(Problem("--adjust", f"'{name}' is not a column of the clinical table"))
    if options.landmark_days is not None and options.landmark_days <= 0:
        problems.append(
            Problem(
                "--landmark", f"must be a positive number of days, not {options.landmark_days:g}"
            )
        )
    if problems:
        raise InputError(problems)


def _states(
    patient: Patient,
    path: str,
    origin: dt.date,
    criteria: Mapping[str, Any],
    clinical: Mapping[str, ClinicalRecord] | None,
) -> list[tuple[float, str]] | None:
    """(day, value as known from that day), one entry per change; None if not rebuildable."""
    days = [origin] + [d for d in fields.change_days(patient) if d > origin]
    states: list[tuple[float, str]] = []
    for day in days:
        value = fields.value_known_on(patient, path, day, criteria, clinical)
        if value is None:
            return None
        if not states or states[-1][1] != value:
            states.append((float((day - origin).days), value))
    return states


def analyse_grouping(
    patients: Sequence[Patient],
    clinical: Mapping[str, ClinicalRecord] | None,
    endpoints: Sequence[Endpoint],
    path: str,
    asked: Sequence[str] | None,
    options: Options,
    criteria: Mapping[str, Any],
) -> GroupingAnalysis | None:
    """Every analysis of one grouping (None when fewer than two levels have patients)."""
    from napari_recist.cohort.endpoints import time_origin

    groups = fields.groups_by_field(patients, path, clinical)
    levels = _levels(path, list(groups.values()), asked)
    if len(levels) < 2:
        return None
    post = fields.is_post_baseline(path, patients)
    members = {pid: g for pid, g in groups.items() if g in levels}
    left = sorted({g for g in groups.values()} - set(levels))
    denominator = (
        f"{len(members)} patients with {path} in {', '.join(levels)} (reference {levels[0]})"
        + (f"; left out: {', '.join(left)}" if left else "")
    )
    if path == "dissociated_response.tozuka":
        denominator += " (seed 000: patients with RECIST PD at the first follow-up)"
    analysis = GroupingAnalysis(path, levels, denominator, post, groups=members)
    note = POST_BASELINE_NOTE if post else ""
    if post:
        analysis.notes.append(
            f"{path} is known only after baseline: the Kaplan-Meier and Cox comparisons from "
            "the time origin favour the groups reached later (a patient must live until the "
            "category is known: immortal-time bias). Use the landmark"
            + ("" if options.landmark_days is not None else " (--landmark DAYS)")
            + " and time-dependent rows."
        )
    covariates = {pid: r.covariates for pid, r in (clinical or {}).items()}
    for endpoint in endpoints:
        times = {pid: t for pid, t in endpoint.times.items() if pid in members}
        analysis.rows += kaplan_meier_rows(
            endpoint.key, path, times, members, levels, options.conf_type
        )
        analysis.rows += pairwise_logrank_rows(endpoint.key, path, times, members, levels)
        analysis.rows += cox_rows(endpoint.key, path, times, members, levels, model_note=note)
        if options.adjust:
            analysis.rows += cox_rows(
                endpoint.key, path, times, members, levels, covariates, options.adjust,
                model_note=note,
            )  # fmt: skip
        if not post:
            continue
        if not endpoint.from_common_origin:
            analysis.notes.append(
                f"{endpoint.key} counts from {endpoint.origin}: no landmark or time-dependent "
                f"analysis of {path} for it."
            )
            continue
        if not fields.knowable_on_a_day(path, patients):
            analysis.notes.append(
                f"{path}: the day on which it becomes known is not defined; no landmark or "
                "time-dependent analysis."
            )
            continue
        by_id = {str(p["patient_id"]): p for p in patients}
        origins = {pid: time_origin(by_id[pid], clinical)[0] for pid in endpoint.times}
        if options.landmark_days is not None:
            landmark = options.landmark_days
            alive = landmark_subset(endpoint.times, landmark)
            known: dict[str, str] = {}
            for pid in alive:
                origin = origins.get(pid)
                if origin is None:
                    continue
                value = fields.value_known_on(
                    by_id[pid], path, origin + dt.timedelta(days=landmark), criteria, clinical
                )
                if value in levels:
                    known[pid] = value
            kept = {pid: t for pid, t in alive.items() if pid in known}
            analysis.rows += kaplan_meier_rows(
                endpoint.key, path, kept, known, levels, options.conf_type, landmark
            )
            analysis.rows += cox_rows(
                endpoint.key, path, kept, known, levels, covariates, options.adjust, landmark,
                model_note=f"; landmark: patients followed beyond day {landmark:g}, {path} as "
                "known on that day, time from the landmark",
            )  # fmt: skip
        states: dict[str, list[tuple[float, str]]] = {}
        unknown = 0
        for pid in times:
            origin = origins.get(pid)
            built = (
                None if origin is None else _states(by_id[pid], path, origin, criteria, clinical)
            )
            if built is None:
                unknown += 1
                continue
            states[pid] = built
        if unknown:
            analysis.notes.append(
                f"{endpoint.key}: {unknown} patients left out of the time-dependent model "
                f"({path} rebuilt from their assessments differs from the classification)."
            )
        analysis.rows += time_dependent_cox_rows(
            endpoint.key, path, {pid: times[pid] for pid in states}, states, levels,
            covariates, options.adjust,
        )  # fmt: skip
    if clinical:
        names = sorted({n for r in clinical.values() for n in r.covariates} - {"treatment_start"})
        for name in names:
            result = characteristic(covariates, members, name, levels)
            if result is not None:
                analysis.characteristics.append(result)
    return analysis


def analyse(
    patients: Sequence[Patient],
    clinical: Mapping[str, ClinicalRecord] | None,
    options: Options | None = None,
    criteria: Mapping[str, Any] | None = None,
) -> CohortAnalysis:
    """Every survival analysis and covariate comparison of the cohort.

    Parameters
    ----------
    patients
        Patients of the classification JSON.
    clinical
        The clinical table by patient id, if given.
    options
        Groupings, landmark, adjustment (`Options`).
    criteria
        Settings of the classification (to rebuild categories as known on a day).

    Raises
    ------
    InputError
        For an unknown field, group or covariate, or a bad landmark.
    """
    options = options or Options()
    _check_options(patients, clinical, options)
    endpoints = survival_endpoints(patients, clinical, options.scan_interval_days)
    paths = (options.group_by,) if options.group_by else DEFAULT_GROUPINGS
    analyses = []
    for path in paths:
        asked = options.groups if options.group_by else None
        result = analyse_grouping(
            patients, clinical, endpoints, path, asked, options, criteria or {}
        )
        if result is not None:
            analyses.append(result)
    return CohortAnalysis(endpoints, analyses, options)
