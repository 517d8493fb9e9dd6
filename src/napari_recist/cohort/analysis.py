"""The survival analyses of the seeds, run on a classified cohort and its clinical table.

For each endpoint available (OS from the clinical table; PFS from the clinical table or derived
from our own progression dates, see `clinical.progression_free_survival`): Kaplan-Meier medians
per seed 002 category and per response group, log-rank tests, and Cox hazard ratios for the
seeds' comparisons; Fisher's exact test of every clinical covariate between DR and true PD.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from napari_recist.cohort.clinical import (
    ClinicalRecord,
    SurvivalTime,
    progression_free_survival,
)
from napari_recist.cohort.stats import (
    FisherResult,
    GroupSurvival,
    HazardRatio,
    LogRankResult,
    fisher_test,
    hazard_ratio,
    kaplan_meier_by_group,
    logrank,
)

Patient = Mapping[str, Any]

CATEGORY_ORDER: tuple[str, ...] = (
    "CR", "true PR", "true SD", "DR", "true PD", "NON-CR/NON-PD", "NE"
)  # fmt: skip
GROUP_ORDER: tuple[str, ...] = ("true response", "atypical response", "non-response")

# (group, reference): seed 000 DR vs true PD (HR 0.40); seed 002 DR vs true PD and true SD,
# atypical response vs non-response and vs true response.
COMPARISONS: tuple[tuple[str, str, str], ...] = (
    ("category", "DR", "true PD"),
    ("category", "DR", "true SD"),
    ("response_group", "atypical response", "non-response"),
    ("response_group", "atypical response", "true response"),
)
FISHER_GROUPS: tuple[str, str] = ("DR", "true PD")  # seed 000 Table 1


@dataclass
class EndpointAnalysis:
    """Every survival statistic of one endpoint.

    Parameters
    ----------
    endpoint
        ``Overall survival`` or ``Progression-free survival``.
    source
        Where the times come from (clinical table, or derived from progression dates).
    times
        Survival time by patient id.
    by_category, by_group
        Kaplan-Meier medians per seed 002 category and per response group.
    logrank_category, logrank_group
        Log-rank tests across categories and across response groups.
    hazard_ratios
        Cox ratios of `COMPARISONS` that could be estimated.
    not_estimable
        Comparisons left out: a group empty or without events, or complete separation.
    """

    endpoint: str
    source: str
    times: dict[str, SurvivalTime]
    by_category: list[GroupSurvival] = field(default_factory=list)
    by_group: list[GroupSurvival] = field(default_factory=list)
    logrank_category: LogRankResult | None = None
    logrank_group: LogRankResult | None = None
    hazard_ratios: list[HazardRatio] = field(default_factory=list)
    not_estimable: list[str] = field(default_factory=list)


def patient_groups(patients: Sequence[Patient], key: str) -> dict[str, str]:
    """Group label (``category`` or ``response_group``) by patient id."""
    return {str(p["patient_id"]): str(p.get(key) or "NA") for p in patients}


def survival_times(
    patients: Sequence[Patient], clinical: Mapping[str, ClinicalRecord] | None
) -> list[tuple[str, str, dict[str, SurvivalTime]]]:
    """The endpoints available: ``(endpoint, source, times)``.

    PFS from the clinical table when it gives PFS for any patient, otherwise derived from the
    classification's progression dates (with deaths from the OS columns, if any).
    """
    clinical = clinical or {}
    endpoints: list[tuple[str, str, dict[str, SurvivalTime]]] = []
    overall = {pid: r.os for pid, r in clinical.items() if r.os is not None}
    ids = {str(p["patient_id"]) for p in patients}
    overall = {pid: t for pid, t in overall.items() if pid in ids}
    if overall:
        endpoints.append(("Overall survival", "clinical table", overall))
    given_pfs = {pid: r.pfs for pid, r in clinical.items() if r.pfs is not None and pid in ids}
    if given_pfs:
        endpoints.append(("Progression-free survival", "clinical table", given_pfs))
    else:
        derived: dict[str, SurvivalTime] = {}
        for patient in patients:
            pid = str(patient["patient_id"])
            record = clinical.get(pid)
            time = progression_free_survival(patient, record.os if record else None)
            if time is not None:
                derived[pid] = time
        if derived:
            source = (
                "derived: baseline scan to first RECIST 1.1 progression (or death, from the "
                "clinical table), censored at the last assessment"
            )
            endpoints.append(("Progression-free survival", source, derived))
    return endpoints


def analyse_endpoint(
    endpoint: str, source: str, times: dict[str, SurvivalTime], patients: Sequence[Patient]
) -> EndpointAnalysis:
    """Run the Kaplan-Meier, log-rank and Cox analyses of one endpoint."""
    categories = patient_groups(patients, "category")
    groups = patient_groups(patients, "response_group")
    analysis = EndpointAnalysis(endpoint=endpoint, source=source, times=times)
    analysis.by_category = kaplan_meier_by_group(times, categories, CATEGORY_ORDER)
    analysis.by_group = kaplan_meier_by_group(times, groups, GROUP_ORDER)
    analysis.logrank_category = logrank(times, categories, CATEGORY_ORDER)
    analysis.logrank_group = logrank(times, groups, GROUP_ORDER)
    by_key = {"category": categories, "response_group": groups}
    for key, group, reference in COMPARISONS:
        ratio = hazard_ratio(times, by_key[key], group, reference)
        if ratio is not None:
            analysis.hazard_ratios.append(ratio)
        else:
            analysis.not_estimable.append(f"{group} vs {reference}")
    return analysis


def analyse(
    patients: Sequence[Patient], clinical: Mapping[str, ClinicalRecord] | None
) -> tuple[list[EndpointAnalysis], list[FisherResult]]:
    """Every survival analysis and covariate test of the cohort.

    Parameters
    ----------
    patients
        Patients of the classification JSON.
    clinical
        The clinical table by patient id, if given.

    Returns
    -------
    tuple
        Endpoint analyses, and Fisher tests of each covariate between DR and true PD.
    """
    endpoints = [
        analyse_endpoint(endpoint, source, times, patients)
        for endpoint, source, times in survival_times(patients, clinical)
    ]
    fisher: list[FisherResult] = []
    if clinical:
        categories = patient_groups(patients, "category")
        covariates = {pid: r.covariates for pid, r in clinical.items()}
        names = sorted({name for r in clinical.values() for name in r.covariates})
        for name in names:
            result = fisher_test(covariates, categories, name, FISHER_GROUPS)
            if result is not None:
                fisher.append(result)
    return endpoints, fisher
