"""Fixed-time rates, reverse-KM follow-up, Cox screen, PH check and logistic regression.

Checked against published output (R survival on `lung`; Spector & Mazzeo's logit as in Greene,
Econometric Analysis, Table 21.1) and against lifelines / statsmodels run directly on the same
data, never against numbers this code printed before.
"""

import math
import random

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_lung, load_rossi
from lifelines.statistics import proportional_hazard_test

from napari_recist.cohort.clinical import SurvivalTime
from napari_recist.cohort.cox_checks import cox_screen, ph_check
from napari_recist.cohort.fixed_time import fixed_time_rows, reverse_km_follow_up
from napari_recist.cohort.logistic import logistic_rows, parse_outcome


def _lung_times() -> dict[str, SurvivalTime]:
    lung = load_lung()
    return {str(i): SurvivalTime(r.time, bool(r.status)) for i, r in lung.iterrows()}


def test_one_year_survival_of_lung_matches_r_summary_survfit() -> None:
    (row,) = fixed_time_rows("OS", "", _lung_times(), None, (), (365,), "log", "entry")
    # R: summary(survfit(Surv(time, status) ~ 1, lung), times = 365):
    # survival 0.409, 95 % CI 0.345-0.486 (log scale, survfit's default); n.risk 65.
    assert row["survival_pct"] == "40.9"
    assert (row["ci_low_pct"], row["ci_high_pct"]) == ("34.5", "48.6")
    assert row["at_risk"] == "65"
    assert row["n"] == "228" and row["group"] == "all patients"


def test_fixed_time_rate_matches_lifelines_log_log_band() -> None:
    times = _lung_times()
    (row,) = fixed_time_rows("OS", "", times, None, (), (180,), "log-log", "entry")
    lung = load_lung()
    fitter = KaplanMeierFitter().fit(lung.time, lung.status)  # exponential Greenwood band
    assert float(row["survival_pct"]) == pytest.approx(
        100 * float(fitter.survival_function_at_times(180).iloc[0]), abs=0.05
    )
    band = fitter.confidence_interval_survival_function_
    at = band[band.index <= 180].iloc[-1]
    assert float(row["ci_low_pct"]) == pytest.approx(100 * at.iloc[0], abs=0.05)
    assert float(row["ci_high_pct"]) == pytest.approx(100 * at.iloc[1], abs=0.05)


def test_fixed_time_rate_by_hand_per_group_and_after_follow_up() -> None:
    times = {"a": SurvivalTime(1, True), "b": SurvivalTime(2, True), "c": SurvivalTime(3, False),
             "d": SurvivalTime(4, True), "e": SurvivalTime(10, False)}  # fmt: skip
    groups = {"a": "X", "b": "X", "c": "X", "d": "X", "e": "Y"}
    rows = fixed_time_rows("PFS", "g", times, groups, ("X", "Y"), (2.5, 5), "log-log", "o")
    by = {(r["group"], r["day"]): r for r in rows}
    # X: S(2.5) = (1 - 1/4)(1 - 1/3) = 0.5; at risk at 2.5: c and d.
    assert by[("X", "2.5")]["survival_pct"] == "50.0"
    assert by[("X", "2.5")]["at_risk"] == "2" and by[("X", "2.5")]["events_by_day"] == "2"
    assert by[("X", "5")]["censored_by_day"] == "1"
    # X's last follow-up is an event on day 4: S is 0 from then on.
    assert by[("X", "5")]["survival_pct"] == "0.0"
    assert "reached 0 on day 4" in by[("X", "5")]["note"]
    censored_last = times | {"d": SurvivalTime(4, False)}
    rows = fixed_time_rows("PFS", "g", censored_last, groups, ("X",), (5,), "log-log", "o",
                           "; caution")  # fmt: skip
    # Censored on day 4: day 5 is after the last follow-up, not estimable, never extrapolated.
    assert rows[0].get("survival_pct", "") == ""
    assert "not estimable" in rows[0]["note"] and rows[0]["note"].endswith("; caution")
    assert by[("Y", "5")]["survival_pct"] == "100.0"


def test_reverse_km_follow_up_matches_lifelines_on_flipped_events() -> None:
    row = reverse_km_follow_up("OS", _lung_times(), "entry", "log")
    assert row is not None
    lung = load_lung()
    flipped = KaplanMeierFitter().fit(lung.time, 1 - lung.status)
    assert float(row["median_follow_up_days"]) == flipped.median_survival_time_
    assert (row["n"], row["events"], row["censored"]) == ("228", "165", "63")


def test_reverse_km_by_hand() -> None:
    # Censored at 5 and 8, deaths at 2 and 6: the censoring curve drops to 2/3 at 5 (3 at
    # risk) and to 0 at 8 (1 at risk); first time at or below 0.5: day 8.
    times = {"a": SurvivalTime(2, True), "b": SurvivalTime(5, False),
             "c": SurvivalTime(6, True), "d": SurvivalTime(8, False)}  # fmt: skip
    row = reverse_km_follow_up("OS", times, "o")
    assert row is not None and row["median_follow_up_days"] == "8"
    everyone_died = {k: SurvivalTime(v.days, True) for k, v in times.items()}
    row = reverse_km_follow_up("OS", everyone_died, "o")
    assert row is not None and row["median_follow_up_days"] == ""  # not reached: stated


