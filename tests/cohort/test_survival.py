"""Log-rank, Cox, landmark and time-dependent Cox against published R output and lifelines."""

import datetime as dt
import math
import random
from typing import Any

import pytest
from lifelines import CoxPHFitter, CoxTimeVaryingFitter
from lifelines.datasets import load_lung, load_stanford_heart_transplants
from lifelines.statistics import logrank_test

from napari_recist.cohort.analysis import Options, analyse
from napari_recist.cohort.clinical import ClinicalRecord, SurvivalTime
from napari_recist.cohort.survival import (
    cox_rows,
    holm,
    kaplan_meier_rows,
    time_dependent_cox_rows,
)

# Freireich et al. 1963 leukaemia remission times (weeks), 6-MP vs placebo (Kleinbaum & Klein).
SIX_MP = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
SIX_MP_EVENT = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
PLACEBO = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]


def _lung() -> tuple[dict[str, SurvivalTime], dict[str, str]]:
    lung = load_lung()
    times = {str(i): SurvivalTime(r.time, bool(r.status)) for i, r in lung.iterrows()}
    groups = {str(i): "male" if r.sex == 1 else "female" for i, r in lung.iterrows()}
    return times, groups


def test_lung_by_sex_matches_r_coxph_and_survdiff() -> None:
    times, groups = _lung()
    km = kaplan_meier_rows("OS", "sex", times, groups, ("male", "female"), conf_type="log")
    by_group = {row.group: row for row in km}
    # R survfit(Surv(time, status) ~ sex, lung): 270 (212-310) vs 426 (348-550)
    assert (by_group["male"].median_days, by_group["female"].median_days) == (270, 426)
    assert (by_group["male"].n, by_group["male"].events) == (138, 112)
    assert (by_group["female"].n, by_group["female"].events) == (90, 53)
    # R survdiff: Chisq = 10.3 on 1 df, p = 0.00131
    assert by_group["female"].p_value == pytest.approx(0.00131, abs=2e-5)
    (cox,) = cox_rows("OS", "sex", times, groups, ("male", "female"))
    # R coxph(Surv(time, status) ~ sex, lung): coef -0.5310, exp(coef) 0.588,
    # 95 % CI 0.4237-0.816, Wald p 0.00149
    assert cox.hr == pytest.approx(0.588, abs=5e-4)
    assert cox.hr_ci_low == pytest.approx(0.4237, abs=5e-4)
    assert cox.hr_ci_high == pytest.approx(0.816, abs=5e-4)
    assert cox.p_value == pytest.approx(0.00149, abs=1e-5)
    # lifelines run directly on the same data
    lung = load_lung()
    data = lung[["time", "status"]].assign(female=(lung["sex"] == 2).astype(float))
    direct = CoxPHFitter().fit(data, "time", "status").summary.loc["female"]
    assert cox.hr == pytest.approx(direct["exp(coef)"])
    female = lung["sex"] == 2
    direct_lr = logrank_test(lung.time[female], lung.time[~female],
                             lung.status[female], lung.status[~female])  # fmt: skip
    assert by_group["female"].p_value == pytest.approx(direct_lr.p_value)


def test_lung_adjusted_cox_matches_lifelines_with_a_numeric_covariate() -> None:
    times, groups = _lung()
    lung = load_lung()
    covariates = {str(i): {"age": str(r.age)} for i, r in lung.iterrows()}
    (row,) = cox_rows("OS", "sex", times, groups, ("male", "female"), covariates, ("age",))
    data = lung[["time", "status", "age"]].assign(female=(lung["sex"] == 2).astype(float))
    direct = CoxPHFitter().fit(data, "time", "status").summary.loc["female"]
    assert row.hr == pytest.approx(direct["exp(coef)"])
    assert row.p_value == pytest.approx(direct["p"])
    # R coxph(Surv(time, status) ~ age + sex, lung): sex exp(coef) 0.5986, p 0.00218
    assert row.hr == pytest.approx(0.5986, abs=5e-4)
    assert "adjusted for age" in row.model


def test_freireich_medians_logrank_and_hazard_ratio() -> None:
    times = {f"T{i}": SurvivalTime(w, bool(e)) for i, (w, e) in
             enumerate(zip(SIX_MP, SIX_MP_EVENT, strict=True))}  # fmt: skip
    times |= {f"C{i}": SurvivalTime(w, True) for i, w in enumerate(PLACEBO)}
    groups = {pid: "6-MP" if pid[0] == "T" else "placebo" for pid in times}
    rows = kaplan_meier_rows("OS", "arm", times, groups, ("placebo", "6-MP"))
    by_group = {r.group: r for r in rows}
    assert by_group["6-MP"].median_days == 23 and by_group["placebo"].median_days == 8
    # Log-rank chi-square 16.79, p 4.17e-5 (R survdiff)
    assert by_group["6-MP"].p_value == pytest.approx(4.17e-5, rel=0.01)
    (cox,) = cox_rows("OS", "arm", times, groups, ("placebo", "6-MP"))
    # Cox (Efron): coef for placebo 1.572 => HR 6-MP vs placebo 0.208 (0.093-0.466)
    assert cox.hr == pytest.approx(math.exp(-1.572), rel=0.01)
    assert cox.hr_ci_low == pytest.approx(0.0925, rel=0.02)
    assert cox.hr_ci_high == pytest.approx(0.466, rel=0.02)


