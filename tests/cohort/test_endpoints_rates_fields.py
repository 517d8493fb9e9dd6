"""PFS derivation (FDA/EMA), rates with exact and Wilson intervals, fields as known on a day."""

import datetime as dt
import math

import pytest

from napari_recist.cohort.clinical import ClinicalRecord, SurvivalTime
from napari_recist.cohort.endpoints import derive_pfs, survival_endpoints
from napari_recist.cohort.fields import category_pspd, value_known_on
from napari_recist.cohort.rates import cohort_rates, proportion_ci

BASE = dt.date(2024, 1, 1)  # as conftest.BASE


def _scans(patient: dict, overall: list[str]) -> dict:
    for tp, response in zip(patient["timepoints"][1:], overall, strict=True):
        tp["overall"] = response
    return patient


def test_pfs_censored_at_last_evaluable_scan_not_at_an_ne_scan(patient_factory) -> None:  # noqa: ANN001
    make_patient = patient_factory
    # Scans at days 56, 112, 168; the last is NE: censored at day 112.
    patient = _scans(make_patient("A", [0.0, 2.0, 3.0], ["SD", "SD", "SD"], "true SD"),
                     ["SD", "SD", "NE"])  # fmt: skip
    time, info = derive_pfs(patient, BASE, None, None, 56.0)
    assert time == SurvivalTime(112.0, False)
    assert info["decision"] == "no event: censored at the last evaluable scan"


def test_death_within_two_missed_scans_is_an_event_later_is_censored(patient_factory) -> None:  # noqa: ANN001
    make_patient = patient_factory
    patient = make_patient("B", [0.0, 2.0], ["SD", "SD"], "true SD")  # last scan day 112
    # Scans due on days 168 and 224 missed; death on day 250 (2 missed): event.
    time, info = derive_pfs(patient, BASE, 250.0, None, 56.0)
    assert time == SurvivalTime(250.0, True) and info["missed_scans"] == "2"
    # Death on day 300: scans due 168, 224, 280 missed (3 > 2): censored at day 112.
    time, info = derive_pfs(patient, BASE, 300.0, None, 56.0)
    assert time == SurvivalTime(112.0, False) and info["missed_scans"] == "3"
    assert "censored at the last evaluable scan" in info["decision"]
    # A death 788 days after the last scan is never a PFS event.
    assert derive_pfs(patient, BASE, 900.0, None, 56.0)[0].event is False


def test_progression_before_death_and_patients_without_clinical_pfs_are_derived(
    patient_factory,
) -> None:  # noqa: ANN001
    make_patient = patient_factory
    patients = [
        make_patient("P3", [5.0, 25.0], ["SD", "PD"], "true PD", progression_week=16),
        make_patient("P6", [0.0, 3.0, -5.0], ["SD", "SD", "SD"], "true SD"),
    ]
    clinical = {
        "P3": ClinicalRecord("P3", os=SurvivalTime(200, True)),
        "P6": ClinicalRecord("P6", os=SurvivalTime(400, False), pfs=SurvivalTime(150, False)),
    }
    endpoints = {e.key: e for e in survival_endpoints(patients, clinical)}
    pfs = endpoints["PFS"]
    assert pfs.times["P3"] == SurvivalTime(112.0, True)  # progression on day 112, death 200
    assert pfs.times["P6"] == SurvivalTime(150.0, False)  # as the clinical table gives it
    sources = {row["patient_id"]: row["source"] for row in pfs.decisions}
    assert sources == {"P3": "derived", "P6": "clinical table"}
    assert pfs.origin == "baseline scan"


def test_treatment_start_is_the_origin_and_shifts_clinical_days(patient_factory) -> None:  # noqa: ANN001
    make_patient = patient_factory
    patient = make_patient("T", [5.0, 25.0], ["SD", "PD"], "true PD", progression_week=16)
    patient["treatment_start"] = (BASE + dt.timedelta(days=10)).isoformat()
    clinical = {"T": ClinicalRecord("T", os=SurvivalTime(300, True))}
    endpoints = {e.key: e for e in survival_endpoints([patient], clinical)}
    assert endpoints["OS"].times["T"] == SurvivalTime(290.0, True)  # baseline is day -10
    assert endpoints["PFS"].times["T"] == SurvivalTime(102.0, True)
    assert endpoints["OS"].origin == "treatment start"


def test_clopper_pearson_and_wilson_against_scipy_and_the_formula() -> None:
    from scipy.stats import binomtest

    exact = binomtest(11, 62).proportion_ci(confidence_level=0.95, method="exact")
    assert proportion_ci(11, 62) == pytest.approx((exact.low, exact.high))
    # Clopper-Pearson for 0 / n: upper bound 1 - 0.025 ** (1 / n)
    assert proportion_ci(0, 20)[1] == pytest.approx(1 - 0.025 ** (1 / 20))
    z, p, n = 1.959963984540054, 11 / 62, 62
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert proportion_ci(11, 62, "wilson") == pytest.approx((centre - half, centre + half))


def test_rates_use_each_seeds_denominator(cohort_patients: list[dict]) -> None:
    cohort_patients[2]["dissociated_response"]["tozuka"] = "true PD"  # P3: first follow-up SD
    cohort_patients[4]["dissociated_response"]["tozuka"] = "DR"  # P5: PD at first follow-up
    cohort_patients[5]["pseudoprogression"] = True
    rates = {r.name: r for r in cohort_rates(cohort_patients)}
    assert (rates["ORR"].count, rates["ORR"].total) == (2, 6)
    # Seed 000: over the patients whose first follow-up is PD (P5 only).
    assert (rates["DR (Tozuka)"].count, rates["DR (Tozuka)"].total) == (1, 1)
    assert (rates["PsPD"].count, rates["PsPD"].total) == (1, 6)
    assert rates["ORR"].denominator == "patients with a follow-up"


def test_pseudoprogression_is_its_own_category_and_dr_keeps_precedence(
    cohort_patients: list[dict],
) -> None:
    sd, dr = cohort_patients[5], cohort_patients[3]
    sd["pseudoprogression"] = dr["pseudoprogression"] = True
    assert category_pspd(sd) == "PsPD"
    assert category_pspd(dr) == "DR"


def test_category_as_known_on_a_day(cohort_patients: list[dict]) -> None:
    dr = cohort_patients[3]  # DR at its 2nd follow-up, week 16 (day 112); SD at the 1st
    dr["timepoints"][1]["category"] = "true SD"
    criteria = {"min_sd_days": 42}
    assert value_known_on(dr, "category", BASE + dt.timedelta(days=60), criteria) == "true SD"
    assert value_known_on(dr, "category", BASE + dt.timedelta(days=112), criteria) == "DR"
    assert value_known_on(dr, "category", BASE, criteria) == "NE"