def test_cox_screen_matches_r_coxph_and_lifelines() -> None:
    lung = load_lung().dropna(subset=["ph.ecog"])
    times = {str(i): SurvivalTime(r.time, bool(r.status)) for i, r in lung.iterrows()}
    covariates = {
        str(i): {"age": str(r.age), "ecog": f"ecog {int(r['ph.ecog'])}"}
        for i, r in lung.iterrows()
    }
    rows = cox_screen("OS", times, covariates, ["age", "ecog"], "entry")
    age = next(r for r in rows if r["covariate"] == "age")
    full = load_lung()
    full_times = {str(i): SurvivalTime(r.time, bool(r.status)) for i, r in full.iterrows()}
    full_cov = {str(i): {"age": str(r.age)} for i, r in full.iterrows()}
    (age_all,) = cox_screen("OS", full_times, full_cov, ["age"], "entry")
    # R: coxph(Surv(time, status) ~ age, lung): exp(coef) 1.0189, Wald p 0.0419.
    assert float(age_all["hr"]) == pytest.approx(1.0189, abs=5e-4)
    assert float(age_all["p_wald"]) == pytest.approx(0.0419, abs=5e-4)
    # lifelines run directly, categorical ECOG against "ecog 0".
    data = lung[["time", "status"]].copy()
    for level in (1, 2, 3):
        data[f"ecog={level}"] = (lung["ph.ecog"] == level).astype(float)
    direct = CoxPHFitter().fit(data, "time", "status")
    ecog = {r["term"]: r for r in rows if r["covariate"] == "ecog"}
    for level in (1, 2, 3):
        assert float(ecog[f"ecog=ecog {level}"]["hr"]) == pytest.approx(
            direct.summary.loc[f"ecog={level}", "exp(coef)"], rel=1e-5
        )
    assert float(ecog["ecog=ecog 1"]["p_likelihood_ratio"]) == pytest.approx(
        direct.log_likelihood_ratio_test().p_value, rel=1e-4
    )
    assert age["n"] == str(len(lung))


def test_ph_check_matches_lifelines_on_rossi() -> None:
    rossi = load_rossi()
    data = rossi.rename(columns={"week": "days", "arrest": "event"})
    rows = {r["term"]: r for r in ph_check("PFS", "g", "Cox", data)}
    fitted = CoxPHFitter().fit(rossi, "week", "arrest")
    direct = proportional_hazard_test(fitted, rossi, time_transform="km").summary
    for term in ("age", "wexp", "prio"):
        assert float(rows[term]["test_statistic"]) == pytest.approx(
            direct.loc[term, "test_statistic"], rel=1e-5
        )
    assert rows["age"]["verdict"].startswith("proportional hazards doubtful")
    assert rows["fin"]["verdict"].startswith("no evidence")


def test_ph_check_flags_crossing_hazards() -> None:
    rng = random.Random(3)
    rows = []
    for group, shape in ((0.0, 0.5), (1.0, 3.0)):  # Weibull hazards that cross
        for _ in range(150):
            rows.append({"days": 100 * rng.weibullvariate(1, shape), "event": 1.0,
                         "group=B": group})  # fmt: skip
    (row,) = ph_check("OS", "g", "Cox", pd.DataFrame(rows))
    assert float(row["p_value"]) < 0.001


def test_logistic_matches_spector_published_and_statsmodels() -> None:
    spector = sm.datasets.spector.load_pandas()
    values = {str(i): ("yes" if y == 1 else "no") for i, y in spector.endog.items()}
    covariates = {
        str(i): {"GPA": str(r.GPA), "TUCE": str(r.TUCE), "PSI": str(r.PSI)}
        for i, r in spector.exog.iterrows()
    }
    rows = logistic_rows("grade", "yes", values, covariates, ["GPA"], ("GPA", "TUCE", "PSI"))
    multi = {r["term"]: r for r in rows if "multivariable" in r["model"]}
    # Spector & Mazzeo (1980) logit, Greene Table 21.1: GPA 2.826, TUCE 0.095, PSI 2.379.
    assert math.log(float(multi["GPA"]["odds_ratio"])) == pytest.approx(2.826, abs=5e-4)
    assert math.log(float(multi["TUCE"]["odds_ratio"])) == pytest.approx(0.0952, abs=5e-4)
    assert math.log(float(multi["PSI"]["odds_ratio"])) == pytest.approx(2.379, abs=5e-4)
    assert multi["GPA"]["n"] == "32" and multi["GPA"]["events"] == "11"
    direct = sm.Logit(spector.endog, sm.add_constant(spector.exog[["GPA"]])).fit(disp=0)
    (uni,) = [r for r in rows if "univariable" in r["model"]]
    assert float(uni["p_wald"]) == pytest.approx(direct.pvalues["GPA"], rel=1e-5)
    assert float(uni["p_likelihood_ratio"]) == pytest.approx(direct.llr_pvalue, rel=1e-5)
    low, high = np.exp(direct.conf_int().loc["GPA"])
    assert float(uni["or_ci_low"]) == pytest.approx(low, rel=1e-5)
    assert float(uni["or_ci_high"]) == pytest.approx(high, rel=1e-5)


def test_logistic_separation_and_na_denominator() -> None:
    values = {f"P{i}": ("DR" if i < 5 else "true PD") for i in range(10)} | {"P10": "NA"}
    covariates = {f"P{i}": {"smoker": "yes" if i < 5 else "no"} for i in range(11)}
    (row,) = logistic_rows("tozuka", "DR", values, covariates, ["smoker"])
    assert "not estimable" in row["model"] and row.get("odds_ratio", "") == ""
    assert row["n"] == "10" and "1 with NA left out" in row["denominator"]
    assert parse_outcome("category=DR") == ("category", "DR")
    assert parse_outcome("category") is None