def _stanford() -> tuple[dict[str, SurvivalTime], dict[str, list[tuple[float, str]]], dict]:
    heart = load_stanford_heart_transplants()
    times, states, covariates = {}, {}, {}
    for pid, rows in heart.groupby("id"):
        rows = rows.sort_values("start")
        key = str(pid)
        last = rows.iloc[-1]
        times[key] = SurvivalTime(float(last["stop"]), bool(last["event"]))
        transplanted = rows[rows["transplant"] == 1]
        states[key] = [(0.0, "waiting")] + (
            [(float(transplanted.iloc[0]["start"]), "transplant")] if len(transplanted) else []
        )
        first = rows.iloc[0]
        covariates[key] = {n: repr(float(first[n])) for n in ("age", "year", "surgery")}
    return times, states, covariates


def test_time_dependent_cox_reproduces_stanford_heart_transplant() -> None:
    times, states, covariates = _stanford()
    (row,) = time_dependent_cox_rows(
        "OS", "transplant", times, states, ("waiting", "transplant"), covariates,
        ("age", "year", "surgery"),
    )  # fmt: skip
    # R: coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, data = heart):
    # transplant coef -0.0103 (exp 0.990), se 0.3138, p 0.974
    assert math.log(row.hr) == pytest.approx(-0.0103, abs=5e-4)
    assert row.p_value == pytest.approx(0.974, abs=1e-3)
    assert row.n == 103
    # lifelines run directly on the long table it ships
    heart = load_stanford_heart_transplants()
    direct = CoxTimeVaryingFitter().fit(
        heart, id_col="id", event_col="event", start_col="start", stop_col="stop"
    )
    assert row.hr == pytest.approx(direct.summary.loc["transplant", "exp(coef)"], rel=1e-6)
    univariable = CoxTimeVaryingFitter().fit(
        heart[["id", "start", "stop", "event", "transplant"]],
        id_col="id", event_col="event", start_col="start", stop_col="stop",
    )  # fmt: skip
    (alone,) = time_dependent_cox_rows("OS", "transplant", times, states, ("waiting", "transplant"))
    assert alone.hr == pytest.approx(univariable.summary.loc["transplant", "exp(coef)"], rel=1e-6)


def _null_cohort(size: int, seed: int) -> tuple[list[dict[str, Any]], dict[str, ClinicalRecord]]:
    """Scans every 56 days; a third become DR at their 3rd scan (day 168) if alive then;
    OS is exponential (median 300 days) whatever the category."""
    rng = random.Random(seed)
    base = dt.date(2024, 1, 1)
    patients, clinical = [], {}
    for i in range(size):
        pid = f"P{i:03d}"
        os_days = rng.expovariate(math.log(2) / 300.0)
        event = os_days < 900
        os_days = min(os_days, 900.0)
        becomes_dr = rng.random() < 0.35
        timepoints = [{"timepoint": 0, "date": base.isoformat(), "overall": "NA",
                       "irecist": "NA", "category": "NA"}]  # fmt: skip
        dr = False
        for k in range(1, 17):
            if 56 * k >= os_days:
                break
            dr = dr or (becomes_dr and k == 3)
            date = (base + dt.timedelta(days=56 * k)).isoformat()
            timepoints.append({"timepoint": k, "date": date,
                               "overall": "SD", "irecist": "iSD",
                               "category": "DR" if dr and k >= 3 else "true SD",
                               "dissociated": {"bernard_tessier": dr and k >= 3}})  # fmt: skip
        category = "DR" if dr else ("true SD" if len(timepoints) > 1 else "NE")
        patients.append({"patient_id": pid, "category": category, "pseudoprogression": False,
                         "progression_date": None, "best_overall_response": "SD",
                         "timepoints": timepoints})  # fmt: skip
        clinical[pid] = ClinicalRecord(pid, os=SurvivalTime(round(os_days, 1), event))
    return patients, clinical


def test_landmark_removes_the_immortal_time_bias_of_a_post_baseline_category() -> None:
    patients, clinical = _null_cohort(400, seed=3)
    options = Options(group_by="category", groups=("true SD", "DR"), landmark_days=180)
    (grouping,) = analyse(patients, clinical, options, {"min_sd_days": 42}).groupings
    cox = [r for r in grouping.rows if r.endpoint == "OS" and r.model.startswith("Cox")]
    from_origin = next(r for r in cox if r.landmark_days is None)
    landmark = next(r for r in cox if r.landmark_days == 180)
    time_dependent = next(r for r in grouping.rows if r.model.startswith("Cox time-dependent"))
    # From the origin, DR patients had to live to day 168: a spurious protective HR.
    assert from_origin.hr_ci_high < 1
    assert "known only after baseline" in from_origin.model
    # Survival does not depend on DR: the landmark and time-dependent CIs cover 1.
    assert landmark.hr_ci_low < 1 < landmark.hr_ci_high
    assert time_dependent.hr_ci_low < 1 < time_dependent.hr_ci_high
    assert any("immortal-time" in note for note in grouping.notes)


def test_holm_adjustment_hand_computed() -> None:
    # p sorted 0.01, 0.02, 0.04 -> 3 x 0.01, max(0.03, 2 x 0.02), max(0.04, 0.04)
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
